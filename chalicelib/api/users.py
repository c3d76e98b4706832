"""Users: registration."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api import responses
from chalicelib.api.routing import FORM, form, query_value, route
from chalicelib.auth import oidc
from chalicelib.errors import BadFormParameter, Unauthenticated
from chalicelib.serializers import users as user_json
from chalicelib.services import inbox, users

bp = Blueprint(__name__)


@route(bp, "/register", methods=["POST"], linkable=False,
       content_types=FORM)
def register():
    values = form(bp.current_request).get("access_token") or []
    if len(values) != 1 or not values[0]:
        raise BadFormParameter("access_token is required once")
    try:
        identity = oidc.verify_access_token(values[0])
    except Unauthenticated as error:
        raise BadFormParameter("access_token is not a valid token") from error
    profile = oidc.fetch_profile(identity)
    user = users.register(identity.sub, profile["email"], profile["name"],
                          email_verified=profile["email_verified"])
    return responses.json_body(user_json.user(user))


@route(bp, "/users", methods=["GET"])
def find_users(caller):
    request = bp.current_request
    found = users.lookup(caller, query_value(request, "reference"), query_value(request, "search"),
                         query_value(request, "album"))
    if not found:
        return responses.no_content()
    return responses.json_body(found)


@route(bp, "/inboxinfo", methods=["GET"])
def inbox_info(caller):
    return responses.json_body(inbox.inbox_info(caller))

"""Users: registration."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api import responses
from chalicelib.api.routing import form, route
from chalicelib.auth import oidc
from chalicelib.errors import BadFormParameter, Unauthenticated
from chalicelib.services import users

bp = Blueprint(__name__)


@route(bp, "/register", methods=["POST"], linkable=False,
       content_types=["application/x-www-form-urlencoded"])
def register():
    values = form(bp.current_request).get("access_token") or []
    if len(values) != 1 or not values[0]:
        raise BadFormParameter("access_token is required once")
    try:
        identity = oidc.verify_access_token(values[0])
    except Unauthenticated as error:
        raise BadFormParameter("access_token is not a valid token") from error
    profile = oidc.fetch_profile(identity)
    user = users.register(identity.sub, profile["email"], profile["name"])
    return responses.json_body(users.user_response(user))

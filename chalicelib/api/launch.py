"""Launching OHIF securely: `POST /viewer/launch` and the OpenID Connect `GET /authorize`; and the
report-provider launch `POST /report`.

Both launches are form POSTs that sign the browser in with the token in the form: a page of any
other site could post its own token and open the viewer in the victim's browser signed in as the
attacker (login CSRF). They are accepted only from the web app's origin (`OBELISK_WEB_URL`): the
`Origin` header, or when a browser sent none, `Sec-Fetch-Site: same-origin`. A request with
neither header is not a browser's, so it cannot carry a foreign token into anyone's session."""
from __future__ import annotations

from http.cookies import SimpleCookie
from urllib.parse import urlsplit

from chalice import Blueprint, Response

from chalicelib.api.routing import FORM, form, form_value, route
from chalicelib.auth import issued
from chalicelib.auth.authenticate import principal_for_token
from chalicelib.config import settings
from chalicelib.errors import BadFormParameter, Forbidden
from chalicelib.oauth import viewer_launch
from chalicelib.report_providers import launch as report_launch

bp = Blueprint(__name__)


def _cookie(value: str, max_age: int) -> str:
    secure = "; Secure" if settings().public_url.startswith("https://") else ""
    return f"{viewer_launch.COOKIE}={value}; Path=/api/authorize; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def require_web_app_origin(request) -> None:
    """Refuses (403) a launch a page of another origin submitted."""
    headers = request.headers
    sent = headers.get("origin")
    if sent is not None:
        allowed = sent.lower() == _origin(settings().web_url)
    else:
        allowed = headers.get("sec-fetch-site", "same-origin") == "same-origin"
    if not allowed:
        raise Forbidden("launches are accepted only from the Obelisk web app")


@route(bp, "/viewer/launch", methods=["POST"], linkable=False, content_types=FORM)
def launch_viewer():
    require_web_app_origin(bp.current_request)
    values = form(bp.current_request)
    token = form_value(values, "access_token")
    if not token:
        raise BadFormParameter("access_token is required")
    launched = viewer_launch.launch(principal_for_token(token), form_value(values, "studyUID"),
                                    form_value(values, "source_type"), form_value(values, "source_id"))
    return Response(body="", status_code=303, headers={
        "Location": launched.viewer_url, "Set-Cookie": _cookie(launched.ticket, viewer_launch.TICKET_SECONDS),
        "Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
    })


@route(bp, "/authorize", methods=["GET"], linkable=False)
def authorize():
    request = bp.current_request
    params = dict(request.query_params or {})
    jar = SimpleCookie(request.headers.get("cookie", ""))
    ticket = jar[viewer_launch.COOKIE].value if viewer_launch.COOKIE in jar else None
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "Set-Cookie": _cookie("", 0)}
    try:
        location = viewer_launch.authorize(params, ticket)
    except viewer_launch.AuthorizeError as error:
        if not error.redirectable:
            return Response(body={"error": error.error, "error_description": error.description}, status_code=400,
                            headers={**headers, "Content-Type": "application/json"})
        location = viewer_launch.error_redirect(params, error)
    return Response(body="", status_code=302, headers={**headers, "Location": location})


@route(bp, "/report", methods=["POST"], linkable=False, content_types=FORM)
def launch_report_provider():
    require_web_app_origin(bp.current_request)
    values = form(bp.current_request)
    token = form_value(values, "access_token")
    if not token:
        raise BadFormParameter("access_token is required")
    caller = principal_for_token(token)

    def mint(grant):
        return issued.mint_report_provider(grant.sub, grant.client_id, grant.album_id, grant.study_uids,
                                           grant.scope, grant.capability_id, grant.capability_key)

    url = report_launch.launch_url(caller, form_value(values, "client_id"), values.get("studyUID") or [], mint)
    return Response(body=report_launch.redirect_page(url), status_code=200, headers={
        "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
    })

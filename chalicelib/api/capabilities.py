"""Capability tokens (docs/kheops-compatibility.md §2.2)."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib import booleans
from chalicelib.api import responses
from chalicelib.api.routing import FORM, form_last_values, page, query_value, route
from chalicelib.serializers import capabilities as capability_json
from chalicelib.services import capabilities

bp = Blueprint(__name__)


def capability_form(values: dict[str, str]) -> capabilities.CapabilityForm:
    """`POST /capabilities` (one value per field, the last sent) as a CapabilityForm."""
    return capabilities.CapabilityForm(
        title=values.get("title"), scope_type=values.get("scope_type"), album=values.get("album"),
        permissions={n: values[n] for n in capabilities.PERMISSION_FIELDS if n in values},
        not_before_time=values.get("not_before_time"), expiration_time=values.get("expiration_time"))


@route(bp, "/capabilities", methods=["POST"], content_types=FORM)
def create_capability(caller):
    capability, secret = capabilities.create(caller, capability_form(form_last_values(bp.current_request)))
    return responses.json_body(capability_json.capability(capability, capabilities.album_names([capability]), secret), status=201)


@route(bp, "/capabilities", methods=["GET"])
def list_capabilities(caller):
    request = bp.current_request
    valid = booleans.parse(query_value(request, "valid"), "valid", False)
    shown_page = page(request)
    found = capabilities.list_capabilities(caller, valid, query_value(request, "album"),
                                           query_value(request, "user"))
    shown = found[shown_page.offset: shown_page.offset + shown_page.limit]
    names = capabilities.album_names(shown)
    return responses.json_body([capability_json.capability(c, names) for c in shown],
                               headers={"X-Total-Count": str(len(found))})


@route(bp, "/capabilities/{capability_id}", methods=["GET"])
def get_capability(caller, capability_id):
    capability = capabilities.get(caller, capability_id)
    return responses.json_body(capability_json.capability(capability, capabilities.album_names([capability])))


@route(bp, "/capabilities/{capability_id}/revoke", methods=["POST"])
def revoke_capability(caller, capability_id):
    capability = capabilities.revoke(caller, capability_id)
    return responses.json_body(capability_json.capability(capability, capabilities.album_names([capability])))

"""Report-provider registry per album, and the configuration test (docs/kheops-compatibility.md §11)."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api import responses
from chalicelib.api.routing import FORM, form, page, route
from chalicelib.auth import policy
from chalicelib.report_providers import registry as report_providers
from chalicelib.serializers import report_providers as provider_json

bp = Blueprint(__name__)


def _field(values: dict[str, list[str]], name: str) -> str | None:
    found = values.get(name)
    return found[0] if found else None


@route(bp, "/albums/{album}/reportproviders", methods=["POST"], content_types=FORM)
def create_report_provider(caller, album):
    values = form(bp.current_request)
    provider = report_providers.create(caller, album, _field(values, "name"), _field(values, "url"))
    return responses.json_body(provider_json.provider(provider), status=201)


@route(bp, "/albums/{album}/reportproviders", methods=["GET"])
def list_report_providers(caller, album):
    shown = page(bp.current_request)
    found = report_providers.list_providers(caller, album, shown.limit, shown.offset)
    return responses.json_body([provider_json.provider(p) for p in found.items],
                               headers={"X-Total-Count": str(found.total)})


@route(bp, "/albums/{album}/reportproviders/{client_id}", methods=["GET"])
def get_report_provider(caller, album, client_id):
    provider = report_providers.get(caller, album, client_id)
    return responses.json_body(provider_json.provider(provider))


@route(bp, "/albums/{album}/reportproviders/{client_id}", methods=["PATCH"], content_types=FORM)
def edit_report_provider(caller, album, client_id):
    values = form(bp.current_request)
    provider = report_providers.edit(caller, album, client_id, _field(values, "name"),
                                     _field(values, "url"))
    return responses.json_body(provider_json.provider(provider))


@route(bp, "/albums/{album}/reportproviders/{client_id}", methods=["DELETE"])
def delete_report_provider(caller, album, client_id):
    report_providers.delete(caller, album, client_id)
    return responses.no_content()


@route(bp, "/reportproviders/metadata", methods=["POST"], content_types=FORM)
def test_report_provider_configuration(caller):
    policy.require_provider_testing(caller)
    return responses.json_body(report_providers.test_configuration(_field(form(bp.current_request), "url")))

"""The report-provider registry of each album (docs/kheops-compatibility.md §11)."""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib import clock
from chalicelib.auth import policy
from chalicelib.auth.principals import Principal
from chalicelib.errors import BadFormParameter, NotFound
from chalicelib.events import mutations
from chalicelib.report_providers import provider_config
from chalicelib.store import albums
from chalicelib.store.items import get_or_none
from chalicelib.store.models import ReportProvider, ReportProviderClient, transact

CLIENT_ID_LENGTH = 22


class ReportProviderNotFound(NotFound):
    message = "Report Provider Not Found"


def _configuration(url: str) -> provider_config.ProviderConfiguration:
    try:
        return provider_config.fetch(url)
    except provider_config.InvalidConfiguration as error:
        raise BadFormParameter(f"url: {error}") from error


def _name(name: str | None) -> str:
    name = (name or "").strip()
    if not 1 <= len(name) <= 255:
        raise BadFormParameter("name is required (1 to 255 characters)")
    return name


def _save_with_event(items, event) -> None:
    with transact() as transaction:
        for item in items:
            transaction.save(item)
        transaction.save(event)
    mutations.publish(event)


def create(principal: Principal, album_id: str, name: str | None, url: str | None) -> ReportProvider:
    policy.require_album_permission(principal, album_id, policy.MANAGE_DICOM_SR)
    name = _name(name)
    if not url:
        raise BadFormParameter("url is required")
    _configuration(url)
    client_id = clock.random_id(CLIENT_ID_LENGTH)
    provider = ReportProvider(*ReportProvider.key(album_id, client_id), client_id=client_id, album_id=album_id,
                              name=name, url=url, created_time=clock.local_iso())
    pointer = ReportProviderClient(*ReportProviderClient.key(client_id), album_id=album_id)
    event = mutations.mutation_event(album_id, "CREATE_REPORT_PROVIDER", principal,
                                     details={"report_provider": {"client_id": client_id, "name": name}})
    _save_with_event([provider, pointer], event)
    return provider


def _get(album_id: str, client_id: str) -> ReportProvider:
    provider = get_or_none(ReportProvider, ReportProvider.key(album_id, client_id))
    if provider is None or provider.is_removed:
        raise ReportProviderNotFound("no such report provider in this album")
    return provider


def get(principal: Principal, album_id: str, client_id: str) -> ReportProvider:
    policy.require_album_permission(principal, album_id, policy.GET_DICOM_SR)
    return _get(album_id, client_id)


@dataclass
class ProviderPage:
    items: list[ReportProvider]
    total: int


def list_providers(principal: Principal, album_id: str, limit: int, offset: int) -> ProviderPage:
    policy.require_album_permission(principal, album_id, policy.GET_DICOM_SR)
    providers = [p for p in albums.report_providers(album_id) if not p.is_removed]
    providers.sort(key=lambda p: p.created_time)
    return ProviderPage(providers[offset: offset + limit], len(providers))


def edit(principal: Principal, album_id: str, client_id: str, name: str | None, url: str | None) -> ReportProvider:
    policy.require_album_permission(principal, album_id, policy.MANAGE_DICOM_SR)
    provider = _get(album_id, client_id)
    if name is not None:
        provider.name = _name(name)
    if url is not None:
        _configuration(url)
        provider.url = url
    event = mutations.mutation_event(album_id, "EDIT_REPORT_PROVIDER", principal,
                                     details={"report_provider": {"client_id": client_id, "name": provider.name}})
    _save_with_event([provider], event)
    return provider


def delete(principal: Principal, album_id: str, client_id: str) -> None:
    policy.require_album_permission(principal, album_id, policy.MANAGE_DICOM_SR)
    provider = _get(album_id, client_id)
    provider.is_removed = True
    event = mutations.mutation_event(album_id, "DELETE_REPORT_PROVIDER", principal,
                                     details={"report_provider": {"client_id": client_id, "name": provider.name}})
    _save_with_event([provider], event)


def by_client_id(client_id: str) -> ReportProvider | None:
    """The live provider registered under `client_id`, wherever it is: two reads."""
    pointer = get_or_none(ReportProviderClient, ReportProviderClient.key(client_id))
    provider = None if pointer is None else get_or_none(ReportProvider, ReportProvider.key(pointer.album_id, client_id))
    return None if provider is None or provider.is_removed else provider


def test_configuration(url: str | None) -> dict:
    """`POST /reportproviders/metadata`: the parsed document, or why it cannot be used."""
    if not url:
        raise BadFormParameter("url is required")
    try:
        return provider_config.fetch(url).metadata()
    except provider_config.InvalidConfiguration as error:
        return {"valid": False, "error_description": str(error)}

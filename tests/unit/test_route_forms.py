"""Routes parse their forms and queries into frozen dataclasses (services take typed values): a field
not sent stays unsent, so the service still tells "absent" from "empty" as before."""
from __future__ import annotations

import dataclasses

import pytest

from chalicelib.api import albums as album_routes
from chalicelib.api import capabilities as capability_routes
from chalicelib.services import albums, capabilities


def test_an_album_form_keeps_only_what_was_sent():
    found = album_routes.album_form({"name": "Cases", "addUser": "false", "notificationNewSeries": "true",
                                     "research": "true", "cleanDescriptors": "true", "unknown": "x"})
    assert found == albums.AlbumForm(name="Cases", flags={"addUser": "false"},
                                     notifications={"notificationNewSeries": "true"},
                                     research={"research": "true", "cleanDescriptors": "true"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.name = "other"


@pytest.mark.parametrize(("values", "admin_only"), [
    ({"notificationNewComment": "false"}, False),  # a member's own choice
    ({}, False),
    ({"name": ""}, True),  # an empty name is sent (and refused later), not absent
    ({"description": "d"}, True),
    ({"downloadSeries": "true"}, True),
])
def test_an_album_edit_changes_settings_when_it_sends_name_description_or_a_flag(values, admin_only):
    assert album_routes.album_form(values).changes_settings is admin_only


def test_the_album_list_query_names_kheops_parameters():
    found = album_routes.album_query({"canAddSeries": "true", "fuzzymatching": "1", "sort": "name",
                                      "modality": "ct"})
    assert found == albums.AlbumQuery(can_add_series="true", fuzzy_matching="1", sort="name", modality="ct")


def test_a_capability_form_keeps_only_what_was_sent():
    found = capability_routes.capability_form({"title": "t", "scope_type": "album", "album": "a1",
                                               "read_permission": "true", "expiration_time": "2027-01-01"})
    assert found == capabilities.CapabilityForm(title="t", scope_type="album", album="a1",
                                                permissions={"read_permission": "true"},
                                                expiration_time="2027-01-01")

"""A DELETE that purges a series racing with a STOW into the same series: either the STOW wins
(the series whole, readable, with every instance it answered as stored) or the delete wins
(nothing of the series left, the STOW's instance refused). The interleavings are driven in this
process (`devstack.in_process`): the STOW runs at a chosen point inside the purge
(docs/data-model.md, orphan series)."""
from __future__ import annotations

import boto3
import pytest
import requests
from pydicom.uid import generate_uid

from devstack.demo import multipart_body
from devstack.in_process import service_layer
from tests.integration.dicom_samples import load, part10, renewed


def alice(tokens) -> dict:
    return {"Authorization": f"Bearer {tokens('alice')}"}


def permanent_keys(stack, study: str) -> set[str]:
    """The study's permanent S3 objects (test-side inspection; `cache/` is derived)."""
    s3 = boto3.client("s3", endpoint_url=stack.emulator_url, region_name="us-east-1",
                      aws_access_key_id="local", aws_secret_access_key="local")
    keys = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=f"obelisk-{stack.stage}-dicom"):
        keys |= {o["Key"] for o in page.get("Contents", []) if study in o["Key"] and not o["Key"].startswith("cache/")}
    return keys


def _query_then_stow(monkeypatch, stow):
    """The STOW commits right after the purge has read the series' instance rows."""
    from chalicelib.store import orphans

    original = orphans.InstanceRecord.query

    def query(*args, **kwargs):
        found = list(original(*args, **kwargs))
        stow()
        return iter(found)
    monkeypatch.setattr(orphans.InstanceRecord, "query", query)


def _stow_before_instance_deletes(monkeypatch, stow):
    """The STOW commits right before the purge deletes the instance rows it read."""
    from chalicelib.store import orphans

    original = orphans.InstanceRecord.batch_write

    def batch_write(*args, **kwargs):
        stow()
        return original(*args, **kwargs)
    monkeypatch.setattr(orphans.InstanceRecord, "batch_write", batch_write)


@pytest.mark.parametrize("interleave", [_query_then_stow, _stow_before_instance_deletes])
def test_a_stow_racing_a_purging_delete_leaves_the_series_whole_or_gone(stack, tokens, monkeypatch, interleave):
    from chalicelib.auth.authenticate import authenticate
    from chalicelib.services import ingest, sharing

    api, headers = stack.api_url, alice(tokens)
    study, series = generate_uid(), generate_uid()
    first = renewed(load("CT_small.dcm"), study=study, series=series)
    body, content_type = multipart_body([part10(first)])
    assert requests.post(f"{api}/studies", data=body, headers={**headers, "Content-Type": content_type},
                         timeout=60).status_code == 200
    second = renewed(load("CT_small.dcm"), study=study, series=series)
    outcome = {}

    with service_layer(stack):
        caller = authenticate(headers)

        def stow():
            if outcome:
                return  # once
            monkeypatch.undo()
            body, content_type = multipart_body([part10(second)])
            outcome["result"] = ingest.store_body(caller, None, None, content_type, body)

        interleave(monkeypatch, stow)
        sharing.remove(caller, study, series)
        monkeypatch.undo()

    result = outcome["result"]
    stored = [s.sop_uid for s in result.stored]
    failed = [f.sop_uid for f in result.failed]
    assert stored + failed == [str(second.SOPInstanceUID)], "the STOW answered for its instance"
    series_url = f"{api}/studies/{study}/series/{series}"
    metadata = requests.get(f"{series_url}/metadata", headers=headers, timeout=60)
    instances = requests.get(f"{series_url}/instances", headers=headers, timeout=60)
    listed = requests.get(f"{api}/studies/{study}/series", headers=headers, timeout=60)
    assert metadata.status_code != 500 and instances.status_code != 500 and listed.status_code != 500
    if stored:  # the STOW won: its instance is in a whole, readable series
        assert metadata.status_code == 200, metadata.text
        sops = {item["00080018"]["Value"][0] for item in instances.json()}
        assert str(second.SOPInstanceUID) in sops
        assert {item["00080018"]["Value"][0] for item in metadata.json()} == sops
        assert listed.json()[0]["00201209"]["Value"] == [len(sops)]
    else:  # the delete won: nothing of the series is left
        assert instances.status_code in (204, 404) and listed.status_code in (204, 404)
        assert failed[0] and result.failed[0].reason == ingest.PROCESSING_FAILURE
        assert permanent_keys(stack, study) == set()


def test_a_stow_of_a_stored_instance_into_another_album_racing_its_purge_leaves_no_share_of_nothing(
        stack, tokens, monkeypatch):
    """The STOW (into an album not holding the series) found the instance stored, and the series
    is purged before the STOW puts it into its album: the instance is refused (0x0110) and no
    album holds a series that is gone."""
    from chalicelib.auth.authenticate import authenticate
    from chalicelib.services import ingest, sharing
    from chalicelib.store import shares

    api, headers = stack.api_url, alice(tokens)
    study, series = generate_uid(), generate_uid()
    data = part10(renewed(load("CT_small.dcm"), study=study, series=series))
    body, content_type = multipart_body([data])
    assert requests.post(f"{api}/studies", data=body, headers={**headers, "Content-Type": content_type},
                         timeout=60).status_code == 200
    album = requests.post(f"{api}/albums", headers=headers, data={"name": "late"}, timeout=10).json()["album_id"]

    with service_layer(stack):
        caller = authenticate(headers)
        original = shares.add_series

        def add_series(*args, **kwargs):
            monkeypatch.undo()
            sharing.remove(caller, study, series)  # from the inbox, the series' last album
            return original(*args, **kwargs)
        monkeypatch.setattr(shares, "add_series", add_series)
        result = ingest.store_body(caller, album, None, content_type, body)
        monkeypatch.undo()

    listed = requests.get(f"{api}/studies/{study}/series", headers=headers, params={"album": album}, timeout=60)
    metadata = requests.get(f"{api}/studies/{study}/series/{series}/metadata", headers=headers, timeout=60)
    assert (listed.status_code, metadata.status_code) in ((204, 404), (404, 404)), (listed.text[:200], metadata.text[:200])
    assert not result.stored and [f.reason for f in result.failed] == [ingest.PROCESSING_FAILURE]



def _stow_while_albums_change(stack, tokens, monkeypatch, shared_first: bool, change) -> tuple:
    """alice's albums A and D and a series of one instance stored into A (and put into D when
    `shared_first`); then a second instance STOWed into A, `change(caller, study, series, D)` run
    right after the STOW read which albums hold the series (before its commit). Returns the
    STOW's result, the study, the albums and alice's headers."""
    from chalicelib.auth.authenticate import authenticate
    from chalicelib.services import ingest

    api, headers = stack.api_url, alice(tokens)
    study, series = generate_uid(), generate_uid()
    albums = [requests.post(f"{api}/albums", headers=headers, data={"name": name}, timeout=10).json()["album_id"]
              for name in ("A", "D")]
    body, content_type = multipart_body([part10(renewed(load("CT_small.dcm"), study=study, series=series))])
    assert requests.post(f"{api}/studies", data=body, params={"album": albums[0]},
                         headers={**headers, "Content-Type": content_type}, timeout=60).status_code == 200
    if shared_first:
        assert requests.put(f"{api}/studies/{study}/series/{series}/albums/{albums[1]}", headers=headers,
                            timeout=60).status_code == 201
    body, content_type = multipart_body([part10(renewed(load("CT_small.dcm"), study=study, series=series))])
    with service_layer(stack):
        caller = authenticate(headers)
        original = ingest.Ingest._other_holders

        def other_holders(self, *args):
            holders = original(self, *args)
            monkeypatch.undo()
            change(caller, study, series, albums[1])
            return holders
        monkeypatch.setattr(ingest.Ingest, "_other_holders", other_holders)
        result = ingest.store_body(caller, albums[0], None, content_type, body)
        monkeypatch.undo()
    return result, study, albums, headers


def _instances_in(stack, headers: dict, album: str, study: str) -> int | None:
    found = requests.get(f"{stack.api_url}/studies", headers=headers,
                         params={"album": album, "StudyInstanceUID": study}, timeout=60)
    return None if found.status_code == 204 else found.json()[0]["00201208"]["Value"][0]


def test_a_stow_into_a_series_another_album_lets_go_meanwhile_is_stored(stack, tokens, monkeypatch):
    """A STOW into album A of a series album D also holds, D letting the series go right after the
    STOW read which albums hold it (so its commit grows D's row on the condition that D still
    holds the series, and is cancelled): the STOW reads the holders again and is stored, A counts
    both instances, D shows nothing of the study (round 16 of the outside checks: 409 with
    0x0110 for about half of the STOWs racing a removal)."""
    from chalicelib.services import sharing

    result, study, albums, headers = _stow_while_albums_change(stack, tokens, monkeypatch, True,
                                                               sharing.remove_from_album)
    assert len(result.stored) == 1 and not result.failed, result.failed
    assert [_instances_in(stack, headers, album, study) for album in albums] == [2, None]


def test_a_share_committed_while_a_stow_is_in_flight_leaves_the_albums_count_right(stack, tokens, monkeypatch):
    """A series shared into album D right after a STOW into album A read which albums hold it (so
    the STOW's commit does not grow D's row): D still answers every instance of the series (round
    16 of the outside checks: D counted 5 or 9 of 11 instances in 5 of 11 rounds, for good)."""
    from chalicelib.services import sharing

    result, study, albums, headers = _stow_while_albums_change(stack, tokens, monkeypatch, False,
                                                               sharing.add_series_to_album)
    assert len(result.stored) == 1 and not result.failed, result.failed
    assert [_instances_in(stack, headers, album, study) for album in albums] == [2, 2]

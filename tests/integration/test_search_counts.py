"""A study search answers each study's series, instances and modalities from the album's study
row (`AlbumStudy.instance_count`), not from the series records: the counts must follow every
write that changes them. Over HTTP: STOW into an album, more instances of a series another album
holds too (stored through either album), a series taken out of an album and put back; after
each, every album's answer counts exactly its own series. Rows written before the counts are
answered from the series records until the migration counts them."""
from __future__ import annotations

import functools

import pydicom
import pytest
from pydicom.uid import generate_uid

from devstack.in_process import service_layer
from tests.conftest import running_quiet_stack
from tests.integration.dicom_samples import sample_path
from tests.integration.test_webhooks import stow
from tests.support import api


@pytest.fixture
def people(stack, tokens):
    return api.signed_in(stack, tokens, names=("alice", "bob"))


def _instances(study: str, series: str, name: str, count: int, modality: str) -> list[pydicom.Dataset]:
    datasets = []
    for _ in range(count):
        ds = pydicom.dcmread(sample_path("CT_small.dcm"))
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.PatientName, ds.Modality = study, series, name, modality
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        datasets.append(ds)
    return datasets


def _counts(user: api.Api, album: str | None, name: str) -> tuple[int, int, list[str]] | None:
    """The one study a name-prefix search of the album (None: all the user's) answers: its
    series, instances, modalities."""
    response = user.get("/studies", params={"PatientName": f"{name[:8]}*", "limit": "101",
                                            **({"album": album} if album else {})})
    assert response.status_code in (200, 204), response.text
    if response.status_code == 204:
        return None
    [item] = response.json()
    return (int(item["00201206"]["Value"][0]), int(item["00201208"]["Value"][0]),
            item.get("00080061", {}).get("Value", []))


@pytest.fixture
def two_albums(stack, tokens, people):
    return _two_albums(stack, tokens, people)


def _two_albums(stack, tokens, people) -> dict:
    """alice's albums X and Y (bob a member of Y only); a study of series A (2 CT instances) and
    B (1 MR), stored into X; A put into Y too."""
    alice = people["alice"]
    x, y = (alice.post("/albums", data={"name": n}).json()["album_id"] for n in ("X", "Y"))
    assert alice.put(f"/albums/{y}/users/bob@example.org").status_code == 201
    study, a, b = generate_uid(), generate_uid(), generate_uid()
    name = f"Cnt{generate_uid()[-5:]}^Test"
    stow(stack, tokens("alice"), x, _instances(study, a, name, 2, "CT") + _instances(study, b, name, 1, "MR"))
    assert alice.put(f"/studies/{study}/series/{a}/albums/{y}", params={"album": x}).status_code == 201
    return {"x": x, "y": y, "study": study, "a": a, "b": b, "name": name}


def test_the_counts_follow_stow_sharing_and_removal_in_every_album(stack, tokens, people, two_albums):
    alice, bob = people["alice"], people["bob"]
    x, y, study, a, name = (two_albums[k] for k in ("x", "y", "study", "a", "name"))
    assert _counts(alice, x, name) == (2, 3, ["CT", "MR"])
    assert _counts(alice, y, name) == (1, 2, ["CT"])  # shared: its count as stored
    assert _counts(alice, None, name) == (2, 3, ["CT", "MR"])  # both albums: A counted once
    stow(stack, tokens("alice"), x, _instances(study, a, name, 3, "CT"))  # into X: Y holds A too
    assert _counts(alice, x, name) == (2, 6, ["CT", "MR"])
    assert _counts(alice, y, name) == (1, 5, ["CT"])
    stow(stack, tokens("alice"), y, _instances(study, a, name, 1, "CT"))  # into Y: X holds A too
    assert _counts(alice, x, name) == (2, 7, ["CT", "MR"])
    assert _counts(bob, y, name) == (1, 6, ["CT"])  # bob reads Y: nothing of B
    assert _counts(bob, None, name) == (1, 6, ["CT"])
    assert _counts(alice, None, name) == (2, 7, ["CT", "MR"])
    assert alice.delete(f"/studies/{study}/series/{a}/albums/{x}").status_code == 204
    assert _counts(alice, x, name) == (1, 1, ["MR"])
    assert _counts(alice, y, name) == (1, 6, ["CT"])
    assert alice.put(f"/studies/{study}/series/{a}/albums/{x}", params={"album": y}).status_code == 201
    assert _counts(alice, x, name) == (2, 7, ["CT", "MR"])
    assert alice.delete(f"/studies/{study}/series/{a}/albums/{y}").status_code == 204
    assert _counts(bob, y, name) is None


def test_rows_written_before_the_counts_are_answered_and_then_counted(stack, people, two_albums):
    alice = people["alice"]
    x, y, study, name = (two_albums[k] for k in ("x", "y", "study", "name"))
    with service_layer(stack):
        from chalicelib.store.models import AlbumStudy
        for album in (x, y):
            AlbumStudy(*AlbumStudy.key(album, study)).update(actions=[AlbumStudy.instance_count.remove(),
                                                                      AlbumStudy.counted.remove()])
    assert _counts(alice, x, name) == (2, 3, ["CT", "MR"])  # from the series records
    assert _counts(alice, y, name) == (1, 2, ["CT"])
    with service_layer(stack):
        from chalicelib.store import migrations
        assert migrations.count_study_rows() >= 2
        assert migrations.count_study_rows(dry_run=True) == 0
        rows = {album: AlbumStudy.get(*AlbumStudy.key(album, study), consistent_read=True) for album in (x, y)}
    assert {album: (r.counted, int(r.instance_count)) for album, r in rows.items()} == {x: (True, 3), y: (True, 2)}
    assert _counts(alice, x, name) == (2, 3, ["CT", "MR"])
    assert _counts(alice, y, name) == (1, 2, ["CT"])


def _requests(stack, user: api.Api, **params) -> tuple[int, list[dict]]:
    """alice's `GET /studies` with these parameters and the DynamoDB requests it cost."""
    calls = f"{stack.emulator_url}/_emulator/calls"
    user.session.delete(calls, timeout=60)
    response = user.get("/studies", params=params)
    counted = user.session.get(calls, timeout=60).json()
    assert response.status_code == 200, response.text
    return sum(n for op, n in counted.items() if op.startswith("dynamodb:")), response.json()


@pytest.fixture(scope="module")
def quiet_stack(tmp_path_factory):
    """A stack of its own, its event functions stopped: the requests counted are the API's alone
    (on the shared stack, a STOW's delayed renditions message is read meanwhile)."""
    yield from running_quiet_stack(tmp_path_factory, "search-counts")


def test_a_page_of_stowed_studies_reads_no_series_record(quiet_stack):
    """The study list and a name search of an album whose rows STOW wrote: the user, the
    memberships, the album's count, its page (or index) and, for the search, the page's rows; no
    series record (the rows count the instances): 4 and 5 requests, not 5 and 6."""
    stack = quiet_stack
    tokens = functools.cache(stack.token)
    people = api.signed_in(stack, tokens, names=("alice", "bob"))
    two_albums = _two_albums(stack, tokens, people)
    alice, x, name = people["alice"], two_albums["x"], two_albums["name"]
    listed, items = _requests(stack, alice, album=x, limit="101")
    assert listed == 4, listed
    assert {(item["00201206"]["Value"][0], item["00201208"]["Value"][0]) for item in items
            if item["00100010"]["Value"][0]["Alphabetic"] == name} == {(2, 3)}
    searched, items = _requests(stack, alice, album=x, PatientName=f"{name[:8]}*", limit="101")
    assert searched == 5, searched
    assert [(item["00201206"]["Value"][0], item["00201208"]["Value"][0]) for item in items] == [(2, 3)]

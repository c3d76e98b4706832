"""The study list's cost grows with the page asked for, not with the studies the caller can see:
DynamoDB requests for a page of an album of 100 studies and of 3,000, counted at the emulator.
The albums' index rows are written straight into the emulator's tables (3,000 studies over STOW
would take many minutes); the requests under test are real HTTP."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
import requests
from pydicom.uid import generate_uid

from devstack.in_process import service_layer
from devstack.stack import LocalStack

SIZES = (100, 3000)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A stack of its own: 9,000 index rows would slow every later test on the shared emulator."""
    local = LocalStack(tmp_path_factory.mktemp("big-album"), emulator_port=0, api_port=0, persist=False)
    try:
        yield local.start()
    finally:
        local.stop()


@pytest.fixture(scope="module")
def tokens(stack):
    cache: dict[str, str] = {}

    def token(user: str) -> str:
        return cache.setdefault(user, stack.token(user))

    return token


def _album_of(stack, tokens, name: str, count: int) -> tuple[str, list[str]]:
    """An album of `count` one-series studies with distinct dates; their StudyDates, newest first."""
    api, alice = stack.api_url, {"Authorization": f"Bearer {tokens('alice')}"}
    album = requests.post(f"{api}/albums", headers=alice, data={"name": name}, timeout=10).json()["album_id"]
    dates = []
    with service_layer(stack):
        from chalicelib.dicom import qido
        from chalicelib.store.models import AlbumStudy, AlbumStudyCount, SeriesRecord, SeriesShare, StudyRecord
        with StudyRecord.batch_write() as studies, SeriesRecord.batch_write() as series, \
                SeriesShare.batch_write() as album_rows, AlbumStudy.batch_write() as listed:
            for n in range(count):
                study, serie = generate_uid(), generate_uid()
                day = date(2000, 1, 1) + timedelta(days=(n * 7919) % 9000)  # distinct, not in insertion order
                attributes = {"0020000D": {"vr": "UI", "Value": [study]},
                              "00080020": {"vr": "DA", "Value": [day.strftime("%Y%m%d")]},
                              "00080030": {"vr": "TM", "Value": ["101500"]},
                              "00100010": {"vr": "PN", "Value": [{"Alphabetic": f"Patient^{n}"}]}}
                dates.append(day.strftime("%Y%m%d"))
                studies.save(StudyRecord(*StudyRecord.key(study), study_uid=study, created_at="2026-01-01",
                                         attributes=attributes))
                series.save(SeriesRecord(*SeriesRecord.key(study, serie), study_uid=study, series_uid=serie,
                                         instance_count=1, attributes={"00080060": {"vr": "CS", "Value": ["CT"]}}))
                album_rows.save(SeriesShare(*SeriesShare.key(album, study, serie), album_id=album, study_uid=study,
                                            series_uid=serie, series_album=f"{serie}#{album}", added_at="2026-01-01"))
                listed.save(AlbumStudy(*AlbumStudy.key(album, study), album_id=album, study_uid=study,
                                       listing=f"{qido.listing_key(attributes)}#{study}", series_uids={serie}))
        AlbumStudyCount(*AlbumStudyCount.key(album), studies=count, changes=count).save()
    return album, sorted(dates, reverse=True)


@pytest.fixture(scope="module")
def albums(stack, tokens):
    return {size: _album_of(stack, tokens, f"{size} studies", size) for size in SIZES}


def dynamodb_requests_for(stack, tokens, album: str | None, **params) -> tuple[int, requests.Response]:
    """alice's study list of one album (None: of all her albums), and its DynamoDB requests."""
    calls = f"{stack.emulator_url}/_emulator/calls"
    requests.delete(calls, timeout=5)
    response = requests.get(f"{stack.api_url}/studies", params={"album": album, **params} if album else params,
                            headers={"Authorization": f"Bearer {tokens('alice')}"}, timeout=120)
    counted = requests.get(calls, timeout=5).json()
    assert not any(op.endswith(":Scan") for op in counted), counted
    return sum(n for op, n in counted.items() if op.startswith("dynamodb:")), response


def _dates(response) -> list[str]:
    return [item["00080020"]["Value"][0] for item in response.json()]


def test_a_study_list_page_costs_the_same_whatever_the_album_size(stack, tokens, albums):
    costs = {}
    for size, (album, dates) in albums.items():
        costs[size], response = dynamodb_requests_for(stack, tokens, album, limit=25, offset=10)
        assert response.status_code == 200
        assert response.headers["X-Total-Count"] == str(size)
        assert _dates(response) == dates[10:35], "the page is the newest-first order's 11th to 35th study"
    print(f"DynamoDB requests for a 25-study page, by album size: {costs}")
    small, large = costs[min(SIZES)], costs[max(SIZES)]
    assert small <= 8, costs
    assert large == small, costs


def test_the_page_size_sets_the_cost(stack, tokens, albums):
    album, _ = albums[max(SIZES)]
    small, _ = dynamodb_requests_for(stack, tokens, album, limit=10)
    large, response = dynamodb_requests_for(stack, tokens, album, limit=500)
    assert len(response.json()) == 500
    # 500 studies: 5 batches of study rows and 5 of series rows instead of 1 and 1.
    print(f"DynamoDB requests for a page of 10 and of 500: {small}, {large}")
    assert small < large <= small + 10, (small, large)


def test_matching_keys_still_search_every_visible_study(stack, tokens, albums):
    album, _ = albums[min(SIZES)]
    _, response = dynamodb_requests_for(stack, tokens, album, PatientName="Patient^7*")
    names = sorted(item["00100010"]["Value"][0]["Alphabetic"] for item in response.json())
    assert names == sorted(f"Patient^{n}" for n in range(min(SIZES)) if str(n).startswith("7"))


def _study_uids(response) -> list[str]:
    return [item["0020000D"]["Value"][0] for item in response.json()]


def test_the_list_of_all_albums_merges_them_newest_first_and_counts_each_study_once(stack, tokens, albums):
    """alice's list without `album`: both albums together. Three studies of the big album are also
    put into the small one: they are listed once, with their series, and counted once."""
    alice = {"Authorization": f"Bearer {tokens('alice')}"}
    (small, _), (big, _) = albums[min(SIZES)], albums[max(SIZES)]
    _, big_page = dynamodb_requests_for(stack, tokens, big, limit=3)
    for study in _study_uids(big_page):
        response = requests.put(f"{stack.api_url}/studies/{study}/albums/{small}", params={"album": big},
                                headers=alice, timeout=30)
        assert response.status_code == 201
    distinct = sum(SIZES)
    first_cost, response = dynamodb_requests_for(stack, tokens, None, limit=25, offset=0)
    assert response.headers["X-Total-Count"] == str(distinct)
    _, small_all = dynamodb_requests_for(stack, tokens, small, limit=500)
    _, big_top = dynamodb_requests_for(stack, tokens, big, limit=25)
    dates = {uid: date for page in (small_all, big_top) for uid, date in zip(_study_uids(page), _dates(page), strict=True)}
    assert _study_uids(response) == sorted(dates, key=lambda uid: (dates[uid], uid), reverse=True)[:25]
    assert set(_study_uids(big_page)) <= set(_study_uids(response))

    again, response = dynamodb_requests_for(stack, tokens, None, limit=25, offset=0)
    assert response.headers["X-Total-Count"] == str(distinct)
    # Counted again only when an album changed: the repeat reads the two albums' pages and counts.
    single, _ = dynamodb_requests_for(stack, tokens, small, limit=25)
    print(f"DynamoDB requests, both albums: {first_cost} when counted, {again} after; one album: {single}")
    assert again <= single + 3, (again, single, first_cost)


def test_the_count_follows_studies_leaving_an_album(stack, tokens, albums):
    alice = {"Authorization": f"Bearer {tokens('alice')}"}
    small, _ = albums[min(SIZES)]
    _, before = dynamodb_requests_for(stack, tokens, None, limit=1)
    total = int(before.headers["X-Total-Count"])
    _, small_page = dynamodb_requests_for(stack, tokens, small, limit=200)
    held_by_small_only = [s for s in _study_uids(small_page)]
    _, big_page = dynamodb_requests_for(stack, tokens, albums[max(SIZES)][0], limit=3)
    also_in_big = set(_study_uids(big_page))
    only_small = next(s for s in held_by_small_only if s not in also_in_big)
    shared = next(s for s in held_by_small_only if s in also_in_big)
    for study in (only_small, shared):
        assert requests.delete(f"{stack.api_url}/studies/{study}/albums/{small}", headers=alice,
                               timeout=30).status_code == 204
    _, after = dynamodb_requests_for(stack, tokens, None, limit=1)
    assert int(after.headers["X-Total-Count"]) == total - 1, "the study still in the big album stays counted"
    _, small_after = dynamodb_requests_for(stack, tokens, small, limit=1)
    assert int(small_after.headers["X-Total-Count"]) == int(small_page.headers["X-Total-Count"]) - 2

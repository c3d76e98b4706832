"""The album list's cost follows the page, not the albums a user belongs to: `GET /albums?limit=5`
of a user with 30 albums costs the DynamoDB requests of one with 6, for the default order and for
every sort and filter KHEOPS clients send that the albums' own items answer (name, dates, study
count, favorites, permissions); the answers are the page of the whole sorted list, each complete.
Sorting on member or comment counts and the modality filter read one count per album, not every
album's whole answer. Requests are counted at the emulator, with the event functions stopped so
that only the API's requests are counted."""
from __future__ import annotations

import pytest

from tests.conftest import running_quiet_stack
from tests.integration.dicom_samples import load, part10
from tests.support import api

MANY, FEW = 30, 6
SORTS = ("created_time", "last_event_time", "name", "number_of_users", "number_of_studies", "number_of_comments")
PER_ALBUM_SORTS = ("number_of_users", "number_of_comments")  # one count request per album


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A stack of its own, its event functions stopped: the calls counted are the API's alone."""
    yield from running_quiet_stack(tmp_path_factory, "album-pages")


@pytest.fixture(scope="module")
def people(stack):
    return api.signed_in(stack, lambda user: stack.token(user))


@pytest.fixture(scope="module")
def albums(people):
    """alice belongs to 30 albums of hers (half of them favorites, half of them boards) and 3 of
    bob's, bob to 6. bob's differ in every sorted field: names out of creation order, alice added
    to some, comments in some, a CT study in some; all are his favorites."""
    alice, bob = people["alice"], people["bob"]
    for n in range(MANY):
        created = alice.post("/albums", data={"name": f"{('album', 'board')[n % 2]} {(n * 7) % MANY:02d}"})
        assert created.status_code == 201
        if n % 2:
            assert alice.put(f"/albums/{created.json()['album_id']}/favorites").status_code == 204
    ct = load("CT_small.dcm")
    stored = bob.post("/studies", data=part10(ct), headers={"Content-Type": "application/dicom"})
    assert stored.status_code == 200, stored.text
    ids = []
    for n in range(FEW):
        created = bob.post("/albums", data={"name": f"{'zyxwvu'[n]} board", "addSeries": "false"})
        assert created.status_code == 201
        album = created.json()["album_id"]
        ids.append(album)
        if n % 2:
            assert bob.put(f"/albums/{album}/users/alice@example.org").status_code == 201
        for _ in range(n % 3):
            assert bob.post(f"/albums/{album}/comments", data={"comment": "seen"}).status_code == 204
        if n in (1, 4):
            shared = bob.put(f"/studies/{ct.StudyInstanceUID}/albums/{album}", params={"inbox": "true"})
            assert shared.status_code == 201, shared.text
        assert bob.put(f"/albums/{album}/favorites").status_code == 204
    return {"alice": MANY + FEW // 2, "bob": FEW}


def _listed(stack, user: api.Api, **params) -> tuple[int, object]:
    """`GET /albums` with these parameters, and the DynamoDB requests it cost."""
    calls = f"{stack.emulator_url}/_emulator/calls"
    user.session.delete(calls, timeout=5)
    response = user.get("/albums", params=params)
    counted = user.session.get(calls, timeout=5).json()
    assert response.status_code == 200, response.text
    assert not any(op.endswith(":Scan") for op in counted), counted
    return sum(n for op, n in counted.items() if op.startswith("dynamodb:")), response


def _assert_sorted(rows: list[dict], sort: str) -> None:
    field = sort.lstrip("-")
    assert rows == sorted(rows, key=lambda r: (r[field], r["album_id"]), reverse=sort.startswith("-")), \
        [(r[field], r["album_id"]) for r in rows]


def _costs(stack, people, albums, **params) -> dict[str, int]:
    """The cost of a page of 5 for alice (many albums) and bob (few), checking the page is the
    5 first of the whole sorted list, with its total."""
    costs = {}
    for name in ("alice", "bob"):
        user = people[name]
        _, whole = _listed(stack, user, **params)
        costs[name], page = _listed(stack, user, limit=5, offset=1, **params)
        assert page.json() == whole.json()[1:6]
        assert page.headers["X-Total-Count"] == whole.headers["X-Total-Count"] == str(len(whole.json()))
        _assert_sorted(whole.json(), params.get("sort", "-created_time"))
    return costs


def test_a_page_of_albums_costs_the_same_however_many_albums(stack, people, albums):
    costs = _costs(stack, people, albums)
    assert [int(_listed(stack, people[n])[1].headers["X-Total-Count"]) for n in ("alice", "bob")] \
        == [albums["alice"], albums["bob"]]
    print(f"DynamoDB requests for 5 albums of {albums['alice']} and of {albums['bob']}: {costs}")
    assert abs(costs["alice"] - costs["bob"]) <= 1, costs


@pytest.mark.parametrize("sort", [s for s in SORTS if s not in PER_ALBUM_SORTS] + ["-name", "-number_of_studies"])
def test_each_sort_on_the_albums_items_costs_the_same_however_many_albums(stack, people, albums, sort):
    costs = _costs(stack, people, albums, sort=sort)
    print(f"DynamoDB requests for 5 albums sorted by {sort}: {costs}")
    assert abs(costs["alice"] - costs["bob"]) <= 1, costs


@pytest.mark.parametrize("params", [{"favorite": "true"}, {"canAddSeries": "true"}, {"name": "*board*"},
                                    {"canCreateCapabilityToken": "true", "sort": "name"}])
def test_filters_on_the_albums_items_cost_the_same_however_many_albums(stack, people, albums, params):
    costs = _costs(stack, people, albums, **params)
    print(f"DynamoDB requests for 5 albums with {params}: {costs}")
    assert abs(costs["alice"] - costs["bob"]) <= 1, costs


@pytest.mark.parametrize("sort", ["number_of_users", "-number_of_comments"])
def test_sorts_on_member_and_comment_counts_read_one_count_per_album(stack, people, albums, sort):
    costs = _costs(stack, people, albums, sort=sort)
    print(f"DynamoDB requests for 5 albums sorted by {sort}: {costs}")
    extra = albums["alice"] - albums["bob"]
    assert costs["alice"] <= costs["bob"] + extra + 1, costs


def test_the_modality_filter_lists_the_albums_holding_it_for_one_request_per_album(stack, people, albums):
    bob = people["bob"]
    _, every = _listed(stack, bob)
    with_ct = [a["album_id"] for a in every.json() if a["modalities"] == ["CT"]]
    assert len(with_ct) == 2
    cost, response = _listed(stack, bob, modality="ct")
    assert [a["album_id"] for a in response.json()] == with_ct
    assert response.headers["X-Total-Count"] == "2"
    _, none = _listed(stack, bob, modality="MR")
    assert none.json() == [] and none.headers["X-Total-Count"] == "0"
    costs = _costs(stack, people, albums, modality="CT")
    print(f"DynamoDB requests for the CT albums: {costs}")
    assert costs["alice"] <= costs["bob"] + albums["alice"] - albums["bob"] + 1, costs

"""Many parallel share/unshare and membership calls end in the state a sequential replay gives."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests
from pydicom.uid import generate_uid

from devstack.demo import multipart_body
from tests.integration.dicom_samples import load, part10, renewed

SERIES = 24


def test_parallel_sharing_and_membership_match_a_sequential_replay(stack, tokens):
    api, alice = stack.api_url, {"Authorization": f"Bearer {tokens('alice')}"}
    for user in ("bob", "carol"):
        requests.get(f"{api}/inboxinfo", headers={"Authorization": f"Bearer {tokens(user)}"}, timeout=10)
    study = generate_uid()
    datasets = [renewed(load("CT_small.dcm"), study=study) for _ in range(SERIES)]
    body, content_type = multipart_body([part10(ds) for ds in datasets])
    assert requests.post(f"{api}/studies", data=body, headers={**alice, "Content-Type": content_type},
                         timeout=120).status_code == 200
    album = requests.post(f"{api}/albums", headers=alice, data={"name": "busy"}, timeout=10).json()["album_id"]
    series = [str(ds.SeriesInstanceUID) for ds in datasets]

    def add(uid):
        return requests.put(f"{api}/studies/{study}/series/{uid}/albums/{album}", headers=alice, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(add, series)) == {201}

    def remove(uid):
        return requests.delete(f"{api}/studies/{study}/series/{uid}/albums/{album}", headers=alice, timeout=30).status_code

    def member(call):
        method, user = call
        return requests.request(method, f"{api}/albums/{album}/users/{user}@example.org", headers=alice,
                                timeout=30).status_code

    removed = series[1::2]
    membership_calls = [("PUT", "bob"), ("PUT", "carol")] * 4
    with ThreadPoolExecutor(max_workers=8) as pool:
        removals = pool.map(remove, removed)
        additions = pool.map(member, membership_calls)
        assert set(removals) == {204}
        assert set(additions) == {201}
    assert requests.delete(f"{api}/albums/{album}/users/bob@example.org", headers=alice, timeout=10).status_code == 204

    listed = requests.get(f"{api}/studies/{study}/series", params={"album": album}, headers=alice, timeout=30).json()
    assert sorted(s["0020000E"]["Value"][0] for s in listed) == sorted(series[0::2])
    described = requests.get(f"{api}/albums/{album}", headers=alice, timeout=10).json()
    assert described["number_of_series"] == SERIES // 2
    assert described["number_of_users"] == 2
    events = requests.get(f"{api}/albums/{album}/events", params={"types": "mutations"}, headers=alice,
                          timeout=10).json()
    kinds = [e["mutation_type"] for e in events]
    assert kinds.count("IMPORT_SERIES") == SERIES
    assert kinds.count("REMOVE_SERIES") == SERIES // 2
    assert kinds.count("ADD_USER") == 2  # repeated adds of a member change nothing

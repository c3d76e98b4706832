"""Study searches cost what their matches cost, not what the album holds: each search OHIF and
KHEOPS clients send (a patient-name prefix, OHIF's `*name*` with fuzzy matching, a patient ID, an
accession number, a StudyDate range, a modality) costs the same DynamoDB requests in an album of
100 studies and in one of 3,000, and answers exactly the studies that match. The albums' rows
are written through the store layer (3,000 studies over STOW would take many minutes); the
searches are real HTTP, their requests counted at the emulator."""
from __future__ import annotations

import functools
from datetime import date, timedelta

import pytest
import requests
from pydicom.uid import generate_uid

from devstack.in_process import service_layer
from devstack.stack import LocalStack
from tests.support.round_trips import rounds, timed

SIZES = (100, 3000)
LAST = ("Martin", "Dubois", "Peeters", "Jansen", "Muller", "Rossi", "Novak", "Garcia", "Smith", "Larsen")
FIRST = ("Anna", "Ben", "Clara", "David", "Eva", "Felix", "Greta", "Hugo", "Ines", "Jonas")


def _study(n: int) -> dict:
    """The n-th study of a population: what it holds and what searches should find it by."""
    day = date(2000, 1, 1) + timedelta(days=(n * 7919) % 9000)
    return {"name": f"{LAST[n % 10]}^{FIRST[(n // 10) % 10]}", "patient_id": f"PAT{n:07d}",
            "accession": f"ACC{n:07d}", "date": day.strftime("%Y%m%d"), "modality": "MR" if n % 10 == 3 else "CT"}


def _attributes(uid: str, study: dict) -> dict:
    """The study attributes as STOW would copy them into the album's row (all of
    `json_model.PATIENT_STUDY_KEYWORDS` a CT scanner writes: the rows' real size)."""
    return {"00080005": {"vr": "CS", "Value": ["ISO_IR 100"]}, "00080020": {"vr": "DA", "Value": [study["date"]]},
            "00080030": {"vr": "TM", "Value": ["101500"]}, "00080050": {"vr": "SH", "Value": [study["accession"]]},
            "00080090": {"vr": "PN", "Value": [{"Alphabetic": "Referring^Doctor"}]},
            "00100010": {"vr": "PN", "Value": [{"Alphabetic": study["name"]}]},
            "00100020": {"vr": "LO", "Value": [study["patient_id"]]}, "00100030": {"vr": "DA", "Value": ["19600101"]},
            "00100040": {"vr": "CS", "Value": ["F"]}, "0020000D": {"vr": "UI", "Value": [uid]},
            "00200010": {"vr": "SH", "Value": ["4242"]}, "00081030": {"vr": "LO", "Value": ["CT THORAX ABDOMEN"]},
            "00101010": {"vr": "AS", "Value": ["064Y"]}}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A stack of its own: thousands of index rows would slow every later test on the shared emulator."""
    local = LocalStack(tmp_path_factory.mktemp("search-cost"), emulator_port=0, api_port=0, persist=False)
    try:
        yield local.start()
    finally:
        local.stop()


@pytest.fixture(scope="module")
def token(stack):
    return stack.token("alice")


def _album_of(stack, token: str, count: int, indexed: bool = True) -> str:
    """An album of `count` one-series studies (`_study`), written as `store.listing.add` writes
    them (`indexed`: with their search keys and term rows) or as before the search indexes."""
    album = requests.post(f"{stack.api_url}/albums", headers={"Authorization": f"Bearer {token}"},
                          data={"name": f"{count} studies"}, timeout=60).json()["album_id"]
    with service_layer(stack):
        from chalicelib.dicom import qido
        from chalicelib.store import study_index
        from chalicelib.store.models import (
            AlbumStudy,
            AlbumStudyCount,
            AlbumStudyModality,
            AlbumStudyTerm,
            SeriesRecord,
            SeriesShare,
        )
        with SeriesRecord.batch_write() as series_rows, SeriesShare.batch_write() as shares, \
                AlbumStudy.batch_write() as listed, AlbumStudyModality.batch_write() as modalities, \
                AlbumStudyTerm.batch_write() as terms:
            for n in range(count):
                study, uid, series = _study(n), generate_uid(), generate_uid()
                attributes = _attributes(uid, study)
                order = f"{qido.listing_key(attributes)}#{uid}"
                series_rows.save(SeriesRecord(*SeriesRecord.key(uid, series), study_uid=uid, series_uid=series,
                                              instance_count=1,
                                              attributes={"00080060": {"vr": "CS", "Value": [study["modality"]]}}))
                shares.save(SeriesShare(*SeriesShare.key(album, uid, series), album_id=album, study_uid=uid,
                                        series_uid=series, series_album=f"{series}#{album}", added_at="2026-01-01"))
                keys = study_index.keys_of(attributes) if indexed else {}
                listed.save(AlbumStudy(*AlbumStudy.key(album, uid), album_id=album, study_uid=uid, listing=order,
                                       series_uids={series}, study_attributes=attributes, attributes_from=series,
                                       series_modalities={f"{series}={study['modality']}"},
                                       indexed=True if indexed else None, termed=True if indexed else None,
                                       instance_count=1 if indexed else None, counted=True if indexed else None, **keys))
                if indexed:
                    modalities.save(AlbumStudyModality(*AlbumStudyModality.key(album, study["modality"], uid),
                                                       study_uid=uid, listing=order))
                    for term in study_index.term_rows(album, uid, order, attributes):
                        terms.save(term)
        AlbumStudyCount(*AlbumStudyCount.key(album), studies=count, changes=count,
                        indexed=count if indexed else None, termed=count if indexed else None).save()
    return album


@pytest.fixture(scope="module")
def albums(stack, token):
    return {size: _album_of(stack, token, size) for size in SIZES}


def search(stack, token: str, album: str, **params) -> tuple[int, requests.Response]:
    """alice's study list of the album with these criteria, and its DynamoDB requests."""
    calls = f"{stack.emulator_url}/_emulator/calls"
    requests.delete(calls, timeout=60)
    response = requests.get(f"{stack.api_url}/studies", params={"album": album, "limit": "25", **params},
                            headers={"Authorization": f"Bearer {token}"}, timeout=120)
    counted = requests.get(calls, timeout=60).json()
    assert not any(op.endswith(":Scan") for op in counted), counted
    return sum(n for op, n in counted.items() if op.startswith("dynamodb:")), response


def found_in(stack, token: str, album: str, **params) -> list[str]:
    """The studies alice's search of the album answers, in order."""
    _, response = search(stack, token, album, **params)
    return [] if response.status_code == 204 else [item["0020000D"]["Value"][0] for item in response.json()]


SEARCHES = {  # what each client sends -> which of the population's studies it finds
    "patient-name prefix": ({"PatientName": "Rossi*"}, lambda s: s["name"].startswith("Rossi")),
    "OHIF's name search (fuzzy)": ({"PatientName": "*ross*", "fuzzymatching": "true"},
                                   lambda s: "ross" in s["name"].lower()),
    "name inside (*ross*)": ({"PatientName": "*ross*"}, lambda s: "ross" in s["name"].lower()),
    "KHEOPS fuzzy name (ross)": ({"PatientName": "ross", "fuzzymatching": "true"},
                                 lambda s: s["name"].lower().startswith("ross")),
    "patient ID inside (*00042*)": ({"PatientID": "*00042*"}, lambda s: "00042" in s["patient_id"]),
    "patient ID": ({"PatientID": "PAT0000042"}, lambda s: s["patient_id"] == "PAT0000042"),
    "OHIF's accession search": ({"AccessionNumber": "*0000042*"}, lambda s: "0000042" in s["accession"]),
    "StudyDate range": ({"StudyDate": "20100101-20101231"}, lambda s: "20100101" <= s["date"] <= "20101231"),
    "modality": ({"ModalitiesInStudy": "MR"}, lambda s: s["modality"] == "MR"),
    "name and modality": ({"PatientName": "Jansen*", "ModalitiesInStudy": "MR"},
                          lambda s: s["name"].startswith("Jansen") and s["modality"] == "MR"),
    "name and description": ({"PatientName": "Rossi^A*", "StudyDescription": "CT THORAX*"},
                             lambda s: s["name"] == "Rossi^Anna"),
}


def _expected(size: int, matches) -> list[tuple[str, str]]:
    """(StudyDate, PatientID) of the studies that match, newest first."""
    found = [_study(n) for n in range(size) if matches(_study(n))]
    return sorted(((s["date"], s["patient_id"]) for s in found), reverse=True)


def _answered(response) -> list[tuple[str, str]]:
    if response.status_code == 204:
        return []
    return [(item["00080020"]["Value"][0], item["00100020"]["Value"][0]) for item in response.json()]


def test_the_migration_indexes_rows_written_before_the_indexes(stack, token):
    """An album of rows without search keys answers from its rows (every row read) until
    `index_study_rows` has run, then from the keys indexes, and from its term rows once
    `term_study_rows` has run, with the same answers. (Before the large albums are written: the
    migrations Scan the table, which the emulator does item by item.)"""
    album = _album_of(stack, token, 40, indexed=False)
    params, matches = SEARCHES["name and modality"]
    _, before = search(stack, token, album, **params)
    assert _answered(before) == _expected(40, matches)
    with service_layer(stack):
        from chalicelib.store.migrations import index_study_rows, term_study_rows
        from chalicelib.store.models import AlbumStudyCount

        assert index_study_rows() == 40
        assert index_study_rows() == 0
        assert int(AlbumStudyCount.get(*AlbumStudyCount.key(album)).indexed) == 40
    for params, matches in SEARCHES.values():  # by the keys indexes: no term rows yet
        _, after = search(stack, token, album, **params)
        assert _answered(after) == _expected(40, matches)[:25], params
    with service_layer(stack):
        assert term_study_rows() == 40
        assert term_study_rows() == 0
        assert int(AlbumStudyCount.get(*AlbumStudyCount.key(album)).termed) == 40
    for params, matches in SEARCHES.values():
        _, after = search(stack, token, album, **params)
        assert _answered(after) == _expected(40, matches)[:25], params


@pytest.mark.parametrize("name", SEARCHES)
def test_a_search_costs_the_same_in_an_album_of_100_and_of_3000_studies(stack, token, albums, name):
    params, matches = SEARCHES[name]
    costs = {}
    for size, album in albums.items():
        costs[size], response = search(stack, token, album, **params)
        expected = _expected(size, matches)
        assert response.status_code == (200 if expected else 204), response.text
        assert _answered(response) == expected[:25], "the matches, newest first"
        if expected:
            assert response.headers["X-Total-Count"] == str(len(expected))
    print(f"DynamoDB requests for a {name} search, by album size: {costs}")
    assert costs[3000] == costs[100], costs



WILDCARDS = {  # criterion (tag, value, fuzzy) -> which of the population's studies match it
    "*ross*": (("00100010", "*ross*", False), lambda s: "ross" in s["name"].lower()),
    "fuzzy ross": (("00100010", "ross", True), lambda s: s["name"].lower().startswith("ross")),
    "fuzzy *ross*": (("00100010", "*ross*", True), lambda s: "ross" in s["name"].lower()),
    "accession *0000042*": (("00080050", "*0000042*", False), lambda s: "0000042" in s["accession"]),
    "accession *000004?*": (("00080050", "*000004?*", False), lambda s: "000004" in s["accession"][:-1]),
}


@pytest.mark.parametrize("name", WILDCARDS)
def test_a_wildcard_or_fuzzy_search_reads_rows_as_its_matches_not_as_the_album(stack, albums, monkeypatch, name):
    """`*ross*`, a fuzzy name and `*...*` on an accession read the index rows of the studies
    holding the pattern's longest literal run (`store.study_index` term rows), not the album's
    whole index: the DynamoDB items read are at most twice the studies holding the run, in the
    album of 100 studies as in that of 3,000. Items counted in the store layer (each Query's
    ScannedCount), as the search asks them."""
    (tag, value, fuzzy), matches = WILDCARDS[name]
    scanned = _queries_scanned(monkeypatch)
    with service_layer(stack):
        from chalicelib.dicom.matching import Criterion
        from chalicelib.store import listing, study_index
        for size, album in albums.items():
            scanned.clear()
            holding = listing.counts([album])
            hits = study_index.hits([album], Criterion(tag, value), fuzzy, termed=listing.all_termed(holding))
            expected = [_study(n) for n in range(size) if matches(_study(n))]
            assert len(hits) == len(expected)
            run = study_index.term_run(value, fuzzy)
            holding_run = sum(run in s[{"00100010": "name", "00080050": "accession"}[tag]].lower()
                              for s in map(_study, range(size)))
            assert len(scanned) == 2 and sum(scanned) <= 2 * holding_run, (size, scanned, holding_run)  # run, long values


def _queries_scanned(monkeypatch) -> list[int]:
    """The DynamoDB items each Query the store layer sends from now on reads (its ScannedCount),
    through botocore's client or without it (`store.dynamodb_reads`)."""
    import botocore.client
    scanned: list[int] = []
    make_call = botocore.client.BaseClient._make_api_call

    def counting(client, operation: str, params: dict):
        answer = make_call(client, operation, params)
        if operation == "Query":
            scanned.append(answer.get("ScannedCount", 0))
        return answer

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    from chalicelib.store import dynamodb_reads  # reads sent without botocore's client (None: sent through it)
    lean_read = dynamodb_reads.read

    def counting_lean(endpoint_url: str, operation: str, params: dict):
        answer = lean_read(endpoint_url, operation, params)
        if answer is not None and operation == "Query":
            scanned.append(answer.get("ScannedCount", 0))
        return answer

    monkeypatch.setattr(dynamodb_reads, "read", counting_lean)
    return scanned


LONG_NAME = "Grossmann-Vandenberghe^Annemarie-Christiane-Louise"  # 50 characters: PN allows 64 a group
LONG_ID, LONG_ACCESSION = "LONG-PATIENT-IDENTIFIER-0042", "ACC-0042-TOO-LONG"  # over 20, over 16


def test_a_long_name_leaves_its_albums_wildcard_searches_on_term_rows(stack, token, monkeypatch):
    """An album of 100 studies with term rows and two studies whose values are too long for them
    (one name holds `ross`, the other none): `*ross*` still reads the term rows of `ross` and the
    album's long values, not its whole index (the items read follow the matches), costs the
    requests it costs in an album without long values, and finds the long-named study."""
    plain, album = _album_of(stack, token, 100), _album_of(stack, token, 100)
    matching_study, other = generate_uid(), generate_uid()
    with service_layer(stack):
        for uid, name in ((matching_study, LONG_NAME), (other, "Abcdefghijklmnopqrstuvwxyz^Abcdefghijklmnopqrstuvw")):
            attributes = _attributes(uid, _study(7))
            attributes.update({"00100010": {"vr": "PN", "Value": [{"Alphabetic": name}]},
                               "00100020": {"vr": "LO", "Value": [LONG_ID]},
                               "00080050": {"vr": "SH", "Value": [LONG_ACCESSION]}})
            _store_series(album, uid, generate_uid(), attributes, new=True)
    expected = {(s["date"], s["patient_id"]) for s in map(_study, range(100)) if "ross" in s["name"].lower()}
    cost, response = search(stack, token, album, PatientName="*ross*")
    assert {(item["00080020"]["Value"][0], item["00100020"]["Value"][0]) for item in response.json()} \
        == expected | {(_study(7)["date"], LONG_ID)}
    assert matching_study in {item["0020000D"]["Value"][0] for item in response.json()}
    plain_cost, _ = search(stack, token, plain, PatientName="*ross*")
    assert cost == plain_cost, (cost, plain_cost)
    _, by_id = search(stack, token, album, PatientID="*-identifier-*")
    assert by_id.status_code == 200 and len(by_id.json()) == 2
    scanned = _queries_scanned(monkeypatch)
    with service_layer(stack):
        from chalicelib.dicom.matching import Criterion
        from chalicelib.store import listing, study_index
        holding = listing.counts([album])
        assert listing.all_termed(holding)
        scanned.clear()
        hits = study_index.hits([album], Criterion("00100010", "*ross*"), False, termed=True)
    assert len(hits) == len(expected) + 1
    assert len(scanned) == 2 and sum(scanned) <= 2 * len(expected) + 2, scanned  # not the album's 102 rows


def test_a_page_of_101_matches_waits_on_the_round_trips_of_a_smaller_page(stack, token, albums):
    """OHIF's page of 101 studies takes two BatchGetItems (up to 100 keys) of the album's rows,
    sent at once, and no series record (the rows count their series' instances): the caller waits
    on three round trips (user and albums, counts and index, rows), as for a page of 25."""
    expected = _expected(3000, SEARCHES["patient-name prefix"][1])
    (cost, response), timeline = timed(stack, lambda: search(stack, token, albums[3000], PatientName="Rossi*",
                                                              limit="101"))
    assert _answered(response) == expected[:101]
    assert cost == 6, cost
    assert rounds(timeline) <= 3, [r for r in timeline if r[0].startswith("dynamodb:")]


def test_a_later_page_of_a_search_is_the_next_matches(stack, token, albums):
    expected = _expected(3000, SEARCHES["patient-name prefix"][1])
    _, response = search(stack, token, albums[3000], PatientName="Rossi*", offset="25")
    assert _answered(response) == expected[25:50]
    assert response.headers["X-Total-Count"] == str(len(expected))


def _stow(stack, token: str, album: str, dataset) -> None:
    from tests.integration import dicom_samples
    response = requests.post(f"{stack.api_url}/studies", params={"album": album}, data=dicom_samples.part10(dataset),
                             headers={"Authorization": f"Bearer {token}", "Content-Type": "application/dicom",
                                      "Accept": "application/dicom+json"}, timeout=60)
    assert response.status_code == 200, response.text


def test_the_indexes_follow_series_into_and_out_of_an_album(stack, token):
    """A study of a CT and an MR series stored into an album: searches find it by name, ID and
    both modalities. When the MR leaves, MR finds nothing and CT still finds it; when the CT (whose
    identity the album's row copies) leaves too, the row copies the MR's and every search follows."""
    from tests.integration import dicom_samples
    album = requests.post(f"{stack.api_url}/albums", headers={"Authorization": f"Bearer {token}"},
                          data={"name": "moving series"}, timeout=60).json()["album_id"]
    ct = dicom_samples.load("CT_small.dcm")
    ct.PatientName, ct.PatientID, ct.Modality = "Alpha^One", "ALPHA-1", "CT"
    mr = dicom_samples.load("CT_small.dcm")
    mr = dicom_samples.renewed(mr, study=str(ct.StudyInstanceUID))
    mr.PatientName, mr.PatientID, mr.Modality = "Alpha^One", "ALPHA-1", "MR"
    _stow(stack, token, album, ct)
    _stow(stack, token, album, mr)
    study = str(ct.StudyInstanceUID)

    found = functools.partial(found_in, stack, token, album)

    def leave(series) -> None:
        response = requests.delete(f"{stack.api_url}/studies/{study}/series/{series.SeriesInstanceUID}/albums/{album}",
                                   headers={"Authorization": f"Bearer {token}"}, timeout=60)
        assert response.status_code == 204, response.text

    assert found(PatientName="alpha*") == [study] and found(PatientName="*one", fuzzymatching="true") == [study]
    assert found(ModalitiesInStudy="MR") == [study] and found(ModalitiesInStudy="CT") == [study]
    leave(mr)
    assert found(ModalitiesInStudy="MR") == [] and found(ModalitiesInStudy="CT") == [study]
    _stow(stack, token, album, dicom_samples.renewed(mr, study=study, series=str(mr.SeriesInstanceUID)))
    assert found(ModalitiesInStudy="CT\\MR") == [study]
    leave(ct)
    assert found(ModalitiesInStudy="CT") == [] and found(ModalitiesInStudy="MR") == [study]
    assert found(PatientName="alpha^o*") == [study] and found(PatientID="alpha-1") == [study]
    leave(mr)
    assert found(PatientName="alpha*") == [] and found(ModalitiesInStudy="MR") == []


def test_a_patient_id_search_sends_the_albums_count_beside_the_index_query(stack, token, albums):
    """The album's study count and its PatientID index Query do not wait on each other: the caller
    waits on the user and memberships, then count and index together, then the page's rows and
    its series' records: four round trips (five before: the count, then the index)."""
    (cost, response), timeline = timed(stack, lambda: search(stack, token, albums[3000], PatientID="PAT0000042"))
    assert _answered(response) == _expected(3000, SEARCHES["patient ID"][1])
    assert rounds(timeline) <= 4, [r for r in timeline if r[0].startswith("dynamodb:")]


OHIF_PAGE = {"patient-name prefix": {"PatientName": "Rossi*"}, "modality": {"ModalitiesInStudy": "MR"},
             "patient ID": {"PatientID": "PAT0000042"}}


@pytest.mark.parametrize("name", [
    "patient ID", "patient-name prefix", "modality"])
def test_ohifs_page_of_101_costs_the_same_at_100_and_at_3000_studies(stack, token, albums, name):
    """OHIF asks for 101 studies (to know whether there are more): at 3,000 studies the name
    prefix and the modality have more than 101 matches, at 100 fewer; the requests differ by one
    at most, and the answers are the matches, newest first."""
    params, matches = SEARCHES[name]
    costs = {}
    for size, album in albums.items():
        costs[size], response = search(stack, token, album, **OHIF_PAGE[name], limit="101")
        assert _answered(response) == _expected(size, matches)[:101]
    assert abs(costs[3000] - costs[100]) <= 1, costs


def test_a_studydate_search_reads_the_pages_rows_once(stack, token, albums):
    """A StudyDate range reads the album's whole rows in the range (`by-listing`): the page is
    built from them, not read again, and they count their series' instances. Four requests (user,
    memberships, count, range), not six, on two round trips, with the same answers."""
    params, matches = SEARCHES["StudyDate range"]
    (cost, response), timeline = timed(stack, lambda: search(stack, token, albums[3000], **params))
    assert _answered(response) == _expected(3000, matches)[:25]
    assert response.headers["X-Total-Count"] == str(len(_expected(3000, matches)))
    assert cost == 4, cost
    assert rounds(timeline) <= 2, [r for r in timeline if r[0].startswith("dynamodb:")]


def _store_series(album: str, uid: str, series: str, identity: dict, new: bool) -> None:
    """A series of a study into an album as STOW and sharing write it (`listing.add`), its
    study identity on its series record."""
    from chalicelib.store import listing
    from chalicelib.store.models import SeriesRecord, SeriesShare, transact
    with transact() as transaction:
        transaction.save(SeriesRecord(*SeriesRecord.key(uid, series), study_uid=uid, series_uid=series, instance_count=1,
                                      attributes={"00080060": {"vr": "CS", "Value": ["CT"]}}, study_attributes=identity))
        transaction.save(SeriesShare(*SeriesShare.key(album, uid, series), album_id=album, study_uid=uid,
                                     series_uid=series, series_album=f"{series}#{album}", added_at="2026-01-01"))
        listing.add(transaction, album, uid, series, identity, "CT", study_is_new=new, instances=1)


def test_wildcard_searches_follow_a_study_identity_and_leave_no_term_row_behind(stack, token):
    """A study whose two series carry different patient identities (identity is per series, as
    de-identified copies have): the album's row copies the first's, and `*lph*`, fuzzy `one` and
    `*LPHA-*` find it; when that series leaves, the row copies the other's and the wildcard
    searches follow it, no term row of the old identity left; when the last leaves, no search
    finds it and the album holds no term row of it."""
    album = requests.post(f"{stack.api_url}/albums", headers={"Authorization": f"Bearer {token}"},
                          data={"name": "changing identity"}, timeout=60).json()["album_id"]
    study, first, second = generate_uid(), "1.2.3.1", "1.2.3.2"  # the copy comes from the lowest remaining
    alpha, beta = _attributes(study, _study(1)), _attributes(study, _study(2))
    alpha.update({"00100010": {"vr": "PN", "Value": [{"Alphabetic": "Alpha^One"}]}, "00100020": {"vr": "LO", "Value": ["ALPHA-1"]},
                  "00080050": {"vr": "SH", "Value": ["ACC-ALPHA"]}})
    beta.update({"00100010": {"vr": "PN", "Value": [{"Alphabetic": "Beta^Two"}]}, "00100020": {"vr": "LO", "Value": ["BETA-2"]},
                 "00080050": {"vr": "SH", "Value": ["ACC-BETA"]}})
    with service_layer(stack):
        _store_series(album, study, first, alpha, new=True)
        _store_series(album, study, second, beta, new=False)

    found = functools.partial(found_in, stack, token, album)

    def leave(series: str) -> None:
        response = requests.delete(f"{stack.api_url}/studies/{study}/series/{series}/albums/{album}",
                                   headers={"Authorization": f"Bearer {token}"}, timeout=60)
        assert response.status_code == 204, response.text

    def term_rows() -> list[str]:
        with service_layer(stack):
            from chalicelib.store.models import AlbumStudyTerm
            return [r.sk for r in AlbumStudyTerm.query(f"ALBUM#{album}", AlbumStudyTerm.sk.startswith("TERM#"))]

    assert found(PatientName="*lph*") == [study] and found(PatientName="one", fuzzymatching="true") == [study]
    assert found(PatientID="*LPHA-*") == [study] and found(AccessionNumber="*alpha") == [study]
    assert found(PatientName="*eta*") == []
    leave(first)
    assert found(PatientName="*lph*") == [] and found(PatientName="one", fuzzymatching="true") == []
    assert found(PatientID="*lpha*") == [] and found(AccessionNumber="*alpha") == []
    assert found(PatientName="*eta*") == [study] and found(PatientName="two", fuzzymatching="true") == [study]
    assert found(PatientID="*ETA-*") == [study] and found(AccessionNumber="*-beta") == [study]
    assert not [sk for sk in term_rows() if "alpha" in sk or "one" in sk], term_rows()
    leave(second)
    assert found(PatientName="*eta*") == [] and found(AccessionNumber="*-beta") == []
    assert term_rows() == []


def test_long_values_follow_a_study_identity_and_leave_no_row_behind(stack, token):
    """A study whose first series has a short identity and its second one too long for term rows
    (name of 50, ID over 20, accession over 16 characters): when the first leaves, the row copies
    the long one, which gets its long-value rows (the row stays `termed`) and `*ross*` finds it;
    when the last leaves, the album holds no term nor long-value row."""
    album = requests.post(f"{stack.api_url}/albums", headers={"Authorization": f"Bearer {token}"},
                          data={"name": "long identity"}, timeout=60).json()["album_id"]
    study, first, second = generate_uid(), "1.2.3.1", "1.2.3.2"
    short, long = _attributes(study, _study(1)), _attributes(study, _study(2))
    short.update({"00100010": {"vr": "PN", "Value": [{"Alphabetic": "Beta^Two"}]}})
    long.update({"00100010": {"vr": "PN", "Value": [{"Alphabetic": LONG_NAME}]},
                 "00100020": {"vr": "LO", "Value": [LONG_ID]}, "00080050": {"vr": "SH", "Value": [LONG_ACCESSION]}})
    with service_layer(stack):
        _store_series(album, study, first, short, new=True)
        _store_series(album, study, second, long, new=False)

    found = functools.partial(found_in, stack, token, album)

    def rows() -> tuple[list[str], int]:
        with service_layer(stack):
            from chalicelib.store.models import AlbumStudyCount, AlbumStudyTerm
            keys = [r.sk for prefix in ("TERM#", "LONG#")
                    for r in AlbumStudyTerm.query(f"ALBUM#{album}", AlbumStudyTerm.sk.startswith(prefix))]
            return keys, int(AlbumStudyCount.get(*AlbumStudyCount.key(album)).termed or 0)

    assert found(PatientName="*eta*") == [study] and found(PatientName="*ross*") == []
    response = requests.delete(f"{stack.api_url}/studies/{study}/series/{first}/albums/{album}",
                               headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert response.status_code == 204, response.text
    keys, termed = rows()
    assert sorted(k for k in keys if k.startswith("LONG#")) == [f"LONG#{c}#{study}" for c in "anp"], keys
    assert not [k for k in keys if "beta" in k] and termed == 1
    assert found(PatientName="*ross*") == [study] and found(PatientName="*eta*") == []
    assert found(PatientID="*identifier*") == [study] and found(AccessionNumber="*too-long") == [study]
    response = requests.delete(f"{stack.api_url}/studies/{study}/series/{second}/albums/{album}",
                               headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert response.status_code == 204, response.text
    assert rows() == ([], 0) and found(PatientName="*ross*") == []


def test_the_migration_gives_a_row_left_without_term_rows_for_a_long_value_its_long_value_row(stack, token):
    """A row written while a value too long for term rows got none (indexed, not `termed`): its
    album's wildcard searches read the whole keys index until `term_study_rows` gives it its
    long-value row; then the album counts it `termed` and `*ross*` finds it from the term rows."""
    album = requests.post(f"{stack.api_url}/albums", headers={"Authorization": f"Bearer {token}"},
                          data={"name": "long name before"}, timeout=60).json()["album_id"]
    uid, series = generate_uid(), generate_uid()
    attributes = _attributes(uid, _study(3))
    attributes["00100010"] = {"vr": "PN", "Value": [{"Alphabetic": LONG_NAME}]}
    with service_layer(stack):
        from chalicelib.dicom import qido
        from chalicelib.store import study_index
        from chalicelib.store.migrations import term_study_rows
        from chalicelib.store.models import AlbumStudy, AlbumStudyCount, AlbumStudyTerm, SeriesShare
        SeriesShare(*SeriesShare.key(album, uid, series), album_id=album, study_uid=uid, series_uid=series,
                    series_album=f"{series}#{album}", added_at="2026-01-01").save()
        AlbumStudy(*AlbumStudy.key(album, uid), album_id=album, study_uid=uid, series_uids={series},
                   listing=f"{qido.listing_key(attributes)}#{uid}", study_attributes=attributes, attributes_from=series,
                   series_modalities={f"{series}=CT"}, indexed=True, **study_index.keys_of(attributes)).save()
        AlbumStudyCount(*AlbumStudyCount.key(album), studies=1, changes=1, indexed=1, termed=0).save()
        assert term_study_rows() >= 1
        assert int(AlbumStudyCount.get(*AlbumStudyCount.key(album)).termed) == 1
        assert [r.value for r in AlbumStudyTerm.query(f"ALBUM#{album}", AlbumStudyTerm.sk.startswith("LONG#n#"))] \
            == [LONG_NAME.lower()]
    _, response = search(stack, token, album, PatientName="*ross*")
    assert [item["0020000D"]["Value"][0] for item in response.json()] == [uid]


@pytest.mark.parametrize(("name", "patient_id", "accession"), [
    pytest.param("Abcdefghijklmnop^Qrstuvwxyz01234", "ABCDEFGHIJKLMNOPQRST", "0123456789ABCDEF", id="at the caps"),
    pytest.param("Abcdefghijklmnopqrstuvwxyz012345^Abcdefghijklmnopqrstuvwxyz01234", "A" * 64, "B" * 17,
                 id="all too long"),
])
def test_stow_of_25_instances_of_a_new_study_with_its_longest_values_fits_one_transaction(stack, token, name,
                                                                                          patient_id, accession):
    """The most a STOW transaction writes: 25 instances of a new study whose three values are at
    their caps (68 term rows) or all too long (3 long-value rows): stored, and found by a wildcard
    inside each value."""
    from tests.integration import dicom_samples
    album = requests.post(f"{stack.api_url}/albums", headers={"Authorization": f"Bearer {token}"},
                          data={"name": "longest values"}, timeout=60).json()["album_id"]
    study, series, boundary = generate_uid(), generate_uid(), "longest-values"
    body = b""
    for number in range(25):
        dataset = dicom_samples.renewed(dicom_samples.load("CT_small.dcm"), study, series)
        dataset.PatientName, dataset.PatientID, dataset.AccessionNumber = name, patient_id, accession
        dataset.InstanceNumber = number + 1
        body += (f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
                 + dicom_samples.part10(dataset) + b"\r\n")
    response = requests.post(f"{stack.api_url}/studies", params={"album": album}, data=body + f"--{boundary}--\r\n".encode(),
                             headers={"Authorization": f"Bearer {token}", "Accept": "application/dicom+json",
                                      "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}'},
                             timeout=120)
    assert response.status_code == 200, response.text
    assert len(response.json()["00081199"]["Value"]) == 25
    for params in ({"PatientName": f"*{name[20:26]}*"}, {"PatientID": f"*{patient_id[5:9]}*"},
                   {"AccessionNumber": f"*{accession[3:7]}*"}):
        _, found = search(stack, token, album, **params)
        assert found.status_code == 200 and [i["0020000D"]["Value"][0] for i in found.json()] == [study], params
    with service_layer(stack):
        from chalicelib.store.models import AlbumStudyTerm
        rows = [r.sk for prefix in ("TERM#", "LONG#")
                for r in AlbumStudyTerm.query(f"ALBUM#{album}", AlbumStudyTerm.sk.startswith(prefix))]
    assert len(rows) == (68 if len(accession) == 16 else 3), rows


TRICKY = [  # (PatientName, PatientID, AccessionNumber) of studies stored through `listing.add`
    ("Rossi^Mario", "PAT-1", "ACC0042"), ("GROSSMAN^Ann", "pat-2", "X0042Y"), ("de la Cruz^María José", "", "0042"),
    ("O'Brien^Seán", "A?B", ""), ("Müller^Jürgen", "müller-7", "M-1"), ("Li", "LI", "L"), ("", "EMPTY-NAME", "E1"),
    ("Smith^John^^Dr", "S*1", "S1"), ("ross", "ROSS", "R0SS"), ("Ro ss^i", "R OSS", "R0 55"),
    (LONG_NAME, LONG_ID, LONG_ACCESSION),  # too long for term rows: long-value rows
    ("Müller-Lüdenscheidt-Rossberg^Jürgen-Maria", "müller-7-ross-abcdefgh", "X0042Y-LONGVALUE"),
]
PATTERNS = [  # (attribute, pattern, fuzzy)
    ("PatientName", "*ross*", False), ("PatientName", "*ROSS*", True), ("PatientName", "*o?s*", False),
    ("PatientName", "*i^m*", False), ("PatientName", "*cruz^m*", False), ("PatientName", "ross", True),
    ("PatientName", "mar", True), ("PatientName", "jos", True), ("PatientName", "JOS MAR", True),
    ("PatientName", "*a*\\*i", False), ("PatientName", "*josé", False), ("PatientName", "*e la*", False),
    ("PatientName", "?i", False), ("PatientName", "*?*", False), ("PatientName", "*rien*", True),
    ("PatientName", "*ss^*", False), ("PatientName", "*Ü*", False), ("PatientName", "dr", True),
    ("PatientName", "*o s*", True), ("PatientID", "*at-*", False), ("PatientID", "*-?", False),
    ("PatientID", "*?b", False), ("PatientID", "*ss*\\*üll*", False), ("PatientID", "*OSS", False),
    ("AccessionNumber", "*0042*", False), ("AccessionNumber", "*0?4*", False), ("AccessionNumber", "*s", False),
    ("AccessionNumber", "*0 5*", False), ("PatientName", "*louise", False), ("PatientName", "anne", True),
    ("PatientName", "*berg*", True), ("PatientID", "*identifier*", False), ("AccessionNumber", "*-long*", False),
]


@pytest.fixture(scope="module")
def tricky_album(stack, token):
    """An album of the `TRICKY` studies, each written by `listing.add` (its term rows with it);
    their study attributes by StudyInstanceUID."""
    album = requests.post(f"{stack.api_url}/albums", headers={"Authorization": f"Bearer {token}"},
                          data={"name": "tricky names"}, timeout=60).json()["album_id"]
    written = {}
    with service_layer(stack):
        from chalicelib.dicom import json_model
        for n, (name, patient_id, accession) in enumerate(TRICKY):
            uid, series = generate_uid(), generate_uid()
            attributes = _attributes(uid, _study(n))
            for keyword, value in (("PatientName", name), ("PatientID", patient_id), ("AccessionNumber", accession)):
                tag = json_model.tag_hex(keyword)
                attributes[tag] = {"vr": attributes[tag]["vr"], "Value": [{"Alphabetic": value} if keyword == "PatientName" else value]}
            _store_series(album, uid, series, attributes, new=True)
            written[uid] = attributes
    return album, written


@pytest.mark.parametrize(("keyword", "pattern", "fuzzy"), PATTERNS)
def test_a_wildcard_search_answers_what_matching_every_row_answers(stack, token, tricky_album, keyword, pattern, fuzzy):
    """Wildcards inside, `?`, alternatives, mixed case, accents, names with `^` and spaces, empty
    values: the album's term rows answer exactly the studies whose attributes match."""
    from chalicelib.dicom import json_model, matching
    album, written = tricky_album
    criterion = matching.Criterion(json_model.tag_hex(keyword), pattern)
    expected = sorted(uid for uid, attributes in written.items() if matching.matches(attributes, criterion, fuzzy))
    _, response = search(stack, token, album, **{keyword: pattern, "fuzzymatching": str(fuzzy).lower()})
    answered = [] if response.status_code == 204 else [item["0020000D"]["Value"][0] for item in response.json()]
    assert sorted(answered) == expected

"""QIDO-RS: every level, the matching kinds, includefield, paging with the Warning header, 204
when empty, the KHEOPS favorite/comment fields, and counts limited to what the caller may see."""
from __future__ import annotations

import uuid

import pytest
import requests
from pydicom.uid import generate_uid

from tests.integration import dicom_samples as samples

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
RUN = uuid.uuid4().hex[:8].upper()
STUDIES = [  # PatientName, StudyDate, StudyTime, AccessionNumber, Modality per series
    ("Müller^Anna", "20240105", "101500", f"ACC{RUN}1", ["CT", "CT"]),
    ("Miller^Ann", "20240220", "083000", f"ACC{RUN}2", ["MR"]),
    ("Smith^John", "20250301", "120000", f"ACC{RUN}3", ["CT", "SR"]),
]


def get(stack, token, path, **params):
    return requests.get(stack.api_url + path, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=30)


@pytest.fixture(scope="module")
def corpus(stack, tokens):
    """Three studies of patients `{RUN}-n`, one series per modality, two instances per series."""
    created = []
    for number, (name, date, time, accession, modalities) in enumerate(STUDIES):
        study = generate_uid()
        series_uids = []
        for index, modality in enumerate(modalities):
            series = generate_uid()
            series_uids.append(series)
            for instance in (1, 2):
                ds = samples.renewed(samples.load("CT_small.dcm"), study, series)
                ds.SpecificCharacterSet = "ISO_IR 192"
                ds.PatientName, ds.PatientID, ds.StudyDate, ds.StudyTime = name, f"{RUN}-{number}", date, time
                ds.AccessionNumber, ds.Modality, ds.SeriesNumber, ds.InstanceNumber = accession, modality, index + 1, instance
                ds.StudyDescription = f"study {number}"
                answer = requests.post(f"{stack.api_url}/studies", data=samples.part10(ds), timeout=30, headers={
                    "Authorization": f"Bearer {tokens('alice')}", "Content-Type": "application/dicom"})
                assert answer.status_code == 200, answer.text
        created.append((study, series_uids))
    return created


def uids_of(answer) -> list[str]:
    return [] if answer.status_code == 204 else [s["0020000D"]["Value"][0] for s in answer.json()]


def test_single_value_list_wildcard_and_fuzzy_matching(stack, tokens, corpus):
    alice = tokens("alice")
    everything = {study for study, _ in corpus}
    assert set(uids_of(get(stack, alice, "/studies", PatientID=f"{RUN}-*"))) == everything
    assert uids_of(get(stack, alice, "/studies", PatientID=f"{RUN}-1")) == [corpus[1][0]]
    assert set(uids_of(get(stack, alice, "/studies", PatientID=f"{RUN}-0\\{RUN}-2"))) == {corpus[0][0], corpus[2][0]}
    assert uids_of(get(stack, alice, "/studies", PatientID=f"{RUN}-?", PatientName="Sm*")) == [corpus[2][0]]
    assert uids_of(get(stack, alice, "/studies", PatientID=f"{RUN}-*", PatientName="müller*")) == [corpus[0][0]]
    fuzzy = get(stack, alice, "/studies", PatientID=f"{RUN}-*", PatientName="ann", fuzzymatching="true")
    assert uids_of(fuzzy) == [corpus[1][0], corpus[0][0]]
    assert uids_of(get(stack, alice, "/studies", PatientID=f"{RUN}-*", PatientName="ann", fuzzymatching="false")) == []


def test_text_values_match_case_insensitively_as_documented(stack, tokens, corpus):
    """docs/dicomweb.md: text values of every VR match case-insensitively, single values and
    wildcards alike (a stated difference from PS3.4, outside check round 13); UIDs exactly."""
    alice = tokens("alice")
    study = corpus[1][0]
    assert uids_of(get(stack, alice, "/studies", PatientID=f"{RUN.lower()}-1")) == [study]
    assert uids_of(get(stack, alice, "/studies", AccessionNumber=f"acc{RUN.lower()}2")) == [study]
    assert uids_of(get(stack, alice, "/studies", AccessionNumber=f"*{RUN.lower()}2")) == [study]
    assert study in uids_of(get(stack, alice, "/studies", PatientID=f"{RUN}-*", ModalitiesInStudy="mr"))
    assert uids_of(get(stack, alice, "/studies", StudyInstanceUID=study.upper() + "x")) == []


def test_date_range_uid_list_and_modalities(stack, tokens, corpus):
    alice = tokens("alice")
    ours = {"PatientID": f"{RUN}-*"}
    assert set(uids_of(get(stack, alice, "/studies", StudyDate="20240101-20241231", **ours))) == {corpus[0][0], corpus[1][0]}
    assert uids_of(get(stack, alice, "/studies", StudyDate="20250101-", **ours)) == [corpus[2][0]]
    assert uids_of(get(stack, alice, "/studies", StudyDate="-20240131", **ours)) == [corpus[0][0]]
    # outside check round 19: `-` alone answered 500 at the study level; it is any date, as at the others
    assert set(uids_of(get(stack, alice, "/studies", StudyDate="-", **ours))) == {c[0] for c in corpus}
    malformed = requests.get(f"{stack.api_url}/studies", params={"StudyDate": "-20240101-", **ours},
                             headers={"Authorization": f"Bearer {alice}"}, timeout=30)
    assert malformed.status_code == 400 and "YYYYMMDD-YYYYMMDD" in malformed.json()["detail"]
    assert uids_of(get(stack, alice, "/studies", PatientID=f"{RUN}-1  ")) == [corpus[1][0]]  # trailing spaces pad
    assert uids_of(get(stack, alice, "/studies", StudyTime="080000-090000", **ours)) == [corpus[1][0]]
    assert set(uids_of(get(stack, alice, "/studies", StudyInstanceUID=f"{corpus[0][0]}\\{corpus[2][0]}"))) == {corpus[0][0], corpus[2][0]}
    assert set(uids_of(get(stack, alice, "/studies", ModalitiesInStudy="ct", **ours))) == {corpus[0][0], corpus[2][0]}
    first = get(stack, alice, "/studies", AccessionNumber=f"ACC{RUN}3").json()[0]
    assert first["00080061"]["Value"] == ["CT", "SR"]
    assert first["00201206"]["Value"] == [2] and first["00201208"]["Value"] == [4]


def test_a_studys_series_match_study_level_keys_on_the_study(stack, tokens, corpus):
    """`/studies/{st}/series` with a study-level key (StudyDate, PatientID, ...) answered 204
    whatever the key (outside check round 20): the key is matched on the series' study, as
    `/series` and `/instances` match it."""
    alice = tokens("alice")
    study, series = corpus[0]

    def series_of(**params):
        answer = get(stack, alice, f"/studies/{study}/series", **params)
        return [] if answer.status_code == 204 else sorted(s["0020000E"]["Value"][0] for s in answer.json())

    assert series_of(StudyDate="20240101-20241231") == sorted(series)
    assert series_of(PatientID=f"{RUN}-0 ", StudyDate="-") == sorted(series)
    assert series_of(StudyDate="20250101-") == [] and series_of(PatientID=f"{RUN}-1") == []


def test_a_bad_key_is_a_400_for_a_caller_who_reads_nothing(stack, tokens):
    """`/series` checked its keys only on the series the caller reads: carol (nothing shared) got
    204 for `StudyDate=--` where `/studies` and `/instances` answered 400 (outside check round 20)."""
    carol = tokens("carol")
    for path in ("/studies", "/series", "/instances"):
        answer = get(stack, carol, path, StudyDate="--")
        assert answer.status_code == 400 and answer.json()["message"] == "Bad Query Parameter", (path, answer.text)


def test_sort_limit_offset_and_warning(stack, tokens, corpus):
    alice = tokens("alice")
    ours = {"PatientID": f"{RUN}-*"}
    assert uids_of(get(stack, alice, "/studies", **ours)) == [corpus[2][0], corpus[1][0], corpus[0][0]]
    assert uids_of(get(stack, alice, "/studies", sort="StudyDate", **ours)) == [corpus[0][0], corpus[1][0], corpus[2][0]]
    page = get(stack, alice, "/studies", limit="1", offset="1", **ours)
    assert uids_of(page) == [corpus[1][0]]
    assert page.headers["X-Total-Count"] == "3"
    assert page.headers["Warning"] == "299 obelisk: There are 1 additional results that can be requested"
    assert "Warning" not in get(stack, alice, "/studies", limit="5", **ours).headers
    empty = get(stack, alice, "/studies", PatientID="nobody-at-all")
    assert empty.status_code == 204 and empty.content == b"" and empty.headers["X-Total-Count"] == "0"
    assert get(stack, alice, "/studies", limit="x").status_code == 400
    assert get(stack, alice, "/studies", NotAnAttribute="1").status_code == 400


def test_series_and_instance_levels(stack, tokens, corpus):
    alice = tokens("alice")
    study, series = corpus[0]
    listed = get(stack, alice, f"/studies/{study}/series").json()
    assert [s["0020000E"]["Value"][0] for s in listed] == series
    assert listed[0]["00201209"]["Value"] == [2]
    assert listed[0]["00081190"]["Value"] == [f"{stack.api_url}/studies/{study}/series/{series[0]}"]
    every_series = get(stack, alice, "/series", PatientID=f"{RUN}-0").json()
    assert sorted(s["0020000E"]["Value"][0] for s in every_series) == sorted(series)
    assert every_series[0]["00100020"]["Value"] == [f"{RUN}-0"]  # study attributes come along
    assert len(get(stack, alice, f"/studies/{study}/instances").json()) == 4
    assert len(get(stack, alice, "/instances", PatientID=f"{RUN}-*", Modality="SR").json()) == 2
    one = get(stack, alice, f"/studies/{study}/series/{series[0]}/instances", InstanceNumber="2").json()
    assert len(one) == 1 and one[0]["00200013"]["Value"] == [2]


def test_includefield(stack, tokens, corpus):
    alice = tokens("alice")
    study, series = corpus[0]
    plain = get(stack, alice, f"/studies/{study}/series/{series[0]}/instances").json()[0]
    assert "00180050" not in plain  # SliceThickness is not a default instance attribute
    named = get(stack, alice, f"/studies/{study}/series/{series[0]}/instances", includefield="SliceThickness").json()[0]
    assert named["00180050"]["Value"]
    everything = get(stack, alice, f"/studies/{study}/series/{series[0]}/instances", includefield="all").json()[0]
    assert {"00180050", "00280030", "00080070"} <= set(everything)
    listed = get(stack, alice, "/studies", PatientID=f"{RUN}-0", includefield="00081030,00080060").json()[0]
    assert listed["00081030"]["Value"] == ["study 0"]


def _share_series_with(stack, tokens, user: str, study: str, series: str) -> None:
    """alice sends one series to `user`, who marks it a favorite in their inbox (the sharing and
    favorites APIs)."""
    sent = requests.put(f"{stack.api_url}/studies/{study}/series/{series}/users/{user}@example.org", timeout=30,
                        headers={"Authorization": f"Bearer {tokens('alice')}"})
    assert sent.status_code == 201, sent.text
    marked = requests.put(f"{stack.api_url}/studies/{study}/series/{series}/favorites", params={"inbox": "true"},
                          headers={"Authorization": f"Bearer {tokens(user)}"}, timeout=30)
    assert marked.status_code == 204, marked.text


def test_counts_cover_only_what_the_caller_sees_and_favorites(stack, tokens, corpus):
    requests.get(stack.api_url + "/studies", headers={"Authorization": f"Bearer {tokens('bob')}"}, timeout=30)
    study, series = corpus[2]
    _share_series_with(stack, tokens, "bob", study, series[1])  # bob sees only the SR series
    bob = tokens("bob")
    seen = get(stack, bob, "/studies", PatientID=f"{RUN}-*", inbox="true", includefield="favorite").json()
    assert [s["0020000D"]["Value"][0] for s in seen] == [study]
    assert seen[0]["00201206"]["Value"] == [1] and seen[0]["00201208"]["Value"] == [2]
    assert seen[0]["00080061"]["Value"] == ["SR"]
    assert seen[0]["00012345"]["Value"] == [1]
    assert uids_of(get(stack, bob, "/studies", PatientID=f"{RUN}-*", inbox="true", favorite="true")) == [study]
    series_list = get(stack, bob, f"/studies/{study}/series", inbox="true", includefield="favorite").json()
    assert [(s["0020000E"]["Value"][0], s["00012345"]["Value"]) for s in series_list] == [(series[1], ["true"])]
    assert get(stack, bob, f"/studies/{study}/series/{series[0]}/instances").status_code == 404
    assert get(stack, bob, "/studies", favorite="true").status_code == 400  # needs album or inbox
    assert get(stack, bob, f"/studies/{corpus[0][0]}/series").status_code == 404



def _stow_one(stack, token: str, study: str, identity: tuple[str, str, str, str], album: str | None = None) -> str:
    """One instance of a new series of `study` with this identity (PatientName, PatientID, StudyDate,
    Modality), into the caller's inbox or `album`; its series UID."""
    series = generate_uid()
    ds = samples.renewed(samples.load("CT_small.dcm"), study, series)
    ds.PatientName, ds.PatientID, ds.StudyDate, ds.Modality = identity
    answer = requests.post(f"{stack.api_url}/studies", data=samples.part10(ds), params={"album": album} if album else {},
                           headers={"Authorization": f"Bearer {token}", "Content-Type": "application/dicom"}, timeout=30)
    assert answer.status_code == 200, answer.text
    return series


def test_a_study_read_through_two_sources_with_two_identities_is_shown_as_it_matched(stack, tokens):
    """Identity is per series: alice stores a series of a study in an album (Alpha), bob sends her
    his series of the same study stored as Omega (her inbox). Searched without a source, the study
    is answered with an identity that satisfies the search (outside check round 13: a search on
    Alpha answered Omega), and with the modalities of both sources."""
    alice, bob = tokens("alice"), tokens("bob")
    album = requests.post(f"{stack.api_url}/albums", data={"name": f"two identities {RUN}"}, timeout=30,
                          headers={"Authorization": f"Bearer {alice}"}).json()["album_id"]
    study = generate_uid()
    _stow_one(stack, alice, study, (f"Alpha{RUN}^Two", f"A{RUN}", "20220424", "CR"), album)
    series = _stow_one(stack, bob, study, (f"Omega{RUN}^Two", f"O{RUN}", "20250101", "NM"))
    sent = requests.put(f"{stack.api_url}/studies/{study}/series/{series}/users/alice@example.org", timeout=30,
                        headers={"Authorization": f"Bearer {bob}"})
    assert sent.status_code == 201, sent.text

    def shown(**criteria):
        answer = get(stack, alice, "/studies", includefield="00080061", **criteria)
        (item,) = [s for s in answer.json() if s["0020000D"]["Value"][0] == study]
        return (item["00100010"]["Value"][0]["Alphabetic"], item["00100020"]["Value"][0],
                item["00080020"]["Value"][0], sorted(item["00080061"]["Value"]))

    alpha = (f"Alpha{RUN}^Two", f"A{RUN}", "20220424", ["CR", "NM"])
    omega = (f"Omega{RUN}^Two", f"O{RUN}", "20250101", ["CR", "NM"])
    assert shown(PatientName=f"alpha{RUN}*") == alpha
    assert shown(PatientName=f"omega{RUN}*") == omega
    assert shown(PatientID=f"A{RUN}") == alpha
    assert shown(PatientID=f"O{RUN}") == omega
    assert shown(PatientName=f"*{RUN.lower()}^two", PatientID=f"O{RUN}") == omega
    assert shown(StudyDate="20220424", PatientName=f"*{RUN.lower()}*") == alpha
    assert shown(StudyDate="20250101", PatientName=f"*{RUN.lower()}*") == omega
    assert shown(StudyDate="20220424") == alpha  # the range's rows alone would have shown CR only
    assert shown(StudyDate="20250101") == omega


def test_a_criterion_of_only_stars_matches_empty_values_too(stack, tokens, corpus):
    """`*` matches any sequence of characters, none included (PS3.4 C.2.2.2.4): `**` is universal
    matching as `*` is, so a study whose AccessionNumber or StudyDescription is empty is found by
    it (it was not: outside check round 15), through the indexes as through matching."""
    alice = tokens("alice")
    study = generate_uid()
    ds = samples.renewed(samples.load("CT_small.dcm"), study, generate_uid())
    ds.PatientID, ds.AccessionNumber, ds.StudyDescription = f"{RUN}-E", "", ""
    answer = requests.post(f"{stack.api_url}/studies", data=samples.part10(ds), timeout=30, headers={
        "Authorization": f"Bearer {alice}", "Content-Type": "application/dicom"})
    assert answer.status_code == 200, answer.text
    for name in ("AccessionNumber", "StudyDescription"):
        for stars in ("*", "**", "***"):
            assert uids_of(get(stack, alice, "/studies", PatientID=f"{RUN}-E", **{name: stars})) == [study]
    every_study = get(stack, alice, "/studies", limit="1").headers["X-Total-Count"]
    assert get(stack, alice, "/studies", AccessionNumber="**", limit="1").headers["X-Total-Count"] == every_study

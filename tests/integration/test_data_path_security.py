"""The data path leaks nothing a caller cannot read (docs/data-model.md, docs/tokens.md): study
identity is per series, a STOW into a study UID someone else holds is a STOW into a new study,
orphan series are purged, series seen only where sending or downloading is off stay there, and
reads through QIDO's includefield are audited."""
from __future__ import annotations

import io
import zipfile

import pydicom
import pytest
import requests
from pydicom.uid import generate_uid

from tests.integration.dicom_samples import load, part10
from tests.support import api, bombs
from tests.support.reporting import configure_site, launch, launch_tags, open_session, sign

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


class Api(api.Api):
    """A demo user's view of the API, with the STOWs and albums these tests make."""

    def stow(self, *datasets: pydicom.Dataset, **params) -> requests.Response:
        boundary = "sec-data-boundary"
        body = b"".join(f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + part10(d) + b"\r\n"
                        for d in datasets) + f"--{boundary}--\r\n".encode()
        return self.post("/studies", data=body, params=params, headers={
            "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
            "Accept": "application/dicom+json"})

    def study_row(self, study: str) -> dict | None:
        found = self.get("/studies", params={"StudyInstanceUID": study})
        return None if found.status_code == 204 else found.json()[0]

    def album(self, **flags) -> str:
        created = self.post("/albums", data={"name": "sec-data", **flags})
        assert created.status_code == 201, created.text
        return created.json()["album_id"]


@pytest.fixture(scope="module")
def people(stack, tokens):
    return api.signed_in(stack, tokens, kind=Api)


def alice_ct(**identity) -> pydicom.Dataset:
    """A CT with fresh UIDs and alice's patient identity."""
    ds = load("CT_small.dcm")
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "Alice^Secret", "ALICE-ID", "19700101", "F"
    ds.StudyDescription, ds.AccessionNumber, ds.StudyID, ds.StudyDate = "Alice's secret exam", "ACC-A", "7", "20240101"
    for keyword, value in identity.items():
        setattr(ds, keyword, value)
    return ds


def another_instance(ds: pydicom.Dataset, series: str | None = None, **identity) -> pydicom.Dataset:
    """A new instance of `ds`'s study (in `series`, else a new one) with `identity` overriding."""
    copy = pydicom.dcmread(io.BytesIO(part10(ds)))
    copy.SeriesInstanceUID = series or generate_uid()
    copy.SOPInstanceUID = copy.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    for keyword, value in identity.items():
        if value is None:
            delattr(copy, keyword)
        else:
            setattr(copy, keyword, value)
    return copy


def value(item: dict | None, tag: str):
    values = (item or {}).get(tag, {}).get("Value") or [None]
    return values[0].get("Alphabetic") if isinstance(values[0], dict) else values[0]


ALICE_VALUES = {"Alice^Secret", "ALICE-ID", "19700101", "Alice's secret exam", "ACC-A"}


def leaked(item: dict | list) -> set[str]:
    """alice's identity values found anywhere in an answer."""
    text = repr(item)
    return {v for v in ALICE_VALUES if v in text}


# ---- item 3: study identity per series, no oracle ------------------------------------------


def test_a_stow_into_a_study_the_caller_cannot_read_is_a_stow_into_a_new_study(people):
    alice, bob = people["alice"], people["bob"]
    ds = alice_ct()
    study = str(ds.StudyInstanceUID)
    assert alice.stow(ds).status_code == 200
    assert alice.post(f"/studies/{study}/comments", data={"comment": "alice's private thoughts"}).status_code == 204

    guess = another_instance(ds, PatientID="GUESS", PatientName="Bob^Guess", PatientBirthDate="19990909",
                             AccessionNumber="GUESS-ACC", StudyDescription=None)
    answer = bob.stow(guess)
    assert answer.status_code == 200, answer.text  # no 409, no list of the attributes that differ
    assert "00081198" not in answer.json()
    row = bob.study_row(study)
    assert value(row, "00100020") == "GUESS" and value(row, "00100010") == "Bob^Guess"
    assert not leaked(row)
    series = bob.get(f"/studies/{study}/series").json()
    assert [value(s, "0020000E") for s in series] == [str(guess.SeriesInstanceUID)]
    instances = bob.get(f"/studies/{study}/instances", params={"includefield": "all"}).json()
    assert not leaked(instances)
    assert bob.get(f"/studies/{study}/comments").json() == []
    assert value(alice.study_row(study), "00100020") == "ALICE-ID"  # alice's own view is unchanged


def test_a_matching_identity_shows_the_caller_nothing_of_the_other_series(people):
    alice, bob = people["alice"], people["bob"]
    ds = alice_ct()
    study = str(ds.StudyInstanceUID)
    assert alice.stow(ds).status_code == 200
    same = another_instance(ds, StudyDescription=None)
    assert bob.stow(same).status_code == 200
    row = bob.study_row(study)
    assert value(row, "00081030") is None  # alice's StudyDescription stays hers
    assert value(row, "00201206") == 1 and value(row, "00201208") == 1
    listed = bob.get("/studies", params={"inbox": "true", "limit": 200}).json()
    assert "Alice's secret exam" not in repr([r for r in listed if value(r, "0020000D") == study])


def test_whoever_stores_a_study_uid_first_does_not_decide_its_identity(people):
    alice, bob = people["alice"], people["bob"]
    ds = alice_ct()
    study = str(ds.StudyInstanceUID)
    squatter = another_instance(ds, PatientID="SQUAT", PatientName="Bob^Squat")
    assert bob.stow(squatter).status_code == 200
    answer = alice.stow(ds)
    assert answer.status_code == 200, answer.text
    assert value(alice.study_row(study), "00100020") == "ALICE-ID"
    assert value(bob.study_row(study), "00100020") == "SQUAT"


def test_a_reader_of_the_study_still_gets_the_conflict_listing_only_what_it_reads(people):
    alice = people["alice"]
    ds = alice_ct()
    assert alice.stow(ds).status_code == 200
    conflicting = another_instance(ds, PatientID="OTHER")
    answer = alice.stow(conflicting)
    assert answer.status_code == 409
    assert answer.json()["00081198"]["Value"][0]["00001005"]["Value"] == ["00100020"]


def test_an_album_study_row_shows_no_identity_of_a_series_that_left_the_album(people):
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    ds = alice_ct()
    study, alices = str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)
    bobs = another_instance(ds, PatientID="BOB-ID", PatientName="Bob^B", PatientBirthDate="19800101",
                            AccessionNumber="BOB-ACC", StudyDescription="Bob's")
    assert bob.stow(bobs).status_code == 200
    assert alice.stow(ds).status_code == 200
    board = alice.album()
    for email in ("bob@example.org", "carol@example.org"):
        assert alice.put(f"/albums/{board}/users/{email}").status_code == 201
    assert alice.put(f"/studies/{study}/albums/{board}", params={"inbox": "true"}).status_code == 201
    assert bob.put(f"/studies/{study}/albums/{board}", params={"inbox": "true"}).status_code == 201
    assert alice.delete(f"/studies/{study}/series/{alices}/albums/{board}").status_code == 204
    listed = carol.get("/studies", params={"album": board}).json()
    assert [value(r, "00100020") for r in listed] == ["BOB-ID"] and not leaked(listed)


# ---- item 9: coercion of missing study attributes ------------------------------------------


def test_missing_study_attributes_from_a_reader_are_coerced_with_a_warning(people):
    alice = people["alice"]
    ds = alice_ct()
    study = str(ds.StudyInstanceUID)
    assert alice.stow(ds).status_code == 200
    minimal = another_instance(ds, StudyDate=None, StudyID=None, PatientSex="")
    answer = alice.stow(minimal)
    assert answer.status_code == 202, answer.text
    stored = answer.json()["00081199"]["Value"][0]
    assert stored["00081196"]["Value"] == [0xB000]
    metadata = alice.get(f"/studies/{study}/series/{minimal.SeriesInstanceUID}/metadata").json()[0]
    assert value(metadata, "00080020") == "20240101" and value(metadata, "00200010") == "7"
    assert value(metadata, "00100040") == "F"


# ---- item 4: orphan series are purged ------------------------------------------------------


def test_an_orphan_series_is_purged_and_its_uids_start_an_empty_series(people):
    alice, bob = people["alice"], people["bob"]
    ds = alice_ct()
    study, series = str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)
    assert alice.stow(ds).status_code == 200
    assert alice.delete(f"/studies/{study}/series/{series}").status_code == 204

    bobs = another_instance(ds, series=series, PatientID="BOB-ID", PatientName="Bob^B", PatientBirthDate="19800101",
                            AccessionNumber="BOB-ACC", StudyDescription="Bob's")
    assert bob.stow(bobs).status_code == 200
    instances = bob.get(f"/studies/{study}/series/{series}/instances").json()
    assert [value(i, "00080018") for i in instances] == [str(bobs.SOPInstanceUID)]
    old = bob.get(f"/studies/{study}/series/{series}/instances/{ds.SOPInstanceUID}", allow_redirects=False)
    assert old.status_code == 404
    metadata = bob.get(f"/studies/{study}/series/{series}/metadata").json()
    assert [value(m, "00080018") for m in metadata] == [str(bobs.SOPInstanceUID)] and not leaked(metadata)


DICOM_MULTIPART = 'multipart/related; type="application/dicom"'


def _locations(api: Api, study: str, series: str, sops: list[str]) -> dict[str, str]:
    """The presigned URLs a reader of the series is sent to (303): series, study, study zip, and
    per instance the multipart rendition and the Part-10 file (WADO-URI)."""
    reads = {"series": (f"/studies/{study}/series/{series}", {}, DICOM_MULTIPART),
             "study": (f"/studies/{study}", {}, DICOM_MULTIPART),
             "zip": (f"/studies/{study}", {"accept": "application/zip"}, "*/*")}
    for sop in sops:
        reads[f"instance {sop}"] = (f"/studies/{study}/series/{series}/instances/{sop}", {}, DICOM_MULTIPART)
        reads[f"part10 {sop}"] = ("/wado", {"requestType": "WADO", "studyUID": study, "seriesUID": series,
                                            "objectUID": sop, "contentType": "application/dicom"}, "*/*")
    locations = {}
    for name, (path, params, accept) in reads.items():
        answer = api.get(path, params=params, headers={"Accept": accept}, allow_redirects=False)
        assert answer.status_code == 303, (name, answer.status_code, answer.text)
        locations[name] = answer.headers["Location"]
    return locations


def _series_of(study: str, series: str, sops: list[str], make) -> list[pydicom.Dataset]:
    datasets = []
    for sop in sops:
        ds = make()
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = sop
        datasets.append(ds)
    return datasets


def _bobs_ct() -> pydicom.Dataset:
    return alice_ct(PatientName="Bob^B", PatientID="BOB-ID", PatientBirthDate="19800101", AccessionNumber="BOB-ACC",
                    StudyDescription="Bob's", StudyID="8")


@pytest.mark.parametrize("same_sops", [False, True], ids=["new SOP UIDs", "same SOP UIDs"])
@pytest.mark.parametrize("first", ["bob", "alice"])
def test_urls_issued_before_a_purge_do_not_serve_the_series_stored_again_under_its_uids(people, first, same_sops):
    """A presigned URL outlives the purge of its series (docs/data-model.md): the series stored
    again under the same UIDs, by someone else, with as many instances, must have other object
    names, so the first owner's old URLs answer S3's 403/404, never the new owner's bytes."""
    owners = {"bob": (people["bob"], _bobs_ct, b"Bob^B"), "alice": (people["alice"], alice_ct, b"Alice^Secret")}
    (former, former_ct, _), (later, later_ct, later_name) = owners[first], owners["alice" if first == "bob" else "bob"]
    study, series = generate_uid(), generate_uid()
    former_sops = [generate_uid() for _ in range(3)]
    later_sops = former_sops if same_sops else [generate_uid() for _ in range(3)]
    assert former.stow(*_series_of(study, series, former_sops, former_ct)).status_code == 200
    old = _locations(former, study, series, former_sops)
    assert former.delete(f"/studies/{study}/series/{series}").status_code == 204

    assert later.stow(*_series_of(study, series, later_sops, later_ct)).status_code == 200
    for name, url in _locations(later, study, series, later_sops).items():
        own = requests.get(url, timeout=30)
        assert own.status_code == 200 and later_name in own.content, name
    stale = {name: requests.get(url, timeout=30) for name, url in old.items()}
    served = {name: answer.status_code for name, answer in stale.items()
              if answer.status_code not in (403, 404) or later_name in answer.content}
    assert served == {}


# ---- item 2: sendSeries=false keeps series in the album ------------------------------------


def test_a_series_seen_only_where_sending_is_off_cannot_leave_the_album(people):
    alice, bob = people["alice"], people["bob"]
    ds = alice_ct()
    study, series = str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)
    assert alice.stow(ds).status_code == 200
    closed = alice.album(sendSeries="false")
    assert alice.put(f"/albums/{closed}/users/bob@example.org").status_code == 201
    assert alice.put(f"/studies/{study}/albums/{closed}", params={"inbox": "true"}).status_code == 201
    own = bob.album()

    assert bob.put(f"/studies/{study}/series/{series}/albums/{own}").status_code == 404
    assert bob.put(f"/studies/{study}/albums/{own}", params={"album": closed}).status_code == 403
    assert bob.put(f"/studies/{study}/series/{series}/users/carol@example.org").status_code == 404
    appropriated = bob.stow(another_instance(ds, series=series))
    assert appropriated.status_code == 409
    assert appropriated.json()["00081198"]["Value"][0]["00081197"]["Value"] == [0x0124]
    assert bob.stow(another_instance(ds, series=series), album=own).status_code == 409

    assert alice.delete(f"/albums/{closed}/users/bob@example.org").status_code == 204
    assert bob.get(f"/studies/{study}/series/{series}/metadata").status_code == 404
    assert people["carol"].get(f"/studies/{study}/series/{series}/metadata").status_code == 404


def test_an_album_admin_may_still_send_what_the_album_holds(people):
    alice, bob = people["alice"], people["bob"]
    ds = alice_ct()
    study, series = str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)
    assert alice.stow(ds).status_code == 200
    closed = alice.album(sendSeries="false")
    assert alice.put(f"/studies/{study}/albums/{closed}", params={"inbox": "true"}).status_code == 201
    assert alice.delete(f"/studies/{study}/series/{series}").status_code == 204  # now only in the album
    other = alice.album()
    assert alice.put(f"/studies/{study}/series/{series}/albums/{other}").status_code == 201
    assert alice.put(f"/studies/{study}/series/{series}/users/bob@example.org").status_code == 201
    assert bob.get(f"/studies/{study}/series/{series}/metadata").status_code == 200


# ---- item 5: zips without album= follow downloadSeries -------------------------------------


def _zip_entries(api: Api, study: str, **params) -> tuple[int, int]:
    answer = api.get(f"/studies/{study}", params={"accept": "application/zip", **params}, allow_redirects=False)
    if answer.status_code != 303:
        return answer.status_code, 0
    archive = requests.get(answer.headers["Location"], timeout=60)
    return 200, len([n for n in zipfile.ZipFile(io.BytesIO(archive.content)).namelist() if not n.endswith("/")])


def test_a_zip_without_album_leaves_out_series_read_only_where_downloading_is_off(people):
    alice, bob = people["alice"], people["bob"]
    ds = alice_ct()
    study = str(ds.StudyInstanceUID)
    assert alice.stow(ds).status_code == 200
    no_download = alice.album(downloadSeries="false")
    assert alice.put(f"/albums/{no_download}/users/bob@example.org").status_code == 201
    assert alice.put(f"/studies/{study}/albums/{no_download}", params={"inbox": "true"}).status_code == 201

    assert _zip_entries(bob, study) == (403, 0)
    assert _zip_entries(bob, study, album=no_download) == (403, 0)
    second = another_instance(ds)
    assert alice.stow(second).status_code == 200
    assert alice.put(f"/studies/{study}/series/{second.SeriesInstanceUID}/users/bob@example.org").status_code == 201
    assert _zip_entries(bob, study) == (200, 1)  # the inbox series only
    assert _zip_entries(alice, study) == (200, 2)


# ---- item 6: includefield reads are audited ------------------------------------------------


def test_qido_with_includefield_all_leaves_a_read_in_the_audit_trail(people):
    alice, bob = people["alice"], people["bob"]
    ds = alice_ct()
    study, series = str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)
    assert alice.stow(ds).status_code == 200
    album = alice.album()
    assert alice.put(f"/albums/{album}/users/bob@example.org").status_code == 201
    assert alice.put(f"/studies/{study}/albums/{album}", params={"inbox": "true"}).status_code == 201
    answer = bob.get(f"/studies/{study}/series/{series}/instances", params={"includefield": "all", "album": album})
    assert answer.status_code == 200
    reads = alice.get(f"/albums/{album}/reads").json()
    assert any(r["series_uid"] == series and r["study_uid"] == study for r in reads), reads


# ---- item 1: embeddable reporting reads only what the launching admin can read --------------


def test_a_report_on_a_study_the_site_admin_cannot_read_carries_only_the_sites_data(stack, tokens, people):
    alice, carol = people["alice"], people["carol"]
    configure_site(stack, tokens, "sec-data-site")
    ds = alice_ct()
    study = str(ds.StudyInstanceUID)
    assert alice.stow(ds).status_code == 200
    _, session = open_session(stack, tokens, "sec-data-site", f"sec-{generate_uid()[-12:]}", study)
    signed = sign(stack, session, "Findings.", "Impression.")
    sr_series = signed["sr"]["seriesInstanceUID"]
    row = carol.study_row(study)
    assert value(row, "00100020") == "test-mrn" and not leaked(row)
    metadata = carol.get(f"/studies/{study}/series/{sr_series}/metadata").json()
    assert not leaked(metadata)
    assert carol.get(f"/studies/{study}/series/{ds.SeriesInstanceUID}/metadata").status_code == 404
    assert value(alice.study_row(study), "00201206") == 1  # alice's study is hers alone


def test_signing_what_cannot_make_a_valid_report_is_refused_before_anything_is_stored(stack, tokens, people):
    carol = people["carol"]
    configure_site(stack, tokens, "sec-data-site")
    study = generate_uid()
    launched = launch(stack, tokens("carol"), launch_tags("sec-data-site", f"sec-{study[-12:]}", study, PatientMRN=None))
    code = launched.json()["reportLink"].split("code=")[1]
    session = {"x-report-session": requests.post(f"{stack.api_url}/report/session", json={"code": code},
                                                  timeout=30).json()["session"]}
    refused = requests.post(f"{stack.api_url}/report/current/sign", headers=session, timeout=60,
                            json={"findings": "Findings.", "impression": "Impression."})
    assert refused.status_code == 400, refused.text
    assert set(refused.json()) >= {"message", "detail"}
    assert carol.study_row(study) is None  # no SR stored
    current = requests.get(f"{stack.api_url}/report/current", headers=session, timeout=30).json()
    assert (current["status"], current["version"]) == ("Draft", 0)


# ---- item 7: decompression bombs -----------------------------------------------------------


def test_decompression_bombs_are_refused_per_instance_with_nothing_stored(people):
    alice = people["alice"]
    deflated, rle = bombs.deflated(128 << 20), bombs.rle(8192)
    boundary = "bomb-boundary"
    headers = {"Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
               "Accept": "application/dicom+json"}
    alone = alice.post("/studies", data=deflated, headers={"Content-Type": "application/dicom"})
    assert alone.status_code == 413 and "inflates beyond" in alone.json()["detail"]
    good = alice_ct()
    body = b"".join(f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + part + b"\r\n"
                    for part in (part10(good), deflated, rle)) + f"--{boundary}--\r\n".encode()
    mixed = alice.post("/studies", data=body, headers=headers)
    assert mixed.status_code == 202, mixed.text
    failed = mixed.json()["00081198"]["Value"]
    assert [f["00081197"]["Value"] for f in failed] == [[0xA700], [0xA700]]
    for bomb in (deflated, rle):
        study = pydicom.dcmread(io.BytesIO(bomb), stop_before_pixels=True).StudyInstanceUID
        assert alice.study_row(str(study)) is None


# ---- item 8 (issue 19): UIDs longer than 64 characters -------------------------------------


def _long_uid(length: int) -> str:
    return ("2.25." + "1" * length)[:length]


def test_uids_longer_than_64_characters_are_stored_up_to_the_keyable_bound(people):
    alice = people["alice"]
    ds = alice_ct(SeriesInstanceUID=_long_uid(68))
    study = str(ds.StudyInstanceUID)
    answer = alice.stow(ds)
    assert answer.status_code == 200, answer.text
    assert [value(s, "0020000E") for s in alice.get(f"/studies/{study}/series").json()] == [_long_uid(68)]
    assert alice.get(f"/studies/{study}/series/{_long_uid(68)}/metadata").status_code == 200

    beyond = another_instance(ds, SOPInstanceUID=_long_uid(129))
    fine = another_instance(ds)
    mixed = alice.stow(beyond, fine)
    assert mixed.status_code == 202, mixed.text  # never the whole request
    failed = mixed.json()["00081198"]["Value"]
    assert [f["00081197"]["Value"] for f in failed] == [[0xC000]]
    assert "128" in failed[0]["00000902"]["Value"][0]
    alone = alice.stow(another_instance(ds, SOPInstanceUID=_long_uid(129)))
    assert alone.status_code == 409 and alone.json()["00081198"]["Value"][0]["00081197"]["Value"] == [0xC000]

"""Research albums against the stack (docs/research-albums.md): members and album tokens only ever
get de-identified copies, whatever they ask; copies keep one study and resolvable references;
each album its own pseudonyms; series that may show identifiers in pixels wait for an admin."""
from __future__ import annotations

import io
import zipfile
from contextlib import contextmanager
from itertools import count

import pydicom
import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from devstack import bootstrap
from tests.integration.webhook_receiver import Receiver, wait_until
from tests.support.planted import PLANTABLE_TAGS, encoded, free_text_marker, planted

NOT_HELD = ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "test-SR.dcm")
PLANTED: set[str] = set()  # every value planted in this module's research album so far
TOKENS = count()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def stow(stack, token: str, album: str | None, datasets) -> None:
    boundary = "researchboundary"
    body = b"".join(f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + encoded(ds) + b"\r\n"
                    for ds in datasets) + f"--{boundary}--\r\n".encode()
    response = requests.post(f"{stack.api_url}/studies", params={"album": album} if album else {}, data=body, timeout=120,
                             headers={**bearer(token), "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}'})
    assert response.status_code == 200, response.text


def create_album(stack, token: str, **fields) -> str:
    response = requests.post(f"{stack.api_url}/albums", headers=bearer(token), timeout=30,
                             data={"name": "research", "research": "true", **fields})
    assert response.status_code == 201, response.text
    assert "research" in response.json()
    return response.json()["album_id"]


def studies(stack, token: str, **params) -> list[dict]:
    response = requests.get(f"{stack.api_url}/studies", headers=bearer(token), timeout=60, params=params)
    assert response.status_code in (200, 204), response.text
    return [] if response.status_code == 204 else response.json()


def uid(row: dict, tag: str = "0020000D") -> str:
    return row[tag]["Value"][0]


@pytest.fixture(scope="module")
def research(stack, tokens):
    """alice's research album (basic profile), bob a member, an album token, a webhook receiver."""
    alice = tokens("alice")
    assert requests.get(f"{stack.api_url}/inboxinfo", headers=bearer(tokens("bob")), timeout=30).status_code == 200
    album = create_album(stack, alice)
    url = stack.api_url
    assert requests.put(f"{url}/albums/{album}/users/bob@example.org", headers=bearer(alice), timeout=30).status_code == 201
    token = requests.post(f"{url}/capabilities", headers=bearer(alice), timeout=30, data={
        "title": "outside lab", "scope_type": "album", "album": album, "read_permission": "true",
        "download_permission": "true", "appropriate_permission": "true"}).json()["access_token"]
    receiver = Receiver()
    hook = requests.post(f"{url}/albums/{album}/webhooks", headers=bearer(alice), timeout=30,
                         data={"url": receiver.url, "name": "lab", "event": "new_series"})
    assert hook.status_code == 201, hook.text
    try:
        yield {"album": album, "alice": alice, "bob": tokens("bob"), "token": token, "receiver": receiver}
    finally:
        receiver.close()


def answers(stack, research: dict) -> list[bytes]:
    """Everything the album's member (bob) and token can get: QIDO at each level with
    includefield=all, metadata, WADO Part-10, zip, rendered images, the album and its events."""
    url, album = stack.api_url, research["album"]
    out = []
    for token, params in ((research["token"], {}), (research["bob"], {"album": album})):
        auth = bearer(token)
        listed = requests.get(f"{url}/studies", headers=auth, timeout=60, params={**params, "includefield": "all"})
        out.append(listed.content)
        for study_row in ([] if listed.status_code == 204 else listed.json()):
            study = uid(study_row)
            for path in ("series", "instances"):
                out.append(requests.get(f"{url}/studies/{study}/{path}", headers=auth, timeout=60,
                                        params={**params, "includefield": "all"}).content)
            out.append(requests.get(f"{url}/studies/{study}/metadata", headers=auth, timeout=60, params=params).content)
            zipped = requests.get(f"{url}/studies/{study}", headers=auth, timeout=120, params={**params, "accept": "application/zip"})
            assert zipped.status_code == 200, zipped.text
            archive = zipfile.ZipFile(io.BytesIO(zipped.content))
            out.extend(archive.read(name) for name in archive.namelist())
            instances = requests.get(f"{url}/studies/{study}/instances", headers=auth, timeout=60, params=params).json()
            for row in instances:
                base = f"{url}/studies/{study}/series/{uid(row, '0020000E')}/instances/{uid(row, '00080018')}"
                part10 = requests.get(base, timeout=60, params=params, headers={
                    **auth, "Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'})
                assert part10.status_code == 200, part10.text
                out.append(part10.content)
                wado_uri = requests.get(f"{url}/wado", headers=auth, timeout=60, params={
                    **params, "requestType": "WADO", "studyUID": study, "seriesUID": uid(row, "0020000E"),
                    "objectUID": uid(row, "00080018"), "contentType": "application/dicom"})
                assert wado_uri.status_code == 200
                out.append(wado_uri.content)
                out.append(requests.get(f"{base}/rendered", headers=auth, timeout=60, params=params).content)
    out.append(requests.get(f"{url}/albums/{album}", headers=bearer(research["bob"]), timeout=30).content)
    out.append(requests.get(f"{url}/albums/{album}/events", headers=bearer(research["bob"]), timeout=30).content)
    out.append(requests.get(f"{url}/albums/{album}/events", headers=bearer(research["token"]), timeout=30).content)
    out.extend(r.body for r in research["receiver"].received)
    return out


def leaks(stack, research: dict, values: set[str]) -> list[str]:
    """The values found in any answer, whatever their case (a name may come back in lower case)."""
    got = [body.lower() for body in answers(stack, research)]
    return sorted(v for v in values if any(v.lower().encode() in body for body in got))


@settings(max_examples=3, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck),
          phases=(Phase.explicit, Phase.generate))  # no shrinking: each example is a STOW and a copy
@given(name=st.sampled_from(NOT_HELD), share=st.floats(0.3, 1.0), nested=st.booleans())
def test_no_planted_identifier_reaches_a_member_or_token_of_a_research_album(stack, research, name, share, nested):
    token = f"PLT{next(TOKENS):03d}"
    dataset, values = planted(name, token, PLANTABLE_TAGS[: max(1, int(len(PLANTABLE_TAGS) * share))], nested=nested)
    PLANTED.update(values | {free_text_marker(token)})  # the album's basic profile replaces free text whole
    known = {uid(s) for s in studies(stack, research["token"])}
    stow(stack, research["alice"], research["album"], [dataset])
    wait_until(lambda: {uid(s) for s in studies(stack, research["token"])} - known, timeout=90)
    assert not leaks(stack, research, PLANTED)
    original = str(dataset.StudyInstanceUID)
    for token_ in (research["token"], research["bob"]):
        missing = requests.get(f"{stack.api_url}/studies/{original}/metadata", headers=bearer(token_), timeout=30)
        assert missing.status_code == 404


def test_a_clean_descriptors_album_keeps_descriptions_and_sr_text_without_the_identifiers(stack, tokens):
    """Attack round 5, L1/L3: under cleanDescriptors the kept descriptions and SR text showed the
    patient's name, MRN digits and birth date written differently; no member answer may."""
    from pydicom.datadict import keyword_for_tag

    from chalicelib.dicom.deid_profile import Profile

    alice, bob = tokens("alice"), tokens("bob")
    url = stack.api_url
    assert requests.get(f"{url}/inboxinfo", headers=bearer(bob), timeout=30).status_code == 200
    album = create_album(stack, alice, name="clean", cleanDescriptors="true", retainLongitudinal="true")
    assert requests.put(f"{url}/albums/{album}/users/bob@example.org", headers=bearer(alice), timeout=30).status_code == 201
    token = requests.post(f"{url}/capabilities", headers=bearer(alice), timeout=30, data={
        "title": "clean lab", "scope_type": "album", "album": album, "read_permission": "true",
        "download_permission": "true"}).json()["access_token"]
    kept = Profile(clean_descriptors=True).retained_keywords()
    dataset, values = planted("test-SR.dcm", "CLNSRX", [t for t in PLANTABLE_TAGS if keyword_for_tag(t) not in kept],
                              nested=True)
    stow(stack, alice, album, [dataset])
    [copy] = wait_until(lambda: studies(stack, token, includefield="00081030"), timeout=90)
    assert copy["00081030"]["Value"][0].startswith("seen")  # the description is kept, cleaned
    receiver = Receiver()
    try:
        assert not leaks(stack, {"album": album, "token": token, "bob": bob, "receiver": receiver}, values)
    finally:
        receiver.close()


def test_webhook_payloads_of_a_research_album_name_only_copies(stack, research):
    if not PLANTED:
        pytest.skip("runs after the property test, which plants the values")
    wait_until(lambda: research["receiver"].received, timeout=90)  # new_series after its quiet period
    assert not leaks(stack, research, PLANTED)


def _sr_referencing(images: list[Dataset]) -> Dataset:
    """A Basic Text SR of the images' study, citing each image in its content and its evidence."""
    sr = pydicom.dcmread(get_testdata_file("test-SR.dcm"))
    first = images[0]
    sr.StudyInstanceUID, sr.SeriesInstanceUID = first.StudyInstanceUID, generate_uid()
    sr.SOPInstanceUID = sr.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    for keyword in ("PatientID", "PatientName", "PatientSex", "PatientBirthDate", "StudyDate", "StudyID", "AccessionNumber"):
        setattr(sr, keyword, first.get(keyword, ""))
    items = []
    for image in images:
        reference = Dataset()
        reference.ReferencedSOPClassUID, reference.ReferencedSOPInstanceUID = image.SOPClassUID, image.SOPInstanceUID
        item = Dataset()
        item.RelationshipType, item.ValueType = "CONTAINS", "IMAGE"
        item.ReferencedSOPSequence = Sequence([reference])
        items.append(item)
    sr.ContentSequence = Sequence(items)
    series = {}
    for image in images:
        reference = Dataset()
        reference.ReferencedSOPClassUID, reference.ReferencedSOPInstanceUID = image.SOPClassUID, image.SOPInstanceUID
        series.setdefault(str(image.SeriesInstanceUID), []).append(reference)
    evidence = Dataset()
    evidence.StudyInstanceUID = first.StudyInstanceUID
    evidence.ReferencedSeriesSequence = Sequence([])
    for series_uid, references in series.items():
        entry = Dataset()
        entry.SeriesInstanceUID = series_uid
        entry.ReferencedSOPSequence = Sequence(references)
        evidence.ReferencedSeriesSequence.append(entry)
    sr.CurrentRequestedProcedureEvidenceSequence = Sequence([evidence])
    return sr


def _image_study() -> list[Dataset]:
    study, patient = generate_uid(), f"PAT{generate_uid()[-8:]}"
    images = []
    for name, series in (("CT_small.dcm", generate_uid()), ("CT_small.dcm", None), ("MR_small.dcm", generate_uid())):
        image = pydicom.dcmread(get_testdata_file(name))
        image.StudyInstanceUID, image.PatientID = study, patient
        if images:  # one study: the same patient and study identity in every series
            for keyword in ("PatientName", "PatientSex", "PatientBirthDate", "StudyDate", "StudyID", "AccessionNumber"):
                setattr(image, keyword, images[0].get(keyword, ""))
        image.SeriesInstanceUID = series or images[0].SeriesInstanceUID
        image.SOPInstanceUID = image.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        images.append(image)
    return images


def _values(element_list, keyword: str) -> set[str]:
    return {str(v) for item in element_list for v in ([item[keyword]] if keyword in item else [])}


def test_a_study_and_its_sr_arrive_as_one_study_with_resolvable_references(stack, tokens):
    alice = tokens("alice")
    album = create_album(stack, alice, name="references")
    token = requests.post(f"{stack.api_url}/capabilities", headers=bearer(alice), timeout=30, data={
        "title": "t", "scope_type": "album", "album": album, "read_permission": "true"}).json()["access_token"]
    images = _image_study()
    stow(stack, alice, album, [*images, _sr_referencing(images)])
    [study] = wait_until(lambda: [s for s in studies(stack, token, includefield="00201206")
                                  if s.get("00201206", {}).get("Value") == [3]], timeout=120)
    copy_study = uid(study)
    assert copy_study != str(images[0].StudyInstanceUID)
    metadata = requests.get(f"{stack.api_url}/studies/{copy_study}/metadata", headers=bearer(token), timeout=60).json()
    datasets = [Dataset.from_json(m) for m in metadata]
    [sr] = [d for d in datasets if d.Modality == "SR"]
    image_uids = {str(d.SOPInstanceUID) for d in datasets if d.Modality != "SR"}
    series_uids = {str(d.SeriesInstanceUID) for d in datasets if d.Modality != "SR"}
    assert len(image_uids) == 3 and len(series_uids) == 2
    cited = {str(r.ReferencedSOPInstanceUID) for item in sr.ContentSequence for r in item.ReferencedSOPSequence}
    assert cited == image_uids
    [evidence] = sr.CurrentRequestedProcedureEvidenceSequence
    assert str(evidence.StudyInstanceUID) == copy_study
    assert {str(s.SeriesInstanceUID) for s in evidence.ReferencedSeriesSequence} == series_uids
    assert {str(r.ReferencedSOPInstanceUID) for s in evidence.ReferencedSeriesSequence
            for r in s.ReferencedSOPSequence} == image_uids
    assert len({str(d.PatientID) for d in datasets}) == 1


def test_the_same_patient_shared_into_two_research_albums_gets_two_pseudonyms(stack, tokens):
    alice = tokens("alice")
    image = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    image.StudyInstanceUID, image.SeriesInstanceUID = generate_uid(), generate_uid()
    image.SOPInstanceUID = image.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    image.PatientID = f"PAT{generate_uid()[-10:]}"
    stow(stack, alice, None, [image])  # into alice's inbox, then shared into both albums
    study, series = str(image.StudyInstanceUID), str(image.SeriesInstanceUID)
    pseudonyms = []
    for name in ("first", "second"):
        album = create_album(stack, alice, name=name)
        shared = requests.put(f"{stack.api_url}/studies/{study}/series/{series}/albums/{album}", headers=bearer(alice),
                              params={"inbox": "true"}, timeout=60)
        assert shared.status_code == 201, shared.text
        [copy] = wait_until(lambda album=album: studies(stack, alice, album=album, includefield="00100020"), timeout=90)
        assert uid(copy) != study
        pseudonyms.append(copy["00100020"]["Value"][0])
    assert pseudonyms[0] != pseudonyms[1] and image.PatientID not in pseudonyms
    assert study in {uid(s) for s in studies(stack, alice, inbox="true")}  # the original stays where it was


def test_an_ultrasound_series_waits_for_an_admin_and_appears_once_released(stack, tokens):
    alice, bob = tokens("alice"), tokens("bob")
    assert requests.get(f"{stack.api_url}/inboxinfo", headers=bearer(bob), timeout=30).status_code == 200
    album = create_album(stack, alice, name="ultrasound")
    url = stack.api_url
    assert requests.put(f"{url}/albums/{album}/users/bob@example.org", headers=bearer(alice), timeout=30).status_code == 201
    image = pydicom.dcmread(get_testdata_file("US1_UNCR.dcm"))
    image.StudyInstanceUID, image.SeriesInstanceUID = generate_uid(), generate_uid()
    image.SOPInstanceUID = image.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    stow(stack, alice, album, [image])

    def held_count():
        return requests.get(f"{url}/albums/{album}", headers=bearer(bob), timeout=30).json()["research"]["held_series"]

    wait_until(lambda: held_count() == 1, timeout=90)
    listed = requests.get(f"{url}/albums/{album}/held", headers=bearer(alice), timeout=30)
    assert listed.status_code == 200
    [held] = listed.json()
    assert held["modality"] == "US" and held["reason"] == "modality US" and held["number_of_instances"] == 1
    assert str(image.StudyInstanceUID) not in listed.text and str(image.SeriesInstanceUID) not in listed.text
    assert studies(stack, bob, album=album) == []
    assert requests.get(f"{url}/albums/{album}/held", headers=bearer(bob), timeout=30).status_code == 403
    assert requests.post(f"{url}/albums/{album}/held/{held['id']}/release", headers=bearer(bob), timeout=30).status_code == 403

    released = requests.post(f"{url}/albums/{album}/held/{held['id']}/release", headers=bearer(alice), timeout=30)
    assert released.status_code == 204, released.text
    [copy] = wait_until(lambda: studies(stack, bob, album=album, includefield="00080061"), timeout=90)
    assert uid(copy) != str(image.StudyInstanceUID) and copy["00080061"]["Value"] == ["US"]
    assert held_count() == 0
    statistics = wait_until(lambda: requests.get(f"{url}/albums/{album}", headers=bearer(bob), timeout=30).json()["research"]
                            if requests.get(f"{url}/albums/{album}", headers=bearer(bob), timeout=30).json()["research"]["copied_series"]
                            else None, timeout=30)
    assert statistics["copied_series"] == 1 and statistics["copies_size"] > 0  # the copies' storage is counted


def test_a_research_albums_answer_shows_what_members_may_do_and_counts_series_not_copy_runs(stack, tokens):
    """The answer said `add_series: true` to members who get 403 adding; `copied_series` counted
    copy runs (8 for 7 series after a re-share): a series re-shared with one more instance is one."""
    alice, bob = tokens("alice"), tokens("bob")
    url = stack.api_url
    assert requests.get(f"{url}/inboxinfo", headers=bearer(bob), timeout=30).status_code == 200
    album = create_album(stack, alice, name="counts")
    assert requests.put(f"{url}/albums/{album}/users/bob@example.org", headers=bearer(alice), timeout=30).status_code == 201
    first = ct_image()
    stow(stack, alice, None, [first])
    share_url = f"{url}/studies/{first.StudyInstanceUID}/series/{first.SeriesInstanceUID}/albums/{album}"

    def answer() -> dict:
        return requests.get(f"{url}/albums/{album}", headers=bearer(bob), timeout=30).json()

    assert requests.put(share_url, headers=bearer(alice), params={"inbox": "true"}, timeout=60).status_code == 201
    copied = wait_until(lambda: answer()["research"]["copies_size"], timeout=90)  # the copy run is over
    second = ct_image()
    second.StudyInstanceUID, second.SeriesInstanceUID = first.StudyInstanceUID, first.SeriesInstanceUID
    stow(stack, alice, None, [second])
    assert requests.put(share_url, headers=bearer(alice), params={"inbox": "true"}, timeout=60).status_code == 201
    shown = wait_until(lambda: (lambda body: body if body["research"]["copies_size"] > copied else None)(answer()),
                       timeout=90)  # the second copy run is over: it counted the new instance's bytes
    assert shown["number_of_instances"] == 2 and shown["number_of_series"] == 1
    assert shown["research"]["copied_series"] == 1
    assert shown["add_series"] is False
    assert post_stow(stack, bob, album, [ct_image()]).status_code == 403  # what the flag says


# ---- who may add to a research album (docs/research-albums.md, who adds) ---------------------


def post_stow(stack, token: str, album: str | None, datasets) -> requests.Response:
    boundary = "researchboundary"
    body = b"".join(f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + encoded(ds) + b"\r\n"
                    for ds in datasets) + f"--{boundary}--\r\n".encode()
    return requests.post(f"{stack.api_url}/studies", params={"album": album} if album else {}, data=body, timeout=120,
                         headers={**bearer(token), "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}'})


def ultrasound(study: str | None = None, series: str | None = None) -> Dataset:
    """An instance held in the intake until released: it stays there while the test runs."""
    image = pydicom.dcmread(get_testdata_file("US1_UNCR.dcm"))
    image.StudyInstanceUID, image.SeriesInstanceUID = study or generate_uid(), series or generate_uid()
    image.SOPInstanceUID = image.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    return image


@pytest.fixture(scope="module")
def contributors(stack, tokens):
    """A research album of alice's with carol a second admin, bob a member (addSeries on, as by
    default) and an album token scoped write; alice's series S waits in its intake (held)."""
    alice, bob, carol = tokens("alice"), tokens("bob"), tokens("carol")
    url = stack.api_url
    for token in (bob, carol):
        assert requests.get(f"{url}/inboxinfo", headers=bearer(token), timeout=30).status_code == 200
    album = create_album(stack, alice, name="contributors")
    for name in ("bob", "carol"):
        assert requests.put(f"{url}/albums/{album}/users/{name}@example.org", headers=bearer(alice), timeout=30).status_code == 201
    assert requests.put(f"{url}/albums/{album}/users/carol@example.org/admin", headers=bearer(alice), timeout=30).status_code in (200, 204)
    writer = requests.post(f"{url}/capabilities", headers=bearer(alice), timeout=30, data={
        "title": "lab writer", "scope_type": "album", "album": album, "read_permission": "true",
        "write_permission": "true"}).json()["access_token"]
    original = ultrasound()
    stow(stack, alice, None, [original])
    study, series = str(original.StudyInstanceUID), str(original.SeriesInstanceUID)
    shared = requests.put(f"{url}/studies/{study}/series/{series}/albums/{album}", headers=bearer(alice),
                          params={"inbox": "true"}, timeout=60)
    assert shared.status_code == 201, shared.text
    wait_until(lambda: requests.get(f"{url}/albums/{album}", headers=bearer(alice), timeout=30)
               .json()["research"]["held_series"] == 1, timeout=90)
    return {"album": album, "alice": alice, "bob": bob, "carol": carol, "writer": writer, "study": study, "series": series}


def inbox_instances(stack, token: str, study: str, series: str) -> int:
    listed = requests.get(f"{stack.api_url}/studies/{study}/series/{series}/instances", headers=bearer(token),
                          params={"inbox": "true"}, timeout=60)
    assert listed.status_code == 200, listed.text
    return len(listed.json())


def test_a_series_waiting_in_the_intake_takes_instances_from_nobody_but_who_may_add_to_it(stack, contributors):
    """W1: waiting in the intake entitles nobody: another admin of the album, who cannot read
    alice's series, cannot join instances to it through the album (nor a member, nor the album's
    token); alice's series keeps its one instance."""
    c = contributors
    for who in ("carol", "bob", "writer"):
        answer = post_stow(stack, c[who], c["album"], [ultrasound(c["study"], c["series"])])
        assert answer.status_code in (403, 409), (who, answer.status_code, answer.text)
    assert inbox_instances(stack, c["alice"], c["study"], c["series"]) == 1


def test_members_album_tokens_and_viewers_of_a_research_album_add_no_series(stack, contributors):
    """W4: adding series to a research album teaches its date shift and pseudonyms: only its
    admins may; a member (addSeries on) and a write album token are refused 403, documented shape."""
    c = contributors
    for who in ("bob", "writer"):
        answer = post_stow(stack, c[who], c["album"], [ultrasound()])
        assert answer.status_code == 403, (who, answer.text)
        assert set(answer.json()) >= {"message", "detail"}
    shared = requests.put(f"{stack.api_url}/studies/{c['study']}/series/{c['series']}/albums/{c['album']}",
                          headers=bearer(c["bob"]), params={"inbox": "true"}, timeout=60)
    assert shared.status_code in (403, 404)
    assert post_stow(stack, c["carol"], c["album"], [ultrasound()]).status_code == 200  # an admin adds


def test_a_stow_into_a_research_album_says_nothing_of_what_waits_in_its_intake(stack, contributors):
    """W3: for a principal that may not add, a known series waiting in the intake and one that is
    not answer alike."""
    c = contributors
    elsewhere = ultrasound()
    stow(stack, c["alice"], None, [elsewhere])  # in alice's inbox only
    for who in ("bob", "carol"):
        waiting = post_stow(stack, c[who], c["album"], [ultrasound(c["study"], c["series"])])
        not_waiting = post_stow(stack, c[who], c["album"], [ultrasound(str(elsewhere.StudyInstanceUID),
                                                                      str(elsewhere.SeriesInstanceUID))])
        assert refusal(waiting) == refusal(not_waiting), who


def refusal(answer: requests.Response) -> tuple:
    """A refused STOW as a caller sees it: the status, the message, the failure reasons."""
    body = answer.json()
    reasons = [item.get("00081197", {}).get("Value") for item in body.get("00081198", {}).get("Value", [])]
    return answer.status_code, body.get("message"), reasons


def test_the_sender_of_a_series_goes_on_storing_it_into_the_research_album(stack, contributors):
    """A STOW in several requests: the series only the intake holds takes its sender's next
    instances (and nobody else's)."""
    c = contributors
    first = ultrasound()
    stow(stack, c["alice"], c["album"], [first])
    following = ultrasound(str(first.StudyInstanceUID), str(first.SeriesInstanceUID))
    assert post_stow(stack, c["carol"], c["album"], [following]).status_code == 409
    stow(stack, c["alice"], c["album"], [following])



# ---- entering the intake: placed with its message, or not at all --------------------------------

SETTABLE_QUEUE_ATTRIBUTES = ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "MaximumMessageSize",
                             "ReceiveMessageWaitTimeSeconds", "RedrivePolicy")


@contextmanager
def research_queue_missing(stack):
    """The research queue deleted for the block (a queue the deployment lost), then made again as it was."""
    sqs = bootstrap.aws_client("sqs", stack.emulator_url)
    name = stack.api_environment().get("OBELISK_RESEARCH_QUEUE", f"obelisk-{stack.stage}-research")
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    sqs.delete_queue(QueueUrl=url)
    try:
        yield
    finally:
        sqs.create_queue(QueueName=name, Attributes={k: v for k, v in attributes.items() if k in SETTABLE_QUEUE_ATTRIBUTES})


def ct_image() -> Dataset:
    image = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    image.StudyInstanceUID, image.SeriesInstanceUID = generate_uid(), generate_uid()
    image.SOPInstanceUID = image.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    return image


def test_a_series_whose_entry_failed_is_not_left_in_the_intake(stack, tokens):
    """W2: when the research queue cannot take the message, the STOW and the share fail and
    leave nothing in the intake: once the queue is back, sending again gets the series copied
    (before, the series stayed in the intake without a message: never copied, and the same
    upload or share again placed nothing new)."""
    alice = tokens("alice")
    album = create_album(stack, alice, name="entry")
    stored, shared = ct_image(), ct_image()
    stow(stack, alice, None, [shared])  # in alice's inbox, shared below
    share_url = f"{stack.api_url}/studies/{shared.StudyInstanceUID}/series/{shared.SeriesInstanceUID}/albums/{album}"
    with research_queue_missing(stack):
        assert post_stow(stack, alice, album, [stored]).status_code >= 500
        assert requests.put(share_url, headers=bearer(alice), params={"inbox": "true"}, timeout=60).status_code >= 500
    stow(stack, alice, album, [stored])
    assert requests.put(share_url, headers=bearer(alice), params={"inbox": "true"}, timeout=60).status_code == 201
    copies = wait_until(lambda: (lambda rows: rows if len(rows) == 2 else None)(studies(stack, alice, album=album)), timeout=120)
    assert {uid(c) for c in copies}.isdisjoint({str(stored.StudyInstanceUID), str(shared.StudyInstanceUID)})

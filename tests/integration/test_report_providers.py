"""A report provider written from docs/kheops-compatibility.md §11 does the whole round trip, and every
misuse of codes, assertions and tokens is refused."""
from __future__ import annotations

import json
import re
import uuid
from urllib.parse import parse_qs, urlsplit

import pydicom
import pytest
import requests
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from tests.dicomweb_session import DICOMwebClient
from tests.support.report_provider import ReportProviderApp

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def album_with_study(stack, tokens):
    """alice's album holding the CT study; the MR study stays in her inbox only."""
    ct, mr = (pydicom.dcmread(get_testdata_file(n)) for n in ("CT_small.dcm", "MR_small.dcm"))
    DICOMwebClient(stack.api_url, headers=bearer(tokens("alice"))).store_instances([ct, mr])
    album = requests.post(f"{stack.api_url}/albums", headers=bearer(tokens("alice")), timeout=10,
                          data={"name": "reporting"}).json()["album_id"]
    shared = requests.put(f"{stack.api_url}/studies/{ct.StudyInstanceUID}/albums/{album}", params={"inbox": "true"},
                          headers=bearer(tokens("alice")), timeout=10)
    assert shared.status_code == 201
    return {"album": album, "study": ct, "other": mr}


@pytest.fixture(scope="module")
def provider(stack, tokens, album_with_study):
    app = ReportProviderApp()
    created = requests.post(f"{stack.api_url}/albums/{album_with_study['album']}/reportproviders",
                            headers=bearer(tokens("alice")), data={"name": "Test RP", "url": app.url}, timeout=10)
    assert created.status_code == 201, created.text
    app.client_id = created.json()["client_id"]
    yield app
    app.close()


def launch(stack, token: str, client_id: str, study_uid: str) -> requests.Response:
    return requests.post(f"{stack.api_url}/report", timeout=10,
                         data={"access_token": token, "client_id": client_id, "studyUID": study_uid})


def launched_code(stack, tokens, provider, album_with_study) -> dict[str, list[str]]:
    page = launch(stack, tokens("alice"), provider.client_id, str(album_with_study["study"].StudyInstanceUID))
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    target = re.search(r"URL='([^']+)'", page.text).group(1).replace("&amp;", "&")
    assert target.startswith(provider.configuration()["redirect_uri"] + "?")
    return parse_qs(urlsplit(target).query)


def test_registration_lists_and_tests_the_configuration(stack, tokens, provider, album_with_study):
    album = album_with_study["album"]
    listed = requests.get(f"{stack.api_url}/albums/{album}/reportproviders", headers=bearer(tokens("alice")), timeout=10)
    assert [p["client_id"] for p in listed.json()] == [provider.client_id]
    tested = requests.post(f"{stack.api_url}/reportproviders/metadata", headers=bearer(tokens("alice")),
                           data={"url": provider.url}, timeout=10).json()
    assert tested["valid"] is True and tested["redirect_uri"] == provider.configuration()["redirect_uri"]
    broken = requests.post(f"{stack.api_url}/reportproviders/metadata", headers=bearer(tokens("alice")),
                           data={"url": provider.base + "/nothing-here"}, timeout=10).json()
    assert broken["valid"] is False and broken["error_description"]


def encapsulated_pdf(study: Dataset) -> Dataset:
    report = Dataset()
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyDate",
                    "StudyTime", "AccessionNumber", "StudyID", "ReferringPhysicianName"):
        setattr(report, keyword, study.get(keyword, ""))
    report.SOPClassUID = "1.2.840.10008.5.1.4.1.1.104.1"
    report.SOPInstanceUID = generate_uid()
    report.SeriesInstanceUID = generate_uid()
    report.Modality = "DOC"
    report.SeriesNumber = 99
    report.InstanceNumber = 1
    report.MIMETypeOfEncapsulatedDocument = "application/pdf"
    report.DocumentTitle = "Report"
    report.BurnedInAnnotation = "YES"
    return report


def stow_json_with_pdf(stack, token: str, report: Dataset) -> requests.Response:
    """How report tools upload: DICOM JSON metadata plus the PDF as a bulk-data part."""
    location = f"urn:uuid:{uuid.uuid4()}"
    metadata = report.to_json_dict()
    metadata["00420011"] = {"vr": "OB", "BulkDataURI": location}
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Type: application/dicom+json\r\n\r\n{json.dumps([metadata])}\r\n"
            f"--{boundary}\r\nContent-Type: application/pdf\r\nContent-Location: {location}\r\n\r\n").encode()
    body += PDF + f"\r\n--{boundary}--\r\n".encode()
    return requests.post(f"{stack.api_url}/studies", data=body, timeout=30, headers={
        **bearer(token), "Content-Type": f'multipart/related; type="application/dicom+json"; boundary={boundary}'})


def test_round_trip(stack, tokens, provider, album_with_study):
    study = album_with_study["study"]
    launch_query = launched_code(stack, tokens, provider, album_with_study)
    assert launch_query["studyUID"] == [str(study.StudyInstanceUID)]
    conf = requests.get(launch_query["conf_uri"][0], timeout=10).json()
    exchanged = provider.exchange(conf["token_endpoint"], launch_query["code"][0], provider.client_id)
    assert exchanged.status_code == 200, exchanged.text
    token = exchanged.json()["access_token"]

    studies = requests.get(f"{conf['dicomweb_endpoint']}/studies", headers=bearer(token), timeout=10).json()
    assert [s["0020000D"]["Value"][0] for s in studies] == [str(study.StudyInstanceUID)]
    me = requests.get(conf["userinfo_endpoint"], headers=bearer(token), timeout=10).json()
    assert me["email"] == "alice@example.org"
    introspected = requests.post(conf["introspection_endpoint"], data={"token": token}, timeout=10).json()
    assert introspected["active"] and introspected["album_id"] == album_with_study["album"]

    report = encapsulated_pdf(study)
    stored = stow_json_with_pdf(stack, token, report)
    assert stored.status_code == 200, stored.text
    series = requests.get(f"{stack.api_url}/studies/{study.StudyInstanceUID}/series",
                          params={"album": album_with_study["album"]}, headers=bearer(tokens("alice")), timeout=10)
    assert str(report.SeriesInstanceUID) in [s["0020000E"]["Value"][0] for s in series.json()]
    events = requests.get(f"{stack.api_url}/albums/{album_with_study['album']}/events",
                          params={"types": "mutations"}, headers=bearer(tokens("alice")), timeout=10).json()
    imported = [e for e in events if e["mutation_type"] == "IMPORT_SERIES"
                and str(report.SeriesInstanceUID) in [s["UID"] for s in e["study"]["series"]]]
    assert imported and imported[0]["source"]["report_provider"]["client_id"] == provider.client_id


def test_a_minimal_report_into_the_launched_study_is_coerced_with_a_warning(stack, tokens, provider, album_with_study):
    """A provider's PDF carrying the study and patient UIDs but no StudyDate, StudyID or
    PatientSex is stored with the study's values and Warning Reason 0xB000 (PS3.18 STOW-RS)."""
    study = album_with_study["study"]
    launch_query = launched_code(stack, tokens, provider, album_with_study)
    conf = requests.get(launch_query["conf_uri"][0], timeout=10).json()
    token = provider.exchange(conf["token_endpoint"], launch_query["code"][0], provider.client_id).json()["access_token"]
    report = encapsulated_pdf(study)
    for keyword in ("StudyDate", "StudyID", "PatientSex"):
        delattr(report, keyword)
    stored = stow_json_with_pdf(stack, token, report)
    assert stored.status_code == 202, stored.text
    assert stored.json()["00081199"]["Value"][0]["00081196"]["Value"] == [0xB000]
    metadata = requests.get(f"{stack.api_url}/studies/{study.StudyInstanceUID}/series/{report.SeriesInstanceUID}/metadata",
                            headers=bearer(tokens("alice")), timeout=10).json()[0]
    assert metadata.get("00080020", {}).get("Value") == ([study.StudyDate] if study.get("StudyDate") else None)
    assert metadata.get("00100040", {}).get("Value") == ([study.PatientSex] if study.get("PatientSex") else None)


def _fresh_code(stack, tokens, provider, album_with_study) -> str:
    return launched_code(stack, tokens, provider, album_with_study)["code"][0]


def test_conf_uri_is_on_the_public_origin_and_return_uri_on_the_web_apps(stack, tokens, provider, album_with_study):
    """KHEOPS's sample provider refuses a launch whose conf_uri and return_uri differ in origin: they
    are one origin when the web app is served at the public origin (OBELISK_WEB_URL's default, a
    deployment; tests/unit/test_provider_config.py). The test stack serves its web app on an origin
    of its own (the one launches are accepted from), so here they are the API's and the web app's."""
    launched = launched_code(stack, tokens, provider, album_with_study)
    conf, back = urlsplit(launched["conf_uri"][0]), urlsplit(launched["return_uri"][0])
    assert (conf.scheme, conf.netloc) == tuple(urlsplit(stack.public_url)[:2])
    assert (back.scheme, back.netloc) == tuple(urlsplit(stack.web_url)[:2])
    assert back.path == f"/albums/{album_with_study['album']}"


def test_a_code_works_once(stack, tokens, provider, album_with_study):
    code = _fresh_code(stack, tokens, provider, album_with_study)
    endpoint = f"{stack.api_url}/token"
    assert provider.exchange(endpoint, code, provider.client_id).status_code == 200
    replay = provider.exchange(endpoint, code, provider.client_id)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"


def test_an_assertion_works_once(stack, tokens, provider, album_with_study):
    endpoint = f"{stack.api_url}/token"
    jti = uuid.uuid4().hex
    assert provider.exchange(endpoint, _fresh_code(stack, tokens, provider, album_with_study), provider.client_id,
                             jti=jti).status_code == 200
    replay = provider.exchange(endpoint, _fresh_code(stack, tokens, provider, album_with_study), provider.client_id,
                               jti=jti)
    # RFC 7523 section 3.2: a client assertion that does not verify is invalid_client.
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_client"
    assert "jti" in replay.json()["error_description"] and "already used" in replay.json()["error_description"]


@pytest.mark.parametrize("misuse", ["another key", "wrong aud", "too long", "unknown kid"])
def test_bad_assertions_are_refused(stack, tokens, provider, album_with_study, misuse):
    from cryptography.hazmat.primitives.asymmetric import rsa
    endpoint = f"{stack.api_url}/token"
    options = {
        "another key": {"key": rsa.generate_private_key(public_exponent=65537, key_size=2048)},
        "wrong aud": {},
        "too long": {"lifetime": 3600},
        "unknown kid": {"kid": "not-mine"},
    }[misuse]
    audience = "https://elsewhere.example/api/token" if misuse == "wrong aud" else endpoint
    code = _fresh_code(stack, tokens, provider, album_with_study)
    response = requests.post(endpoint, timeout=10, data={
        "grant_type": "authorization_code", "code": code, "client_id": provider.client_id,
        "redirect_uri": provider.configuration()["redirect_uri"],
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": provider.assertion(provider.client_id, audience, **options)})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_a_code_presented_by_another_client_is_refused(stack, tokens, provider, album_with_study):
    other = ReportProviderApp(algorithm="ES256")
    try:
        created = requests.post(f"{stack.api_url}/albums/{album_with_study['album']}/reportproviders",
                                headers=bearer(tokens("alice")), data={"name": "Other", "url": other.url}, timeout=10)
        other_id = created.json()["client_id"]
        code = _fresh_code(stack, tokens, provider, album_with_study)
        stolen = other.exchange(f"{stack.api_url}/token", code, other_id)
        assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    finally:
        other.close()


def test_provider_token_stays_inside_its_study_and_album(stack, tokens, provider, album_with_study):
    code = _fresh_code(stack, tokens, provider, album_with_study)
    token = provider.exchange(f"{stack.api_url}/token", code, provider.client_id).json()["access_token"]
    other = album_with_study["other"]
    assert requests.get(f"{stack.api_url}/studies/{other.StudyInstanceUID}/series", headers=bearer(token),
                        timeout=10).status_code == 404
    new_study = encapsulated_pdf(other)
    new_study.StudyInstanceUID = generate_uid()
    refused = stow_json_with_pdf(stack, token, new_study)
    assert refused.status_code == 409
    assert refused.json()["00081198"]["Value"][0]["00081197"]["Value"] == [0x0124]
    assert requests.get(f"{stack.api_url}/capabilities", headers=bearer(token), timeout=10).status_code == 403
    assert requests.post(f"{stack.api_url}/albums", headers=bearer(token), data={"name": "x"}, timeout=10).status_code == 403


def test_launch_refusals(stack, tokens, provider, album_with_study):
    study = str(album_with_study["study"].StudyInstanceUID)
    assert launch(stack, "garbage", provider.client_id, study).status_code == 401
    assert launch(stack, tokens("alice"), "NoSuchClientIdXXXXXXXX", study).status_code == 404
    assert launch(stack, tokens("bob"), provider.client_id, study).status_code == 403
    assert launch(stack, tokens("alice"), provider.client_id,
                  str(album_with_study["other"].StudyInstanceUID)).status_code == 404


@pytest.mark.parametrize("headers", [
    {"Origin": "http://127.0.0.1:1"},  # another site on this machine (same-site, other origin)
    {"Origin": "null"},  # a sandboxed or data: page
    {"Sec-Fetch-Site": "same-site"},  # a browser that sent no Origin, from another origin
    {"Sec-Fetch-Site": "cross-site"},
])
def test_a_launch_from_another_origin_is_refused(stack, tokens, provider, album_with_study, headers):
    """Login CSRF: a foreign page must not launch a report provider (or OHIF) with its token."""
    data = {"access_token": tokens("alice"), "client_id": provider.client_id,
            "studyUID": str(album_with_study["study"].StudyInstanceUID)}
    for path in ("/report", "/viewer/launch"):
        answer = requests.post(f"{stack.api_url}{path}", data=data, headers=headers, timeout=10, allow_redirects=False)
        assert answer.status_code == 403, path
        assert answer.json()["detail"] == "launches are accepted only from the Obelisk web app"
    from_the_app = requests.post(f"{stack.api_url}/report", data=data, timeout=10,
                                 headers={"Origin": stack.web_url, "Sec-Fetch-Site": "same-site"})
    assert from_the_app.status_code == 200

"""Pixel data from the public origin (docs/dicomweb.md, "Which URL"): on a stack with one public
origin, as `make run` and a deployment have, the API's redirects to stored objects point at that
origin, which forwards the bucket's read prefixes to the bucket with the bucket's own Host
(devstack/static_site.py, as CloudFront does: infra/site.yaml). A plain dicomweb-client, which
carries the API's Host header along the redirect, then reaches a host that is its own; the
presigned signature and expiry still decide what is served."""
from __future__ import annotations

import http.client
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from dicomweb_client.api import DICOMwebClient as PlainClient

from devstack.stack import LocalStack
from tests.conftest import running_public_stack
from tests.dicomweb_session import DICOMwebClient as SessionClient
from tests.integration import dicom_samples as samples

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
INSTANCE_TYPE = 'multipart/related; type="application/dicom"; transfer-syntax=*'


@pytest.fixture(scope="module")
def public(tmp_path_factory):
    """A stack with a public origin (the web app's server on it forwards `/api/*` and the bucket's
    read prefixes), as `make run` starts it."""
    yield from running_public_stack(tmp_path_factory, "public-origin")


@pytest.fixture(scope="module")
def token(public):
    return public.token("alice")


@pytest.fixture(scope="module")
def stored(public, token):
    """Two instances alice stored through the public URL: a multi-frame MR and a CT."""
    datasets = [samples.load("emri_small.dcm"), samples.load("CT_small.dcm")]
    answer = PlainClient(url=public.api_url, headers={"Authorization": f"Bearer {token}"}).store_instances(datasets)
    assert len(answer.ReferencedSOPSequence) == 2
    return datasets


def uids(ds) -> tuple[str, str, str]:
    return str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID)


def redirect(stack: LocalStack, token: str, ds, api_url: str | None = None) -> str:
    """Where the API sends a reader of the instance (its 303's Location)."""
    study, series, sop = uids(ds)
    answer = requests.get(f"{api_url or stack.api_url}/studies/{study}/series/{series}/instances/{sop}",
                          headers={"Authorization": f"Bearer {token}", "Accept": INSTANCE_TYPE},
                          allow_redirects=False, timeout=60)
    assert answer.status_code == 303, answer.text
    return answer.headers["Location"]


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True)) | changes
    return parts._replace(query=urlencode(query)).geturl()


def test_a_plain_dicomweb_client_retrieves_everything_through_the_public_url(public, token, stored):
    """No custom session: dicomweb-client's own Host header (the public origin's) is the right one
    along the redirect. Before, the redirect named the bucket's host and the retrieval was refused
    (SignatureDoesNotMatch)."""
    client = PlainClient(url=public.api_url, headers={"Authorization": f"Bearer {token}"})
    mr, ct = stored
    frame_size = mr.Rows * mr.Columns * 2
    assert client.retrieve_instance(*uids(mr)).PixelData == mr.PixelData
    assert client.retrieve_instance_frames(*uids(mr), frame_numbers=[2]) == [mr.PixelData[frame_size:2 * frame_size]]
    assert client.retrieve_instance_frames(*uids(mr), frame_numbers=[3, 1]) == [
        mr.PixelData[2 * frame_size:3 * frame_size], mr.PixelData[:frame_size]]
    assert [i.SOPInstanceUID for i in client.retrieve_series(*uids(ct)[:2])] == [uids(ct)[2]]
    assert {str(i.SOPInstanceUID) for i in client.retrieve_study(uids(ct)[0])} == {uids(ct)[2]}
    assert client.retrieve_instance_metadata(*uids(ct))["00080018"]["Value"] == [uids(ct)[2]]
    assert [m["00080018"]["Value"] for m in client.retrieve_series_metadata(*uids(ct)[:2])] == [[uids(ct)[2]]]
    location = redirect(public, token, ct)
    assert location.startswith(public.public_url + "/") and urlsplit(location).path.split("/")[1] in (
        "dicom", "wado", "cache")


def test_a_link_tampered_with_expired_or_signed_by_another_key_is_refused(public, token, stored):
    """The public origin serves what the signature allows and nothing else, with S3's answers."""
    mr, ct = stored
    location = redirect(public, token, ct)
    assert location.startswith(public.public_url + "/")
    assert requests.get(location, timeout=60).status_code == 200
    signature = dict(parse_qsl(urlsplit(location).query))["X-Amz-Signature"]
    tampered = with_query(location, **{"X-Amz-Signature": ("0" if signature[0] != "0" else "1") + signature[1:]})
    other_object = urlsplit(redirect(public, token, mr))._replace(query=urlsplit(location).query).geturl()
    longer = with_query(location, **{"X-Amz-Expires": "604800"})
    unknown_key = with_query(location, **{"X-Amz-Credential": "intruder/" + dict(parse_qsl(
        urlsplit(location).query))["X-Amz-Credential"].split("/", 1)[1]})
    for url in (tampered, other_object, longer):
        refused = requests.get(url, timeout=60)
        assert refused.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in refused.text, url
    refused = requests.get(unknown_key, timeout=60)
    assert refused.status_code == 403 and "<Code>InvalidAccessKeyId</Code>" in refused.text
    unsigned = requests.get(location.split("?", 1)[0], timeout=60)
    assert unsigned.status_code == 403 and "<Code>AccessDenied</Code>" in unsigned.text
    clock = f"{public.emulator_url}/_emulator/clock"
    requests.post(clock, json={"offset_seconds": 360}, timeout=30).raise_for_status()
    try:
        expired = requests.get(location, timeout=60)
    finally:
        requests.post(clock, json={"offset_seconds": 0}, timeout=30).raise_for_status()
    assert expired.status_code == 403 and "Request has expired" in expired.text


def test_only_reads_of_the_buckets_read_prefixes_reach_it(public, token, stored):
    """Writes are refused at the origin; the bucket's root and other prefixes are the site's."""
    location = redirect(public, token, stored[1])
    assert location.startswith(public.public_url + "/")
    for method in ("PUT", "DELETE", "POST"):
        assert requests.request(method, location, data=b"x", timeout=60).status_code == 403, method
    assert requests.get(location, timeout=60).status_code == 200  # still there
    page = requests.get(f"{public.public_url}/?list-type=2", timeout=60)
    assert page.status_code == 200 and "ListBucketResult" not in page.text
    uploads = requests.get(f"{public.public_url}/uploads/x?list-type=2", timeout=60)
    assert "ListBucketResult" not in uploads.text and "<Error>" not in uploads.text


def test_the_callers_token_never_reaches_the_bucket_and_ranges_and_cors_pass(public, token, stored):
    """A client that keeps `Authorization` along the same-origin redirect (requests, browsers) is
    served: the origin does not forward it (S3 refuses two authentications at once). A range is
    forwarded; S3's CORS answer comes back for OHIF on another origin."""
    location = redirect(public, token, stored[1])
    whole = requests.get(location, timeout=60).content
    answer = requests.get(location, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert answer.status_code == 200 and answer.content == whole
    part = requests.get(location, headers={"Range": "bytes=10-29"}, timeout=60)
    assert part.status_code == 206 and part.content == whole[10:30]
    viewer = "http://127.0.0.1:3001"
    preflight = requests.options(location, timeout=60, headers={
        "Origin": viewer, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"})
    assert preflight.status_code == 200 and preflight.headers.get("Access-Control-Allow-Origin") in (viewer, "*")
    cross = requests.get(location, headers={"Origin": viewer}, timeout=60)
    assert cross.status_code == 200 and cross.headers.get("Access-Control-Allow-Origin") in (viewer, "*")


def test_a_host_the_public_origin_does_not_serve_is_refused(public):
    """As CloudFront answers 403 to a request naming a domain its distribution does not serve."""
    address = urlsplit(public.public_url)
    for host, status in ((f"127.0.0.1:{public.api_port}", 403), ("obelisk.example.org", 403),
                         (address.netloc, 200), (address.hostname, 200)):
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
        connection.request("GET", "/api/liveness", headers={"Host": host})
        assert connection.getresponse().status == status, host
        connection.close()


def test_the_direct_api_url_redirects_to_the_bucket_as_before(public, token, stored):
    """The API's own URL (API Gateway's on AWS) is not the public origin: its redirects name the
    bucket, for every client but one that carries the API's Host along (the documented session)."""
    direct = redirect(public, token, stored[1], api_url=public.direct_api_url)
    assert direct.startswith(public.s3_url + "/")
    assert requests.get(direct, timeout=60).status_code == 200
    plain = PlainClient(url=public.direct_api_url, headers={"Authorization": f"Bearer {token}"})
    with pytest.raises(requests.HTTPError) as refused:
        plain.retrieve_instance(*uids(stored[1]))
    assert refused.value.response.status_code == 403 and "SignatureDoesNotMatch" in refused.value.response.text
    session = SessionClient(url=public.direct_api_url, headers={"Authorization": f"Bearer {token}"})
    assert str(session.retrieve_instance(*uids(stored[1])).SOPInstanceUID) == uids(stored[1])[2]

"""Deployment rehearsal: the package `make deploy` ships (built and unpacked by conftest.py) runs
in an interpreter of the runtime's Python minor version (3.12) that sees only the unpacked package,
the unpacked reporting layer and the standard library (`-I -S`: no site-packages, no PYTHONPATH,
no working tree). It is handed API Gateway REST proxy events (STOW, rendered in the three
compressed transfer syntaxes the pylibjpeg plugins decode, QIDO, WADO metadata, a token exchange,
a large upload) and each SQS event function its SQS event, against the local emulator.

What it does not rehearse: Amazon Linux's own system libraries (this is Debian's glibc, newer
than 2.34; test_package.py checks the tags and links) and the AWS services themselves."""
from __future__ import annotations

import base64
import glob
import io
import json
import shutil
import subprocess
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pydicom
import pytest
import requests
from pydicom.data import get_testdata_file

from infra import package as package_build
from tests.integration import dicom_samples as samples

RUNNER = Path(__file__).with_name("lambda_runner.py")
BINARY_TYPES = ["multipart/related", "application/dicom", "application/octet-stream", "application/zip",
                "image/jpeg", "image/png", "image/gif"]
# The imaging paths: JPEG baseline (libjpeg), JPEG 2000 (openjpeg), RLE (rle).
COMPRESSED = ["SC_rgb_jpeg_dcmtk.dcm", "US1_J2KR.dcm", "MR_small_RLE.dcm"]
# The three samples come from different patients: in one study they must agree on the study's
# identity, or their STOW is refused 0x0106 (docs/dicomweb.md, identity_checks.STUDY_IDENTITY_KEYWORDS).
REHEARSAL_IDENTITY = {"PatientID": "REHEARSAL", "PatientName": "Rehearsal^Patient", "PatientBirthDate": "19700101",
                      "PatientSex": "O", "StudyDate": "20240101", "AccessionNumber": "REHEARSAL", "StudyID": "1"}


def runtime_python() -> str | None:
    """An interpreter of the runtime's minor version (pyenv's, or one on PATH)."""
    version = package_build.PYTHON_VERSION
    found = sorted(glob.glob(f"/root/.pyenv/versions/{version}.*/bin/python{version}"))
    return found[-1] if found else shutil.which(f"python{version}")


class Lambda:
    """The rehearsal interpreter, invoked one event at a time."""

    def __init__(self, python: str, paths: list[Path], env: dict[str, str]):
        self.process = subprocess.Popen([python, "-I", "-S", str(RUNNER), *map(str, paths)], env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def invoke(self, handler: str, event: dict):
        self.process.stdin.write(json.dumps({"handler": handler, "event": event}) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        assert "error" not in answer, answer["error"]
        return answer["result"]

    def where(self, *modules: str) -> dict[str, str]:
        self.process.stdin.write(json.dumps({"where": list(modules)}) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        assert "error" not in answer, answer["error"]
        return answer["result"]

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


def proxy_event(method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None) -> dict:
    """An API Gateway REST proxy event as AWS sends it for stage `api` (resource matched by route)."""
    from chalice.local import RouteMatcher

    from app import app

    parts = urlsplit(path)
    route = RouteMatcher(list(app.routes)).match_route(parts.path)
    headers = {"Host": "rehearsal.execute-api.us-east-1.amazonaws.com", "X-Forwarded-Proto": "https",
               **(headers or {})}
    query = parse_qs(parts.query) or None
    binary = body is not None and headers.get("Content-Type", "").split(";")[0] in BINARY_TYPES
    return {
        "resource": route.route, "path": parts.path, "httpMethod": method,
        "headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in query.items()} if query else None,
        "multiValueQueryStringParameters": query,
        "pathParameters": route.captured or None, "stageVariables": None,
        "requestContext": {"resourcePath": route.route, "httpMethod": method, "path": f"/api{parts.path}",
                           "stage": "api", "requestId": str(uuid.uuid4()), "accountId": "000000000000",
                           "domainName": headers["Host"], "protocol": "HTTP/1.1",
                           "identity": {"sourceIp": "127.0.0.1", "userAgent": "rehearsal"}},
        "body": (base64.b64encode(body).decode() if binary else body.decode()) if body is not None else None,
        "isBase64Encoded": binary,
    }


def sqs_event(body: dict) -> dict:
    return {"Records": [{"messageId": str(uuid.uuid4()), "receiptHandle": "rehearsal", "body": json.dumps(body),
                         "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
                         "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:rehearsal",
                         "awsRegion": "us-east-1"}]}


def body_of(response: dict) -> bytes:
    return base64.b64decode(response["body"]) if response.get("isBase64Encoded") else response["body"].encode()


@pytest.fixture(scope="module")
def function(stack, unpacked):
    python = runtime_python()
    if python is None:
        pytest.skip(f"no Python {package_build.PYTHON_VERSION} on this machine: the rehearsal needs the runtime's version")
    env = {"PATH": "/usr/bin:/bin", "OBELISK_STAGE": stack.stage, "AWS_LAMBDA_FUNCTION_NAME": "rehearsal",
           **{k: v for k, v in stack.api_environment().items() if not k.startswith("PYTHON")}}
    runner = Lambda(python, unpacked.paths, env)
    yield runner
    runner.close()


def test_the_interpreter_sees_only_the_package_and_the_standard_library(function, unpacked):
    where = function.where("app", "numpy", "PIL", "libjpeg", "openjpeg", "rle", "highdicom", "json")
    for module in ("app", "numpy", "PIL", "libjpeg", "openjpeg", "rle"):
        assert where[module].startswith(str(unpacked.task)), (module, where[module])
    assert where["highdicom"].startswith(str(unpacked.opt / "python"))
    assert "/lib/python3.12/" in where["json"] and "site-packages" not in where["json"]


def test_api_events_store_render_search_retrieve_and_exchange_a_token(function, stack, tokens):
    auth = {"Authorization": f"Bearer {tokens('alice')}"}
    study = pydicom.uid.generate_uid()
    datasets = [samples.renewed(pydicom.dcmread(get_testdata_file(name)), study) for name in COMPRESSED]
    for ds in datasets:
        for keyword, value in REHEARSAL_IDENTITY.items():
            setattr(ds, keyword, value)
    boundary = uuid.uuid4().hex
    body = b"".join(f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + samples.part10(ds) + b"\r\n"
                    for ds in datasets) + f"--{boundary}--\r\n".encode()
    stored = function.invoke("app.app", proxy_event("POST", "/studies", {
        **auth, "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
        "Accept": "application/dicom+json"}, body))
    assert stored["statusCode"] == 200, stored
    assert "00081198" not in json.loads(body_of(stored))  # no failed instance

    for ds in datasets:
        rendered = function.invoke("app.app", proxy_event(
            "GET", f"/studies/{study}/series/{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}/rendered",
            {**auth, "Accept": "image/jpeg"}))
        assert rendered["statusCode"] in (200, 303), (ds.file_meta.TransferSyntaxUID, rendered.get("body", "")[:300])
        if rendered["statusCode"] == 303:  # the function stored the rendition and points at it
            image = requests.get(rendered["headers"]["Location"], timeout=30).content
        else:
            image = body_of(rendered)
        assert image[:3] == b"\xff\xd8\xff", ds.file_meta.TransferSyntaxUID

    found = function.invoke("app.app", proxy_event("GET", f"/studies?StudyInstanceUID={study}",
                                                   {**auth, "Accept": "application/dicom+json"}))
    assert found["statusCode"] == 200 and len(json.loads(body_of(found))) == 1

    metadata = function.invoke("app.app", proxy_event(
        "GET", f"/studies/{study}/series/{datasets[0].SeriesInstanceUID}/metadata",
        {**auth, "Accept": "application/dicom+json"}))
    assert metadata["statusCode"] == 200
    assert json.loads(body_of(metadata))[0]["00080018"]["Value"] == [datasets[0].SOPInstanceUID]

    exchanged = function.invoke("app.app", proxy_event("POST", "/token", {
        "Content-Type": "application/x-www-form-urlencoded"}, urlencode({
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token": tokens("alice"),
            "subject_token_type": "urn:ietf:params:oauth:token-type:access_token", "scope": "viewer read",
            "studyUID": study}).encode()))
    assert exchanged["statusCode"] == 200, exchanged["body"]
    assert json.loads(body_of(exchanged))["access_token"]


def handlers(template: Path) -> dict[str, str]:
    """Function resource -> its Handler, as the packaged template names them."""
    import yaml

    resources = yaml.safe_load(template.read_text())["Resources"]
    return {n: r["Properties"]["Handler"] for n, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}


def test_each_event_function_handles_its_sqs_event(function, stack, tokens, unpacked):
    handler = handlers(unpacked.built.template)
    auth = {"Authorization": f"Bearer {tokens('alice')}"}
    instance = samples.big_series(1, rows=64, columns=64)[0]
    ds = pydicom.dcmread(io.BytesIO(instance))
    boundary = uuid.uuid4().hex
    content_type = f'multipart/related; type="application/dicom"; boundary={boundary}'
    body = (f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + instance
            + f"\r\n--{boundary}--\r\n".encode())
    started = function.invoke(handler["APIHandler"], proxy_event("POST", "/uploads", {**auth, "Content-Type": "application/json"},
                                                     json.dumps({"content_type": content_type}).encode()))
    assert started["statusCode"] in (200, 201, 202), started["body"]
    ticket = json.loads(body_of(started))
    assert requests.put(ticket["upload_url"], data=body, headers={"Content-Type": content_type}, timeout=30).ok
    upload_id = ticket["status_url"].rstrip("/").rsplit("/", 1)[1]
    notification = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                                 "s3": {"object": {"key": f"uploads/{upload_id}/body"}}}]}
    function.invoke(handler["IngestUpload"], sqs_event(notification))
    result = function.invoke("app.app", proxy_event("GET", f"/uploads/{upload_id}", auth))
    assert result["statusCode"] == 200, result["body"]

    assert function.invoke(handler["SeriesRenditions"], sqs_event(
        {"study": ds.StudyInstanceUID, "series": ds.SeriesInstanceUID, "count": 1})) is None
    assert function.invoke(handler["WebhookFanOut"], sqs_event(
        {"mutation_type": "INSTANCES_ADDED", "album_id": "rehearsal-none"})) is None
    assert function.invoke(handler["WebhookDelivery"], sqs_event(
        {"kind": "webhook", "trigger_sk": "none", "album_id": "rehearsal-none", "webhook_id": "none",
         "event": "new_series", "attempt": 1, "body": "{}"})) is None
    assert function.invoke(handler["ResearchCopies"], sqs_event(
        {"album_id": "rehearsal-none", "study_uid": "1.2.3", "series_uid": "1.2.3.4", "actor": {"sub": "none"}})) is None

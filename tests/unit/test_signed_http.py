"""The lean requests' SigV4 signature (`store.signed_http.sign`) is botocore's, header for header:
for S3 (signed or unsigned payload, `X-Amz-Content-SHA256` sent) and DynamoDB (the body's SHA-256,
no such header), with and without a session token, on default and explicit ports; and they are sent
on kept connections (`Connections`), one replaced when its server closed it (before sending when
the close has arrived), a request whose answer was lost sent again only when it may be, failures
raised as urllib3's errors."""
from __future__ import annotations

import datetime
import hashlib
import http.client
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import urllib3
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from chalicelib.store import signed_http

BODY = b'{"TableName": "t", "Key": {"pk": {"S": "a b"}}}'


def _botocore(signer, method: str, url: str, headers: dict, body: bytes) -> dict[str, str]:
    request = AWSRequest(method, url, data=body, headers=headers)
    signer.add_auth(request)
    return dict(request.headers.items())  # as signed (urllib3 adds Content-Length, unsigned, as botocore's prepare)


def _at(signed: dict[str, str]) -> datetime.datetime:
    return datetime.datetime.strptime(signed["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)


@pytest.mark.parametrize("token", [None, "session-token/with+signs="])
@pytest.mark.parametrize("url", ["https://s3.eu-west-3.amazonaws.com/obelisk-x-dicom/wado/1.2/3.4/5.6/0a1b/frames/1",
                                 "http://127.0.0.1:4566/obelisk-x-dicom/a%20key/with~tilde",
                                 "https://s3.eu-west-3.amazonaws.com:443/bucket/key"])
def test_an_s3_put_is_signed_as_botocore_signs_it(url, token):
    credentials = Credentials("AKIDEXAMPLE", "secret", token)
    headers = {"Content-Type": "application/octet-stream;  transfer-syntax=1.2.840.10008.1.2.1",
               "Content-Encoding": "gzip", "x-amz-checksum-crc32": "AAAAAA==", "x-amz-sdk-checksum-algorithm": "CRC32"}
    expected = _botocore(S3SigV4Auth(credentials, "s3", "eu-west-3"), "PUT", url, headers, BODY)
    payload = expected["X-Amz-Content-SHA256"]
    assert payload == hashlib.sha256(BODY).hexdigest()  # botocore signs the body; the unsigned case below
    signed = signed_http.sign("PUT", url, headers, payload, "s3", "eu-west-3", content_sha256_header=True,
                              credentials=credentials, now=_at(expected))
    assert signed == expected


class _UnsignedPayloadAuth(S3SigV4Auth):
    """botocore's S3 signer with the payload left unsigned (what `s3_put` used before `signed_http`)."""

    def _should_sha256_sign_payload(self, request) -> bool:
        return False


def test_an_unsigned_payload_is_signed_as_botocore_signs_it():
    credentials = Credentials("AKIDEXAMPLE", "secret")
    url = "https://s3.eu-west-3.amazonaws.com/bucket/a/key"
    expected = _botocore(_UnsignedPayloadAuth(credentials, "s3", "eu-west-3"), "PUT", url,
                         {"Content-Type": "application/dicom+json"}, BODY)
    assert expected["X-Amz-Content-SHA256"] == signed_http.UNSIGNED_PAYLOAD
    signed = signed_http.sign("PUT", url, {"Content-Type": "application/dicom+json"}, signed_http.UNSIGNED_PAYLOAD,
                              "s3", "eu-west-3", content_sha256_header=True, credentials=credentials, now=_at(expected))
    assert signed == expected


@pytest.mark.parametrize("token", [None, "session-token"])
@pytest.mark.parametrize("url", ["https://dynamodb.eu-west-3.amazonaws.com/", "http://127.0.0.1:4566/"])
def test_a_dynamodb_request_is_signed_as_botocore_signs_it(url, token):
    credentials = Credentials("AKIDEXAMPLE", "secret", token)
    headers = {"X-Amz-Target": "DynamoDB_20120810.GetItem", "Content-Type": "application/x-amz-json-1.0"}
    expected = _botocore(SigV4Auth(credentials, "dynamodb", "eu-west-3"), "POST", url, headers, BODY)
    signed = signed_http.sign("POST", url, headers, hashlib.sha256(BODY).hexdigest(), "dynamodb", "eu-west-3",
                              content_sha256_header=False, credentials=credentials, now=_at(expected))
    assert signed == expected


def test_each_day_s_signature_uses_that_day_s_key():
    credentials = Credentials("AKIDEXAMPLE", "secret")
    headers = {"Content-Type": "application/x-amz-json-1.0"}
    url = "https://dynamodb.eu-west-3.amazonaws.com/"
    day = datetime.datetime(2026, 12, 7, 23, 59, 59, tzinfo=datetime.UTC)
    for moment in (day, day + datetime.timedelta(seconds=2)):
        signed = signed_http.sign("POST", url, headers, hashlib.sha256(BODY).hexdigest(), "dynamodb", "eu-west-3",
                                  content_sha256_header=False, credentials=credentials, now=moment)
        request = AWSRequest("POST", url, data=BODY, headers={**headers, "X-Amz-Date": signed["X-Amz-Date"]})
        auth = SigV4Auth(credentials, "dynamodb", "eu-west-3")
        request.context["timestamp"] = signed["X-Amz-Date"]
        string_to_sign = auth.string_to_sign(request, auth.canonical_request(request))
        assert signed["Authorization"].endswith("Signature=" + auth.signature(string_to_sign, request))


def test_without_credentials_it_raises_botocore_s_error(monkeypatch):
    from botocore.exceptions import NoCredentialsError

    from chalicelib.store import aws

    monkeypatch.setattr(aws, "credentials", lambda: None)
    with pytest.raises(NoCredentialsError):
        signed_http.sign("POST", "https://dynamodb.eu-west-3.amazonaws.com/", {}, hashlib.sha256(BODY).hexdigest(),
                         "dynamodb", "eu-west-3", content_sha256_header=False)


class _Origin(BaseHTTPRequestHandler):
    """Answers every request with its body's length; counts the connections it was sent on, and
    closes each connection after its answer when `close_after` (no `Connection: close` said)."""

    protocol_version = "HTTP/1.1"
    close_after = False
    peers: set = set()

    def do_PUT(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Origin.peers.add(self.client_address)
        answer = str(len(body)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.send_header("x-amz-crc32", "1")
        self.end_headers()
        self.wfile.write(answer)
        self.close_connection = _Origin.close_after

    def log_message(self, *args):
        pass


@pytest.fixture
def origin():
    _Origin.peers, _Origin.close_after = set(), False
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Origin)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_requests_to_one_origin_go_on_one_kept_connection(origin):
    connections = signed_http.Connections()
    answers = [connections.request("PUT", f"{origin}/bucket/key{i}", body=b"x" * i, headers={}) for i in range(5)]
    assert [(a.status, a.data, a.headers.get("X-Amz-Crc32")) for a in answers] == \
           [(200, str(i).encode(), "1") for i in range(5)]
    assert len(_Origin.peers) == 1


def test_a_kept_connection_the_server_closed_is_replaced(origin):
    _Origin.close_after = True
    connections = signed_http.Connections()
    assert [connections.request("PUT", f"{origin}/b/k", body=b"abc", headers={}).data for _ in range(3)] == [b"3"] * 3
    assert len(_Origin.peers) == 3


def _closed_by_then(connections: signed_http.Connections, origin: str) -> None:
    """Waits until the server's close of the kept connection has reached this side."""
    [kept] = connections._idle[origin]
    deadline = time.monotonic() + 5
    while not select.select([kept.sock], [], [], 0.05)[0] and time.monotonic() < deadline:
        pass


def test_a_kept_connection_the_server_closed_is_replaced_before_sending(origin):
    """Even a request that is not sent twice (`repeatable=False`) goes out on a new connection."""
    _Origin.close_after = True
    connections = signed_http.Connections()
    answers = []
    for _ in range(3):
        answers.append(connections.request("PUT", f"{origin}/b/k", body=b"abc", headers={}, repeatable=False).data)
        _closed_by_then(connections, origin)
    assert answers == [b"3"] * 3
    assert len(_Origin.peers) == 3


class _SentThenLost:
    """A kept connection that sends the request, then loses its answer."""

    def __init__(self):
        self.sent = 0
        self.sock, self._peer = socket.socketpair()

    def request(self, method, path, body, headers):
        self.sent += 1

    def getresponse(self):
        raise http.client.RemoteDisconnected("Remote end closed connection without response")

    def close(self):
        self.sock.close()
        self._peer.close()


@pytest.mark.parametrize("repeatable", [True, False])
def test_a_request_whose_answer_was_lost_is_sent_again_only_if_repeatable(origin, repeatable):
    connections, lost = signed_http.Connections(), _SentThenLost()
    connections._give_back(origin, lost)
    if repeatable:
        assert connections.request("PUT", f"{origin}/b/k", body=b"ab", headers={}).data == b"2"
    else:
        with pytest.raises(urllib3.exceptions.ProtocolError):
            connections.request("PUT", f"{origin}/b/k", body=b"ab", headers={}, repeatable=False)
    assert lost.sent == 1
    assert len(_Origin.peers) == (1 if repeatable else 0)


def test_no_server_is_urllib3s_error():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(urllib3.exceptions.HTTPError):
        signed_http.Connections().request("PUT", f"http://127.0.0.1:{port}/b/k", body=b"", headers={})


def test_the_local_stack_signs_with_botocore_s_own_code_as_the_lambda_package_does():
    """awscrt, when installed, replaces botocore's SigV4 signers in every process; the Lambda
    package has no awscrt (requirements.lock), so neither may the local stack: the signatures
    compared above, and every request of the local stack, are botocore's own."""
    from botocore import compat

    root = Path(__file__).resolve().parents[2]
    assert not compat.HAS_CRT
    assert "awscrt" not in (root / "requirements.lock").read_text() + (root / "requirements-dev.txt").read_text()

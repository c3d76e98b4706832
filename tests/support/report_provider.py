"""A report provider written from docs/kheops-compatibility.md §11, for tests: its own key pair, its
configuration document and JWKS served on loopback, and the server-side code exchange."""
from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class ReportProviderApp:
    """`url` is the configuration URL to register; `launches` collects the redirects it received."""

    def __init__(self, algorithm: str = "RS256", response_type: str = "code"):
        self.algorithm = algorithm
        self.response_type = response_type
        self.key = (rsa.generate_private_key(public_exponent=65537, key_size=2048) if algorithm == "RS256"
                    else ec.generate_private_key(ec.SECP256R1()))
        self.kid = uuid.uuid4().hex[:8]
        self.launches: list[dict[str, list[str]]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"{self.base}/.well-known/kheops-report-configuration"

    def configuration(self) -> dict:
        document = {"redirect_uri": f"{self.base}/report.html", "response_type": self.response_type,
                    "client_name": "Test Report Provider", "contacts": ["rp@example.org"]}
        if self.response_type == "code":
            document.update(jwks_uri=f"{self.base}/certs", token_endpoint_auth_method="private_key_jwt",
                            token_endpoint_auth_signing_alg=self.algorithm)
        return document

    def jwks(self) -> dict:
        algorithm = jwt.algorithms.RSAAlgorithm if self.algorithm == "RS256" else jwt.algorithms.ECAlgorithm
        jwk = json.loads(algorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "alg": self.algorithm, "use": "sig"}]}

    def _handler(self):
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path = urlsplit(self.path).path
                if path == "/.well-known/kheops-report-configuration":
                    self._json(app.configuration())
                elif path == "/certs":
                    self._json(app.jwks())
                elif path == "/report.html":
                    app.launches.append(parse_qs(urlsplit(self.path).query))
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.end_headers()
                    self.wfile.write(b"<html><body>report provider</body></html>")
                else:
                    self.send_error(404)

            def _json(self, body):
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler

    def assertion(self, client_id: str, audience: str, *, jti: str | None = None, key=None,
                  lifetime: int = 300, kid: str | None = None) -> str:
        now = int(time.time())
        claims = {"iss": client_id, "sub": client_id, "aud": audience, "jti": jti or uuid.uuid4().hex,
                  "iat": now, "exp": now + lifetime}
        return jwt.encode(claims, key or self.key, algorithm=self.algorithm, headers={"kid": kid or self.kid})

    def exchange(self, token_endpoint: str, code: str, client_id: str, **assertion_options) -> requests.Response:
        return requests.post(token_endpoint, data={
            "grant_type": "authorization_code", "code": code, "client_id": client_id,
            "redirect_uri": self.configuration()["redirect_uri"],
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.assertion(client_id, token_endpoint, **assertion_options),
        }, timeout=10)

    def close(self) -> None:
        self.server.shutdown()

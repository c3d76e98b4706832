"""A stand-in for Cognito's hosted UI on loopback (moto has none): `/oauth2/authorize` signs a demo
user in against the real emulated user pool and redirects with a code; `/oauth2/token` checks the
PKCE verifier (S256) and answers with that pool's real tokens, so the API accepts them."""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

from devstack import bootstrap


class HostedUI(ThreadingHTTPServer):
    def __init__(self, emulator_url: str, client_id: str):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.emulator_url, self.client_id = emulator_url, client_id
        self.codes: dict[str, dict] = {}
        self.requests: list[tuple[str, dict]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def start(self) -> HostedUI:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def cognito(self, flow: str, parameters: dict) -> dict:
        idp = bootstrap.aws_client("cognito-idp", self.emulator_url)
        result = idp.initiate_auth(ClientId=self.client_id, AuthFlow=flow, AuthParameters=parameters)["AuthenticationResult"]
        answer = {"access_token": result["AccessToken"], "id_token": result["IdToken"],
                  "expires_in": result["ExpiresIn"], "token_type": "Bearer"}
        if "RefreshToken" in result:
            answer["refresh_token"] = result["RefreshToken"]
        return answer


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class _Handler(BaseHTTPRequestHandler):
    server: HostedUI

    def _send(self, status: int, body: dict | str, headers: dict | None = None):
        data = (json.dumps(body) if isinstance(body, dict) else body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if isinstance(body, dict) else "text/html")
        self.send_header("Access-Control-Allow-Origin", "*")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.server.requests.append((url.path, query))
        if url.path == "/oauth2/authorize":
            return self._authorize(query)
        if url.path == "/logout":
            return self._send(302, "", {"Location": query["logout_uri"]})
        self._send(404, {"error": "not_found"})

    def _authorize(self, query: dict):
        if query.get("client_id") != self.server.client_id or query.get("code_challenge_method") != "S256":
            return self._send(400, {"error": "invalid_request"})
        user = "alice"  # the hosted page's sign-in, already filled in
        tokens = self.server.cognito("USER_PASSWORD_AUTH", {"USERNAME": user, "PASSWORD": bootstrap.demo_password(user)})
        code = secrets.token_urlsafe(16)
        self.server.codes[code] = {"tokens": tokens, "challenge": query["code_challenge"],
                                   "redirect_uri": query["redirect_uri"]}
        target = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query.get("state", "")})
        self._send(302, "", {"Location": target})

    def do_OPTIONS(self):  # noqa: N802
        self._send(204, "", {"Access-Control-Allow-Methods": "POST", "Access-Control-Allow-Headers": "content-type"})

    def do_POST(self):  # noqa: N802
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode()).items()}
        self.server.requests.append((self.path, form))
        if form.get("grant_type") == "authorization_code":
            grant = self.server.codes.pop(form.get("code", ""), None)
            if not grant or grant["redirect_uri"] != form.get("redirect_uri") \
                    or _challenge(form.get("code_verifier", "")) != grant["challenge"]:
                return self._send(400, {"error": "invalid_grant"})
            return self._send(200, grant["tokens"])
        if form.get("grant_type") == "refresh_token":
            return self._send(200, self.server.cognito("REFRESH_TOKEN_AUTH", {"REFRESH_TOKEN": form["refresh_token"]}))
        self._send(400, {"error": "unsupported_grant_type"})

    def log_message(self, *_args):
        pass

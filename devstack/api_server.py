"""`chalice local` for the dev stack, with the API under `/api` as API Gateway's stage `api`
serves it in AWS, so every URL a client uses is the same locally and deployed."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGE_PREFIX = "/api"


def stage_environment(stage: str) -> dict[str, str]:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    env = dict(config.get("environment_variables", {}))
    env.update(config.get("stages", {}).get(stage, {}).get("environment_variables", {}))
    return env


def make_server(host: str, port: int, stage: str):
    for key, value in stage_environment(stage).items():
        os.environ.setdefault(key, value)  # values the launcher passes explicitly win
    sys.path.insert(0, str(ROOT))
    from chalice.config import Config
    from chalice.local import ChaliceRequestHandler, CustomLocalChalice, ForbiddenError, LocalChalice, LocalDevServer

    from app import app
    from infra.gateway_responses import NOT_FOUND_BODY

    # What `chalice local` does (chalice.local.create_local_server): the app's current_request
    # becomes thread-local. The server handles requests on parallel threads; without this, a
    # handler reads whichever request another thread stored last, body and headers included.
    CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
    app.__class__ = CustomLocalChalice

    class StagePrefixedHandler(ChaliceRequestHandler):
        def _generic_handle(self) -> None:
            if self.path != STAGE_PREFIX and not self.path.startswith(STAGE_PREFIX + "/"):
                body = b'{"message":"Not Found","detail":"the API lives under /api"}'
                self.send_response(404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.path = self.path[len(STAGE_PREFIX):] or "/"
            super()._generic_handle()

        def _send_error_response(self, error) -> None:
            """A request matching no route: chalice local answers API Gateway's 403 "Missing
            Authentication Token"; Obelisk answers 404 in its error shape, as the gateway response
            declared in infra/gateway_responses.py makes API Gateway answer."""
            if isinstance(error, ForbiddenError):
                body = json.dumps(NOT_FOUND_BODY).encode()
                self._send_http_response(404, {"Content-Type": "application/json",
                                               "Access-Control-Allow-Origin": "*"}, body)
                return
            super()._send_error_response(error)

        def _send_http_response(self, code, headers, body) -> None:
            """Also logs `bytes-out {code} {n} {method} {path}`: the response body bytes the
            function sent (the measure of what passes through the API function)."""
            super()._send_http_response(code, headers, body)
            size = len(body.encode("utf-8") if isinstance(body, str) else body or b"")
            sys.stdout.write(f"bytes-out {code} {size} {self.command} {self.path}\n")
            sys.stdout.flush()

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

        def log_message(self, fmt, *args):  # one line per request on stdout, like chalice local
            sys.stdout.write(f"{self.address_string()} {fmt % args}\n")

    config = Config.create(chalice_stage=stage, app_name="obelisk", lambda_timeout=30)
    return LocalDevServer(app, config, host, port, handler_cls=StagePrefixedHandler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--stage", default="local")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    for noisy in ("botocore", "boto3", "urllib3", "pynamodb"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    server = make_server(args.host, args.port, args.stage)
    print(f"api listening on http://{args.host}:{server.server.server_port}{STAGE_PREFIX}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())

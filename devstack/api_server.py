"""`chalice local` for the dev stack, with the API under `/api` as API Gateway's stage `api`
serves it in AWS, so every URL a client uses is the same locally and deployed; with API Gateway's
and Lambda's limits (devstack/gateway_limits.py): request size, answer size, the 29 s timeout, and
chunked request bodies read whole as API Gateway does, binary bodies handed to the function
base64-encoded as API Gateway hands them; answers on kept-alive connections are sent
without waiting for the client's delayed acknowledgement (`TCP_NODELAY`, as the emulator's)."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from pathlib import Path

from devstack import gateway_limits as limits

ROOT = Path(__file__).resolve().parent.parent
STAGE_PREFIX = "/api"


def stage_environment(stage: str) -> dict[str, str]:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    env = dict(config.get("environment_variables", {}))
    env.update(config.get("stages", {}).get(stage, {}).get("environment_variables", {}))
    return env


def timeout_seconds() -> float:
    return float(os.environ.get("OBELISK_GATEWAY_TIMEOUT_SECONDS", limits.INTEGRATION_TIMEOUT_SECONDS))


def _method_not_routed(response: dict) -> bool:
    """Chalice's own 405 for a path without that method: on AWS the request never reaches the
    function (API Gateway routes by path and method) and gets the gateway's no-route answer."""
    if response.get("statusCode") != 405:
        return False
    try:
        return json.loads(response.get("body") or "{}").get("Code") == "MethodNotAllowedError"
    except (ValueError, AttributeError):
        return False


class _HeadersOnlyAfterHead:
    """The connection's writer while a HEAD is answered: the status line and headers go out, the
    body that chalice writes after them does not (RFC 9110 9.3.2). Sent, it was read as the start of
    the next answer on a kept-alive connection."""

    def __init__(self, writer, handler) -> None:
        self._writer, self._handler = writer, handler

    def write(self, data: bytes) -> int:
        if self._handler.command == "HEAD" and self._handler.answer_headers_sent:
            return len(data)
        return self._writer.write(data)

    def __getattr__(self, name: str):
        return getattr(self._writer, name)


def make_server(host: str, port: int, stage: str, app=None):
    for key, value in stage_environment(stage).items():
        os.environ.setdefault(key, value)  # values the launcher passes explicitly win
    sys.path.insert(0, str(ROOT))
    from chalice.config import Config
    from chalice.local import (
        ChaliceRequestHandler,
        CustomLocalChalice,
        ForbiddenError,
        LambdaEventConverter,
        LocalChalice,
        LocalDevServer,
        LocalGatewayException,
        RouteMatcher,
    )

    from infra.gateway_responses import no_route_answer

    if app is None:
        from app import app

    # What `chalice local` does (chalice.local.create_local_server): the app's current_request
    # becomes thread-local. The server handles requests on parallel threads; without this, a
    # handler reads whichever request another thread stored last, body and headers included.
    CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
    app.__class__ = CustomLocalChalice

    class GatewayEventConverter(LambdaEventConverter):
        """The event API Gateway sends: a body of one of the API's binary media types, whatever the
        Content-Type's parameters (a STOW's `multipart/related; type=...; boundary=...`), base64 in
        the event. chalice local's converter compares the whole header, read under a lower-case
        key the handler does not use, so it handed every body over as bytes."""

        def create_lambda_event(self, method, path, headers, body=None):
            event = super().create_lambda_event(method, path, headers, None)
            event["body"], event["isBase64Encoded"] = limits.event_body(
                event["headers"].get("content-type", ""), body, app.api.binary_types)
            return event

    events = GatewayEventConverter(RouteMatcher(list(app.routes)), app.api.binary_types)

    class StagePrefixedHandler(ChaliceRequestHandler):
        disable_nagle_algorithm = True  # headers and body are two sends: no 40 ms delayed-ACK wait
        answer_headers_sent = False

        def setup(self) -> None:
            super().setup()
            self.local_gateway.event_converter = events
            self.wfile = _HeadersOnlyAfterHead(self.wfile, self)

        def handle_one_request(self) -> None:
            self.answer_headers_sent = False
            super().handle_one_request()

        def end_headers(self) -> None:
            super().end_headers()
            self.answer_headers_sent = True

        def handle_expect_100(self) -> bool:
            going_on = super().handle_expect_100()
            self.answer_headers_sent = False  # "100 Continue" is not the answer
            return going_on

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
            try:
                headers, body = self._parse_payload()
            except limits.BodyTooLarge as error:
                self._send_gateway_answer(limits.body_too_large(error.length))
                return
            if isinstance(body, limits.GatewayAnswer):
                self._send_gateway_answer(body)
                return
            refusal = limits.request_too_large_for_lambda(
                {k.lower(): v for k, v in headers.items()}, body or b"", app.api.binary_types)
            if refusal:
                self._send_gateway_answer(refusal)
                return
            self._invoke(headers, body)

        def _parse_payload(self):
            """The body as API Gateway reads it: by Content-Length, or whole when chunked. A body
            over the gateway limit is read and dropped; its answer is returned in place of it."""
            headers = dict(self.headers)
            if "chunked" in self.headers.get("transfer-encoding", "").lower():
                return headers, limits.read_chunked(self.rfile)  # raises BodyTooLarge
            length = int(self.headers.get("content-length", "0") or 0)
            refusal = limits.body_too_large(length)
            if refusal:
                limits.drain(self.rfile, length)
                return headers, refusal
            return headers, self.rfile.read(length) if length > 0 else None

        def _invoke(self, headers, body) -> None:
            """Runs the function with the gateway's timeout and answer-size limit."""
            outcome: dict = {}

            def run() -> None:
                try:
                    outcome["response"] = self.local_gateway.handle_request(
                        method=self.command, path=self.path, headers=headers, body=body)
                except LocalGatewayException as error:
                    outcome["error"] = error
                except Exception as error:  # noqa: BLE001 - the function failed: API Gateway answers 502
                    logging.getLogger(__name__).exception("function error")
                    outcome["failed"] = error

            worker = threading.Thread(target=run, daemon=True, name=f"invoke {self.command} {self.path}")
            worker.start()
            worker.join(timeout_seconds())
            if worker.is_alive():
                self._send_gateway_answer(limits.timed_out())  # the function runs on, as Lambda does
            elif "error" in outcome:
                self._send_error_response(outcome["error"])
            elif "failed" in outcome:
                self._send_gateway_answer(limits.internal_server_error())
            else:
                response = outcome["response"]
                if _method_not_routed(response):
                    self._send_http_response(*no_route_answer())
                    return
                refusal = limits.response_refused(response)
                if refusal:
                    self._send_gateway_answer(refusal)
                    return
                response_headers = response["headers"].copy()
                response_headers.update(response["multiValueHeaders"])
                response = self._handle_binary(response)
                self._send_http_response(response["statusCode"], response_headers, response["body"])

        def _send_gateway_answer(self, answer: limits.GatewayAnswer) -> None:
            self._send_http_response(answer.status, answer.headers, answer.body)

        def _send_error_response(self, error) -> None:
            """A request matching no route: chalice local answers API Gateway's 403 "Missing
            Authentication Token"; Obelisk answers 404 in its error shape, as the gateway response
            declared in infra/gateway_responses.py makes API Gateway answer."""
            if isinstance(error, ForbiddenError):
                self._send_http_response(*no_route_answer())
                return
            super()._send_error_response(error)

        def _send_http_response(self, code, headers, body) -> None:
            """Also logs `bytes-out {code} {n} {method} {path}`: the response body bytes the
            function sent (the measure of what passes through the API function). The line is
            written before the answer, so whoever has the answer finds it in the log."""
            size = len(body.encode("utf-8") if isinstance(body, str) else body or b"")
            sys.stdout.write(f"bytes-out {code} {size} {self.command} {self.path}\n")
            sys.stdout.flush()
            super()._send_http_response(code, headers, body)

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

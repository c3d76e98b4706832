"""A static site on loopback with single-page-app fallback: what S3 + CloudFront do in AWS. Every
response carries the site's security headers (`devstack/site_headers.py`, shared with CloudFront).

With `--api-proxy URL`, `/api` and `/api/*` are forwarded to the API at URL, as a deployment's
CloudFront routes `/api/*` to API Gateway: one origin for the web app and the API. The request
(method, path and query, headers, body) and the answer (status, headers, body) pass through
unchanged and streamed; redirects are handed to the client, never followed.

Connections are kept alive (HTTP/1.1, as CloudFront's are; each answer's end is its length, and an
answer of unknown length closes its connection), answers go out without Nagle's delay, and a
request sent with `Expect: 100-continue` is told to go on before its body is read (curl sends it with
any body over 1 MiB, and waited a second for it on each)."""
from __future__ import annotations

import argparse
import functools
import http.client
import shutil
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from devstack import site_headers

API_PREFIX = "/api"
CHUNK = 64 * 1024
# RFC 9110 section 7.6.1: connection-specific fields are not forwarded by an intermediary.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authenticate", "proxy-authorization"}
NOT_FORWARDED = HOP_BY_HOP | {"expect"}  # this server answers the 100-continue; the API gets the whole body
IDLE_SECONDS = 120  # a kept-alive connection without a request for this long is closed



class SiteHandler(SimpleHTTPRequestHandler):
    extra_headers: dict[str, str] = {}
    api_proxy: str = ""
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = IDLE_SECONDS

    def handle_one_request(self):
        self._proxying = False  # per request: a kept-alive connection may mix site and API requests
        super().handle_one_request()

    def send_head(self):
        path = Path(self.translate_path(self.path))
        navigation = "text/html" in self.headers.get("Accept", "")
        if not path.exists() and ("." not in path.name or navigation):
            # SPA fallback, as the CloudFront distribution does; a page address may hold dots
            # (/studies/1.2.840...), so a browser navigation (Accept: text/html) always falls back.
            self.path = "/index.html"
        return super().send_head()

    def end_headers(self):
        if not getattr(self, "_proxying", False):
            for name, value in self.extra_headers.items():
                self.send_header(name, value)
            self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def _for_api(self) -> bool:
        path = self.path.split("?", 1)[0]
        return bool(self.api_proxy) and (path == API_PREFIX or path.startswith(API_PREFIX + "/"))

    def do_GET(self):  # noqa: N802 - http.server's naming
        self._proxy() if self._for_api() else self._site(super().do_GET)

    def do_HEAD(self):  # noqa: N802
        self._proxy() if self._for_api() else self._site(super().do_HEAD)

    def _site(self, answer) -> None:
        """A file's answer; a body sent with the request is read first, so that the next request
        on the connection starts where it ends."""
        for _ in self._request_body() or ():
            pass
        answer()

    def _other_method(self):
        if self._for_api():
            self._proxy()
        else:
            self.send_error(405, "a static site answers GET and HEAD")

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _other_method

    def _request_body(self):
        """The request body as it arrives: a Content-Length's bytes, or chunked decoded piecewise."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._chunks()
        remaining = int(self.headers.get("Content-Length") or 0)
        if not remaining:
            return None

        def pieces():
            nonlocal remaining
            while remaining:
                piece = self.rfile.read(min(CHUNK, remaining))
                if not piece:
                    return
                remaining -= len(piece)
                yield piece

        return pieces()

    def _chunks(self):
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return
            yield self.rfile.read(size)
            self.rfile.readline()

    def _proxy(self) -> None:
        self._proxying = True
        target = urlsplit(self.api_proxy)
        path = target.path.rstrip("/") + self.path[len(API_PREFIX):]
        headers = {name: value for name, value in self.headers.items() if name.lower() not in NOT_FORWARDED}
        headers["Host"] = target.netloc
        headers["X-Forwarded-Host"] = self.headers.get("Host", "")
        headers["X-Forwarded-For"] = self.client_address[0]
        body = self._request_body()
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=300)
        try:
            connection.request(self.command, path, body=body, headers=headers,
                               encode_chunked=body is not None and "Content-Length" not in headers)
            answer = connection.getresponse()
        except OSError as error:
            connection.close()
            self._bad_gateway(error)
            return
        length_known = answer.getheader("Content-Length") is not None and answer.chunked is False
        try:
            self.log_request(answer.status)
            self.send_response_only(answer.status, answer.reason)  # the API's own Date and Server follow
            for name, value in answer.getheaders():
                if name.lower() not in HOP_BY_HOP:
                    self.send_header(name, value)
            if not length_known:
                self.send_header("Connection", "close")  # the body ends where the connection does
            self.end_headers()
            if self.command != "HEAD":
                shutil.copyfileobj(answer, self.wfile, CHUNK)
        except OSError:
            self.close_connection = True  # the client went away mid-answer
        finally:
            connection.close()
            if not length_known:
                self.close_connection = True

    def _bad_gateway(self, error: OSError) -> None:
        body = b'{"message":"Bad Gateway","detail":"the API did not answer"}'
        sys.stdout.write(f"api proxy: {error}\n")
        self.close_connection = True  # the request's body may not have been read to its end
        self.send_response(502)
        self.send_header("Connection", "close")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stdout.write(f"{self.address_string()} {fmt % args}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--directory", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cross-origin-isolated", action="store_true",
                        help="send the COOP/COEP headers OHIF needs for SharedArrayBuffer")
    parser.add_argument("--storage-url", default="",
                        help="where presigned DICOM URLs point (the emulator), for the Content-Security-Policy")
    parser.add_argument("--api-proxy", default="", metavar="URL",
                        help="forward /api and /api/* to the API at URL (e.g. http://127.0.0.1:8000/api)")
    args = parser.parse_args(argv)
    headers = site_headers.for_site(Path(args.directory), args.storage_url)
    if args.cross_origin_isolated:
        headers.update(site_headers.OHIF_ISOLATION)
    handler = type("Handler", (SiteHandler,), {"extra_headers": headers, "api_proxy": args.api_proxy})
    server = ThreadingHTTPServer(("127.0.0.1", args.port), functools.partial(handler, directory=args.directory))
    server.daemon_threads = True
    print(f"site {args.directory} on http://127.0.0.1:{args.port}"
          + (f", /api forwarded to {args.api_proxy}" if args.api_proxy else ""), flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())

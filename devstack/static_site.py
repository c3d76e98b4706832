"""A static site on loopback with single-page-app fallback: what S3 + CloudFront do in AWS. Every
response carries the site's security headers (`devstack/site_headers.py`, shared with CloudFront).

With `--api-proxy URL`, `/api` and `/api/*` are forwarded to the API at URL, as a deployment's
CloudFront routes `/api/*` to API Gateway: one origin for the web app and the API. The request
(method, path and query, headers, body) and the answer (status, headers, body) pass through
unchanged and streamed; redirects are handed to the client, never followed.

With `--storage-origin URL` (the DICOM bucket's virtual-hosted URL, `http://{bucket}.localhost:{port}`
for the emulator), the bucket's read prefixes (`dicom/`, `wado/`, `cache/`: `dicom_store.READ_PREFIXES`)
are forwarded to the bucket, as a deployment's CloudFront does (infra/site.yaml): GET, HEAD and
OPTIONS only, the path and the whole query unchanged, the Host the bucket's own (not the viewer's:
the presigned signature covers it), and of the viewer's headers only those CloudFront sends there
(`STORAGE_HEADERS`: CORS and ranges; never `Authorization`). The answer (S3's status, CORS headers,
body) passes back unchanged. Nothing is cached. A request whose Host is not this site's own is
refused (403), as CloudFront refuses a domain its distribution does not serve.

Connections are kept alive (HTTP/1.1, as CloudFront's are; each answer's end is its length, and an
answer of unknown length closes its connection), answers go out without Nagle's delay, and a
request sent with `Expect: 100-continue` is told to go on before its body is read (curl sends it with
any body over 1 MiB, and waited a second for it on each)."""
from __future__ import annotations

import argparse
import functools
import http.client
import json
import shutil
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from chalicelib.store.dicom_store import PUBLIC_ORIGIN_HEADER, READ_PREFIXES
from devstack import site_headers

API_PREFIX = "/api"
CHUNK = 64 * 1024
# RFC 9110 section 7.6.1: connection-specific fields are not forwarded by an intermediary.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authenticate", "proxy-authorization"}
NOT_FORWARDED = HOP_BY_HOP | {"expect"}  # this server answers the 100-continue; the API gets the whole body
IDLE_SECONDS = 120  # a kept-alive connection without a request for this long is closed
# The viewer headers CloudFront sends to the bucket (infra/site.yaml's StorageReadsPolicy
# and the headers it forwards by default, `Range` and `If-Range`); Host is the bucket's own.
STORAGE_HEADERS = ("origin", "access-control-request-method", "access-control-request-headers", "range", "if-range")
STORAGE_METHODS = ("GET", "HEAD", "OPTIONS")


class SiteHeaders:
    """The site's headers (`site_headers.for_site`), computed again whenever its configuration
    file changes: `make run` writes the web app's `config.json` (its sign-in endpoint, which the
    Content-Security-Policy names) after this server has started on a freshly built site."""

    def __init__(self, directory: Path, storage_url: str, isolated: bool) -> None:
        self.directory, self.storage_url, self.isolated = directory, storage_url, isolated
        self._seen: tuple | None = None
        self._headers: dict[str, str] = {}

    def current(self) -> dict[str, str]:
        seen = tuple(_stamp(self.directory / name) for name in ("config.json", "obelisk-site.json", "index.html"))
        if seen != self._seen:
            headers = site_headers.for_site(self.directory, self.storage_url)
            if self.isolated:
                headers.update(site_headers.OHIF_ISOLATION)
            self._headers, self._seen = headers, seen
        return self._headers


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size


class SiteHandler(SimpleHTTPRequestHandler):
    site_headers: SiteHeaders | None = None
    api_proxy: str = ""
    storage_origin: str = ""
    hosts: frozenset[str] = frozenset()  # the Host values this site serves (empty: any)
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
            for name, value in (self.site_headers.current() if self.site_headers else {}).items():
                self.send_header(name, value)
            self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def _for_api(self) -> bool:
        path = self.path.split("?", 1)[0]
        return bool(self.api_proxy) and (path == API_PREFIX or path.startswith(API_PREFIX + "/"))

    def _for_storage(self) -> bool:
        return bool(self.storage_origin) and self.path.startswith(tuple("/" + prefix for prefix in READ_PREFIXES))

    def _route(self, site_answer) -> None:
        if self.hosts and self.headers.get("Host", "").lower() not in self.hosts:
            self._refuse(403, "Bad Request", f"this site does not serve the host {self.headers.get('Host', '')!r}")
        elif self._for_storage():
            self._storage_proxy()
        elif self._for_api():
            self._proxy()
        elif site_answer is None:
            self.send_error(405, "a static site answers GET and HEAD")
        else:
            self._site(site_answer)

    def do_GET(self):  # noqa: N802 - http.server's naming
        self._route(super().do_GET)

    def do_HEAD(self):  # noqa: N802
        self._route(super().do_HEAD)

    def _site(self, answer) -> None:
        """A file's answer; a body sent with the request is read first, so that the next request
        on the connection starts where it ends."""
        for _ in self._request_body() or ():
            pass
        answer()

    def _other_method(self):
        self._route(None)

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
        target = urlsplit(self.api_proxy)
        headers = {name: value for name, value in self.headers.items() if name.lower() not in NOT_FORWARDED}
        headers["Host"] = target.netloc
        headers["X-Forwarded-Host"] = self.headers.get("Host", "")
        headers["X-Forwarded-For"] = self.client_address[0]
        if self.storage_origin:  # the API redirects reads here (as CloudFront's custom origin header)
            headers = {k: v for k, v in headers.items() if k.lower() != PUBLIC_ORIGIN_HEADER.lower()}
            headers[PUBLIC_ORIGIN_HEADER] = "1"
        self._forward(target.hostname, target.port, target.path.rstrip("/") + self.path[len(API_PREFIX):], headers,
                      "the API")

    def _storage_proxy(self) -> None:
        """A read of the bucket, as CloudFront's storage behaviour forwards it (module docstring)."""
        if self.command not in STORAGE_METHODS:
            self._refuse(403, "Forbidden", "the bucket's paths answer GET, HEAD and OPTIONS only")
            return
        target = urlsplit(self.storage_origin)
        headers = {name: value for name, value in self.headers.items() if name.lower() in STORAGE_HEADERS}
        headers["Host"] = target.netloc
        headers["X-Forwarded-For"] = self.client_address[0]
        # `{bucket}.localhost` names the emulator on loopback (resolvers need not know *.localhost).
        hostname = "127.0.0.1" if target.hostname.endswith(".localhost") else target.hostname
        self._forward(hostname, target.port, self.path, headers, "the bucket")

    def _forward(self, hostname: str, port: int | None, path: str, headers: dict[str, str], origin: str) -> None:
        """The request sent on to `origin` at hostname:port with `headers`, its answer streamed back
        unchanged."""
        self._proxying = True
        body = self._request_body()
        connection = http.client.HTTPConnection(hostname, port, timeout=300)
        try:
            connection.request(self.command, path, body=body, headers=headers,
                               encode_chunked=body is not None and "Content-Length" not in headers)
            answer = connection.getresponse()
        except OSError as error:
            connection.close()
            self._bad_gateway(error, origin)
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

    def _bad_gateway(self, error: OSError, origin: str) -> None:
        sys.stdout.write(f"proxy to {origin}: {error}\n")
        self._refuse(502, "Bad Gateway", f"{origin} did not answer")

    def _refuse(self, status: int, message: str, detail: str) -> None:
        """An answer in the documented error shape; the connection closes (the request's body may
        not have been read to its end)."""
        body = json.dumps({"message": message, "detail": detail}).encode()
        self._proxying = True  # not a page of the site: no site headers
        self.close_connection = True
        self.send_response(status)
        self.send_header("Connection", "close")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
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
    parser.add_argument("--storage-origin", default="", metavar="URL",
                        help="forward the bucket's read prefixes to the bucket at URL, virtual-hosted "
                             "(e.g. http://obelisk-local-dicom.localhost:4566)")
    args = parser.parse_args(argv)
    headers = SiteHeaders(Path(args.directory), args.storage_url, args.cross_origin_isolated)
    # Its names, with its port or without (as dicomweb-client sends Host, and as a deployment's
    # viewers name CloudFront, which serves the default ports only).
    hosts = frozenset({f"{name}{port}" for name in ("127.0.0.1", "localhost") for port in ("", f":{args.port}")})
    handler = type("Handler", (SiteHandler,), {"site_headers": headers, "api_proxy": args.api_proxy,
                                                "storage_origin": args.storage_origin, "hosts": hosts})
    server = ThreadingHTTPServer(("127.0.0.1", args.port), functools.partial(handler, directory=args.directory))
    server.daemon_threads = True
    print(f"site {args.directory} on http://127.0.0.1:{args.port}"
          + (f", /api forwarded to {args.api_proxy}" if args.api_proxy else "")
          + (f", the bucket's reads to {args.storage_origin}" if args.storage_origin else ""), flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())

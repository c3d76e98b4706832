"""A static site on loopback with single-page-app fallback: what S3 + CloudFront do in AWS. Every
response carries the site's security headers (`devstack/site_headers.py`, shared with CloudFront)."""
from __future__ import annotations

import argparse
import functools
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from devstack import site_headers


class SiteHandler(SimpleHTTPRequestHandler):
    extra_headers: dict[str, str] = {}

    def send_head(self):
        path = Path(self.translate_path(self.path))
        navigation = "text/html" in self.headers.get("Accept", "")
        if not path.exists() and ("." not in path.name or navigation):
            # SPA fallback, as the CloudFront distribution does; a page address may hold dots
            # (/studies/1.2.840...), so a browser navigation (Accept: text/html) always falls back.
            self.path = "/index.html"
        return super().send_head()

    def end_headers(self):
        for name, value in self.extra_headers.items():
            self.send_header(name, value)
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

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
    args = parser.parse_args(argv)
    headers = site_headers.for_site(Path(args.directory), args.storage_url)
    if args.cross_origin_isolated:
        headers.update(site_headers.OHIF_ISOLATION)
    handler = type("Handler", (SiteHandler,), {"extra_headers": headers})
    server = ThreadingHTTPServer(("127.0.0.1", args.port), functools.partial(handler, directory=args.directory))
    print(f"site {args.directory} on http://127.0.0.1:{args.port}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())

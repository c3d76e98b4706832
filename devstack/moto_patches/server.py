"""Per-request costs of moto's server that AWS does not have and that change no answer, and the
request's path as the client sent it.

- `DomainDispatcherApplication.get_backend_for_host` asks `moto.backends.list_of_moto_modules()`,
  twice per request, whether the host is a moto service: that lists moto's package folder and
  stats its ~180 entries each time (about 1.5 ms of the emulator's CPU per request, a third of an
  S3 PutObject's). The folder does not change while the emulator runs, so it is listed once.
- werkzeug's development server, which moto's server runs on, closes the connection after every
  answer (`Connection: close`), so every AWS request cost a TCP connection and a thread in the
  emulator and a new connection in the caller; AWS keeps connections alive (HTTP/1.1), and so
  does `kept_alive`'s handler. werkzeug closes because its handler, after an answer, discards
  whatever the client sent beyond it, which on a kept-alive connection is the next request; here
  the request's body is read to its end (its `Content-Length`, or its last chunk) instead, and the
  connection is closed whenever that cannot be done (a client that went away, a body that does not
  end). Answers are unchanged but for that hop-by-hop header. The handler writes an answer's
  headers and its body in two sends; with Nagle's algorithm on, the body then waited for the
  client's delayed acknowledgement (40 ms on Linux) on every request of a kept-alive connection
  after the first, which AWS does not do: `TCP_NODELAY` is set on each connection (GetItem 48 ms
  -> 3 ms).
- Every look-up of a service's backend (`BackendDict[account]`, ~8 per request) first makes sure
  the account's backend exists: under a lock, it builds `list(self.keys())` and tests
  `self in BackendDict._instances`, comparing itself with each other service's `BackendDict` by
  `__eq__` until it meets itself (~4% of the emulator's CPU in `bench.stow`). `ready_backend` answers
  at once when the account is already a key and the dict itself (by identity, as `in` tests first)
  is already in `_instances`: then moto's check would change nothing; otherwise moto's runs.
- http.server parses each request's header lines with the `email` package (`http.client.
  parse_headers`: a `FeedParser`, its regular expressions and its policy, ~7% of the emulator's
  CPU in `bench.stow`). `parse_headers` builds the same `HTTPMessage` (the same `(name, value)`
  pairs, empty payload, no defects) directly when every line is a plain `Name: value` line (a name
  of the characters `email` accepts in one, no continuation line, no carriage return but the line's
  end, the block ended by an empty line); any other block goes to the `email` package as before.
- moto's `EnvironHeaders` (its `Request.headers`, walked ~3 times per S3 request: `dict(headers)`,
  metadata, ACL) looks every header's name up in the original spellings of `x-amz-meta-` names
  with underscores, computing each name's WSGI key to do so; when the request has none of those
  (the map is empty: every look-up would answer the name itself) `headers_in_order` hands out
  werkzeug's own iteration, the same pairs in the same order.
- Every answer's body goes through a regular expression that puts the request id into an XML
  `<RequestId>` element (`BaseResponse._enrich_response`): a look-behind tried at each character,
  ~5% of the emulator's CPU on a search's DynamoDB pages (JSON, with no such element). A body that
  does not hold `<RequestId>` is left as it is without the expression, which would change
  nothing; the request id header is added as before.
- Every request lists its handler class's methods (`method_names_from_class`: `inspect.getmembers`
  over the class and its bases, ~2% of the emulator's CPU) to check that the action is one; the
  classes do not change once the emulator serves (the patches are installed before), so each
  class's list is made once.
- http.server makes a request target's leading slashes one (`//cache/x` -> `/cache/x`: CPython's
  gh-87389, against open redirects from file servers) before werkzeug builds the environ, so the
  emulator's signature check and moto read a path the client did not send: a URL presigned for
  `/cache/x` served `//cache/x` (S3 signs the path as sent and reads the key `/cache/x` there),
  and a virtual-hosted request for the key `/cache/x` was refused. `kept_alive`'s handler keeps
  the target as sent (its request line's), which werkzeug puts in `RAW_URI`, and moto reads
  (`Request.raw_path`, written for a path that begins with `//`).

Nothing here takes or needs `ONE_AT_A_TIME`: the list is computed once, before the server starts,
and a connection's requests are served one after the other by its own thread, as before;
`ready_backend` only reads (a key set before it is seen, a list appended to under moto's lock) and
leaves anything it does not find to moto's locked check; header parsing is per request."""
from __future__ import annotations

import email.parser
import functools
import http.client
import re

import moto.backends as backends
import moto.core.responses as moto_responses
from moto.core import request as moto_request
from moto.core.base_backend import BackendDict
from moto.core.responses import BaseResponse
from moto.utilities.aws_headers import gen_amzn_requestid_long
from werkzeug.datastructures import EnvironHeaders as WerkzeugEnvironHeaders
from werkzeug.wsgi import LimitedStream

IDLE_SECONDS = 120  # a kept-alive connection without a request for this long is closed


def install() -> None:
    """`list_of_moto_modules` answers from one listing of moto's folder; a backend that exists is
    found without moto's checks."""
    original = backends.list_of_moto_modules
    if getattr(original, "obelisk_patched", False):
        return
    create = BackendDict._create_account_specific_backend

    def ready_backend(self, account_id: str) -> None:
        if dict.__contains__(self, account_id) and any(known is self for known in BackendDict._instances):
            return  # moto's check would find both and do nothing
        create(self, account_id)

    BackendDict._create_account_specific_backend = ready_backend
    http.client.parse_headers = parse_headers
    spelled = moto_request.EnvironHeaders.__iter__

    def headers_in_order(self):
        if self.environ.get(moto_request.PRESERVED_HEADER_NAMES_ENVIRON_KEY):
            return spelled(self)  # some names keep their own spelling: moto's walk
        return WerkzeugEnvironHeaders.__iter__(self)

    moto_request.EnvironHeaders.__iter__ = headers_in_order
    moto_responses.method_names_from_class = functools.lru_cache(maxsize=None)(moto_responses.method_names_from_class)
    enrich = BaseResponse._enrich_response

    def enrich_response(headers, body):
        if isinstance(body, str) and "<RequestId>" not in body:  # the expression would replace nothing
            if "status" in headers:
                headers["status"] = str(headers["status"])
            gen_amzn_requestid_long(headers)
            return headers, body
        return enrich(headers, body)

    BaseResponse._enrich_response = staticmethod(enrich_response)
    modules = tuple(original())

    def list_of_moto_modules():
        return iter(modules)

    list_of_moto_modules.obelisk_patched = True
    backends.list_of_moto_modules = list_of_moto_modules


PLAIN_HEADER = re.compile(r"[\041-\071\073-\176]+:")  # `email.feedparser.headerRE`, a name required
_email_parse_headers = http.client.parse_headers


def parse_headers(fp, _class=http.client.HTTPMessage):
    """`http.client.parse_headers`, plain header blocks parsed directly (module docstring)."""
    lines = http.client._read_headers(fp)
    text = b"".join(lines).decode("iso-8859-1")
    pairs = _plain_pairs(text.split("\n")) if lines[-1] in (b"\r\n", b"\n") else None
    if pairs is None:
        return email.parser.Parser(_class=_class).parsestr(text)
    message = _class()
    message._headers = pairs
    message._payload = ""
    return message


parse_headers.obelisk_patched = True


def _plain_pairs(lines: list[str]) -> list[tuple[str, str]] | None:
    """The `(name, value)` pairs the `email` package makes of these lines (each ending in "\n", the
    last two the empty line and ""), or None for any line it would read otherwise."""
    pairs = []
    for line in lines[:-2]:
        content = line[:-1] if line.endswith("\r") else line
        if "\r" in content or not PLAIN_HEADER.match(content):
            return None
        name, _, value = content.partition(":")
        pairs.append((name, value.lstrip(" \t")))
    return pairs if lines[-2] in ("", "\r") and lines[-1] == "" else None


class _Spent:
    """The connection's input as werkzeug's handler sees it after an answer: nothing more to
    discard (the body was bounded by its length; what follows is the next request)."""

    @staticmethod
    def read(*_args) -> bytes:
        return b""


def kept_alive(handler: type) -> type:
    """`handler` (a werkzeug request handler) keeping HTTP/1.1 connections open between requests."""

    class KeptAlive(handler):
        timeout = IDLE_SECONDS
        disable_nagle_algorithm = True
        _body = None  # the request body being served, if any

        def parse_request(self) -> bool:
            parsed = super().parse_request()
            if parsed and self.path.startswith("/"):
                self.path = self.requestline.split()[1]  # the target as sent (module docstring)
            return parsed

        def make_environ(self):
            environ = super().make_environ()
            if not environ.get("wsgi.input_terminated"):  # chunked bodies end at their last chunk
                try:
                    length = max(int(environ.get("CONTENT_LENGTH") or 0), 0)
                except ValueError:
                    length, self.close_connection = 0, True
                environ["wsgi.input"] = LimitedStream(self.rfile, length)
            self._body, self._connection_input, self.rfile = environ["wsgi.input"], self.rfile, _Spent()
            return environ

        def run_wsgi(self) -> None:
            self._body = None
            try:
                super().run_wsgi()
            finally:
                if self._body is not None:
                    self.rfile = self._connection_input
            body, self._body = self._body, None  # http.server's own errors (send_error) close as before
            if body is not None and not self.close_connection:
                try:
                    while body.read(1 << 20):
                        pass
                except Exception:  # the client went away, or a chunked body that does not end
                    self.close_connection = True

        def log_error(self, format: str, *args) -> None:  # noqa: A002 (http.server's name)
            if not format.startswith("Request timed out"):  # an idle kept-alive connection closing
                super().log_error(format, *args)

        def send_header(self, keyword: str, value: str) -> None:
            if (keyword.lower() == "connection" and value.lower() == "close" and self._body is not None
                    and not self.close_connection):
                return  # werkzeug's blanket close; the connection's end is decided above
            super().send_header(keyword, value)

    KeptAlive.__name__ = KeptAlive.__qualname__ = f"KeptAlive{handler.__name__}"
    return KeptAlive

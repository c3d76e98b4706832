"""HTTP to a DICOMweb server with retries: connection errors, timeouts, 429 and 5xx are tried again
after an exponential backoff (honouring Retry-After). Every request the command sends is
idempotent (STOW-RS stores each SOP Instance UID once), so retrying a POST is safe."""
from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass

import requests

RETRY_STATUSES = {408, 429, 500, 502, 503, 504}


@dataclass
class Server:
    """A DICOMweb base URL and how to authenticate to it."""

    url: str
    bearer_token: str | None = None
    basic: tuple[str, str] | None = None
    attempts: int = 6
    backoff: float = 0.5
    timeout: float = 120.0

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        self._local = threading.local()

    @property
    def session(self) -> requests.Session:
        """One session (connection pool) per thread."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            if self.bearer_token:
                session.headers["Authorization"] = f"Bearer {self.bearer_token}"
            elif self.basic:
                session.auth = self.basic
        return session

    @property
    def bare(self) -> requests.Session:
        """A session without credentials, for presigned URLs (they carry their own)."""
        session = getattr(self._local, "bare", None)
        if session is None:
            session = self._local.bare = requests.Session()
        return session

    def request(self, method: str, path_or_url: str, *, retry_on: set[int] = RETRY_STATUSES,
                presigned: bool = False, **kwargs) -> requests.Response:
        """The answer of the last attempt; raises the last connection error if none got through."""
        url = path_or_url if path_or_url.startswith(("http://", "https://")) else self.url + path_or_url
        kwargs.setdefault("timeout", self.timeout)
        session = self.bare if presigned else self.session
        for attempt in range(1, self.attempts + 1):
            try:
                answer = session.request(method, url, **kwargs)
            except (requests.ConnectionError, requests.Timeout):
                if attempt == self.attempts:
                    raise
                self._pause(attempt, None)
                continue
            if answer.status_code not in retry_on or attempt == self.attempts:
                return answer
            self._pause(attempt, answer.headers.get("Retry-After"))
        raise AssertionError("unreachable")

    def _pause(self, attempt: int, retry_after: str | None) -> None:
        delay = self.backoff * 2 ** (attempt - 1) * (0.5 + random.random())
        if retry_after and retry_after.isdigit():
            delay = max(delay, float(retry_after))
        time.sleep(min(delay, 30.0))

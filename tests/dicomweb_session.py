"""dicomweb-client as the tests use it against the API's own URL (the test stack's, which has no
public origin): with the session docs/dicomweb.md gives its users for that URL. Through the public
origin no session is needed (`test_public_origin_reads.py`).

dicomweb-client sets an explicit `Host` header (the API's) on its GETs, and requests keeps it when it
follows Obelisk's 303 to a presigned S3 URL; S3 refuses that request (the signature covers the
host), and so does the emulator. `DropsHostOnRedirect` leaves the Host header out of any redirected
request. `test_dicomweb.py` shows the client without it refused."""
from __future__ import annotations

import requests
from dicomweb_client import api


class DropsHostOnRedirect(requests.Session):
    """A session that sends no Host header of its caller's along a redirect."""

    def rebuild_auth(self, prepared_request, response) -> None:
        super().rebuild_auth(prepared_request, response)
        prepared_request.headers.pop("Host", None)


class DICOMwebClient(api.DICOMwebClient):
    def __init__(self, url: str, session: requests.Session | None = None, **options) -> None:
        super().__init__(url, session=session or DropsHostOnRedirect(), **options)

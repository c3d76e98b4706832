"""Accept-header negotiation for WADO-RS (PS3.18 8.7): which representation of a resource the
client will take, or NotAcceptable (406) when Obelisk cannot serve any it asks for."""
from __future__ import annotations

import re
from dataclasses import dataclass

from chalicelib.dicom.multipart import media_type
from chalicelib.errors import NotAcceptable

_SPLIT = re.compile(r',(?=(?:[^"]*"[^"]*")*[^"]*$)')


@dataclass(frozen=True)
class Range:
    kind: str
    params: dict[str, str]

    @property
    def part_type(self) -> str:
        return self.params.get("type", "").strip('"').lower()

    @property
    def transfer_syntax(self) -> str:
        return self.params.get("transfer-syntax", "*").strip('"')


def ranges(accept: str | None, override: str | None = None) -> list[Range]:
    """Accepted media ranges, best first; `?accept=` overrides the header; none means `*/*`."""
    value = override or accept or "*/*"
    out = []
    for item in _SPLIT.split(value):
        kind, params = media_type(item.strip())
        if kind:
            quality = float(params.pop("q", "1") or 1)
            out.append((quality, Range(kind, params)))
    out.sort(key=lambda pair: -pair[0])
    return [r for q, r in out if q > 0] or [Range("*/*", {})]


def _syntax_ok(wanted: str, stored: set[str]) -> bool:
    return wanted == "*" or (bool(stored) and stored == {wanted})


def dicom_retrieval(accepted: list[Range], stored_syntaxes: set[str], allow_zip: bool = False) -> str:
    """`multipart` or `zip` for instance, series and study retrieval (no transcoding)."""
    for r in accepted:
        if allow_zip and r.kind == "application/zip":
            return "zip"
        if r.kind in ("*/*", "multipart/*"):
            return "multipart"
        if r.kind == "multipart/related" and r.part_type in ("", "application/dicom"):
            if _syntax_ok(r.transfer_syntax, stored_syntaxes):
                return "multipart"
    raise NotAcceptable("only multipart/related; type=\"application/dicom\" in the stored transfer syntax"
                        + (" or application/zip" if allow_zip else "") + " can be served")


def frames_or_bulk(accepted: list[Range], stored_syntax: str | None) -> None:
    """Frames and bulk data are served as multipart/related application/octet-stream parts."""
    for r in accepted:
        if r.kind in ("*/*", "multipart/*", "application/octet-stream"):
            return
        if r.kind == "multipart/related" and r.part_type in ("", "application/octet-stream", "*/*", "*"):
            if stored_syntax is None or _syntax_ok(r.transfer_syntax, {stored_syntax}):
                return
    raise NotAcceptable("only multipart/related; type=\"application/octet-stream\" in the stored transfer "
                        "syntax can be served")


def metadata(accepted: list[Range]) -> None:
    for r in accepted:
        if r.kind in ("*/*", "application/*", "application/dicom+json", "application/json"):
            return
    raise NotAcceptable("metadata is served as application/dicom+json")


def rendered(accepted: list[Range]) -> str:
    """The image media type to render: JPEG unless the client prefers PNG or GIF."""
    for r in accepted:
        if r.kind in ("image/jpeg", "image/png", "image/gif"):
            return r.kind
        if r.kind in ("*/*", "image/*"):
            return "image/jpeg"
    raise NotAcceptable("rendered resources are served as image/jpeg, image/png or image/gif")

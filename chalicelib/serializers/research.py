"""What KHEOPS-style answers say of a research album (docs/research-albums.md): the summary in its
AlbumResponse, the flags its members see, and the held series an admin lists."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from chalicelib.store.research import HeldSeries


@dataclass(frozen=True)
class ResearchCounts:
    """How many series wait for release, how many were copied and the bytes the copies take."""

    held_series: int
    copied_series: int
    copies_size: int


def summary(options: dict, counts: ResearchCounts) -> dict:
    """The album response's research summary: its de-identification options and its counts."""
    return {**options, "held_series": counts.held_series, "copied_series": counts.copied_series,
            "copies_size": counts.copies_size}


def member_flags() -> dict:
    """The album flags a research album's answer shows whatever its settings: what its members may
    do there. They never add series (`policy.research_adder`)."""
    return {"add_series": False}


def held_series(rows: Iterable[HeldSeries]) -> list[dict]:
    """`GET /albums/{album}/held`: the series waiting for release, oldest first, without any UID."""
    return [{"id": h.hold_id, "modality": h.modality, "reason": h.reason,
             "number_of_instances": int(h.number_of_instances), "held_since": h.held_since}
            for h in sorted(rows, key=lambda h: h.held_since)]

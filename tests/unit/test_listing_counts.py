"""`listing.merged`: a study's rows in several albums give its instance count only when each row
counts its series and no two share one (a shared series would be counted twice); otherwise
None, and the page reads the series records."""
from __future__ import annotations

from chalicelib.store import listing


def _row(album: str, series: set[str], instances: int | None) -> dict:
    row = {"album_id": album, "study_uid": "1.2", "series_uids": series, "study_attributes": {},
           "series_modalities": {f"{s}=CT" for s in series}}
    return row | ({"instance_count": instances, "counted": True} if instances is not None else {})


def test_one_counted_row_gives_its_count():
    assert listing.merged([_row("a", {"s1", "s2"}, 7)], ["1.2"])["1.2"].instances == 7


def test_rows_of_different_series_add_up():
    assert listing.merged([_row("a", {"s1"}, 3), _row("b", {"s2"}, 4)], ["1.2"])["1.2"].instances == 7


def test_rows_sharing_a_series_give_no_count():
    assert listing.merged([_row("a", {"s1", "s2"}, 5), _row("b", {"s2"}, 2)], ["1.2"])["1.2"].instances is None


def test_a_row_written_before_the_counts_gives_no_count():
    assert listing.merged([_row("a", {"s1"}, 3), _row("b", {"s2"}, None)], ["1.2"])["1.2"].instances is None
    assert listing.merged([_row("a", {"s1"}, None)], ["1.2"])["1.2"].instances is None

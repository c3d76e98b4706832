"""A study's partition (`STUDY#{uid}`), read by intent: its comments and a series' instances. The
sort-key grammar of each item is `store/models.py`'s (`Model.key`)."""
from __future__ import annotations

from chalicelib.store.models import InstanceRecord, StudyComment

PARTITION = "STUDY#"
COMMENT = "COMMENT#"
INSTANCE = "INSTANCE#"


def _pk(study_uid: str) -> str:
    return f"{PARTITION}{study_uid}"


def comments_newest_first(study_uid: str) -> list[StudyComment]:
    return list(StudyComment.query(_pk(study_uid), StudyComment.sk.startswith(COMMENT), scan_index_forward=False))


def series_instances(study_uid: str, series_uid: str, *, consistent_read: bool = False) -> list[InstanceRecord]:
    """The instance rows of one series, in sort-key order (one Query)."""
    return list(InstanceRecord.query(_pk(study_uid), InstanceRecord.sk.startswith(f"{INSTANCE}{series_uid}#"),
                                     consistent_read=consistent_read))

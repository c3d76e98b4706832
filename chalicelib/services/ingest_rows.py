"""An accepted instance on its way to the index: how a series' instances are cut into
transactions within DynamoDB's limits, the instance row, which instances are stored already (one
strongly consistent read per 100), and removing an instance's objects when its index write fails."""
from __future__ import annotations

import json
from dataclasses import dataclass

from chalicelib.services.ingest_results import Stored
from chalicelib.services.parsed import ParsedInstance
from chalicelib.store import dicom_store
from chalicelib.store.models import InstanceRecord


@dataclass
class Accepted:
    """An instance that passed the checks, on its way to the store."""
    instance: ParsedInstance
    stored: Stored
    coerced: list[str]
    generation: str = ""

    @property
    def attributes(self) -> dict:
        return self.instance.attributes


MAX_INSTANCES_PER_COMMIT = 25  # TransactWriteItems takes 100 items and 4 MB
MAX_INDEX_BYTES_PER_COMMIT = 2_000_000


def commit_chunks(instances: list[Accepted]) -> list[list[Accepted]]:
    """The instances of one series cut into transactions within DynamoDB's limits."""
    chunks: list[list[Accepted]] = []
    size = 0
    for accepted in instances:
        estimate = len(json.dumps(accepted.instance.indexed))
        if not chunks or len(chunks[-1]) == MAX_INSTANCES_PER_COMMIT or size + estimate > MAX_INDEX_BYTES_PER_COMMIT:
            chunks.append([])
            size = 0
        chunks[-1].append(accepted)
        size += estimate
    return chunks


def instance_record(accepted: Accepted, moment: str) -> InstanceRecord:
    instance, stored = accepted.instance, accepted.stored
    dataset = instance.dataset
    return InstanceRecord(
        *InstanceRecord.key(stored.study_uid, stored.series_uid, stored.sop_uid), study_uid=stored.study_uid,
        series_uid=stored.series_uid, sop_uid=stored.sop_uid, sop_class_uid=stored.sop_class_uid,
        transfer_syntax_uid=instance.transfer_syntax,
        attributes=instance.indexed, size=len(instance.data),
        number_of_frames=int(dataset.get("NumberOfFrames", 1) or 1), stored_at=moment,
        generation=accepted.generation,
    )


def delete_objects(instances: list[Accepted]) -> None:
    for accepted in instances:
        stored = accepted.stored
        dicom_store.delete_objects(dicom_store.instance_keys(stored.study_uid, stored.series_uid, stored.sop_uid,
                                                             generation=accepted.generation))


def existing(uids: list[tuple[str, ...]]) -> set[tuple[str, str, str]]:
    """Which of these instances are stored (one strongly consistent BatchGetItem per 100)."""
    keys = {InstanceRecord.key(*u[:3]) for u in uids}
    if not keys:
        return set()
    return {(r.study_uid, r.series_uid, r.sop_uid) for r in InstanceRecord.batch_get(keys, consistent_read=True)}

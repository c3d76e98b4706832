"""`GET /inboxinfo` (docs/kheops-compatibility.md): what the caller's inbox holds, summed from its
QIDO study entries (ModalitiesInStudy, NumberOfStudyRelatedSeries and ...Instances)."""
from __future__ import annotations

MODALITIES_IN_STUDY = "00080061"
NUMBER_OF_SERIES = "00201206"
NUMBER_OF_INSTANCES = "00201208"


def _count(study: dict, tag: str) -> int:
    return int(study[tag]["Value"][0])


def inbox_info(studies: list[dict], total: int) -> dict:
    """`studies`: every study entry of the inbox (DICOM JSON); `total`: how many there are."""
    modalities = {m for s in studies for m in (s.get(MODALITIES_IN_STUDY, {}).get("Value") or [])}
    return {
        "modalities": sorted(modalities), "number_of_studies": total,
        "number_of_series": sum(_count(s, NUMBER_OF_SERIES) for s in studies),
        "number_of_instances": sum(_count(s, NUMBER_OF_INSTANCES) for s in studies),
    }

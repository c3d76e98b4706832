"""Research albums (docs/research-albums.md): whatever enters one waits in its intake
(`store.research`), and this module's worker places the de-identified copy in the album.

The worker (`copy_series`, the `research_copies` SQS function) reads the original's instances,
de-identifies each (`dicom.deidentify`) with the album's secret and options, and stores the
copies through `Ingest` as the DEIDENTIFIER principal, which places series in that album only. A
series that may carry identifiers in its pixels is held (`HeldSeries`) until an album admin
releases it. Once copied, the original leaves the intake (and is purged if no other album holds
it). The album's events and webhooks see only the copy: the intake has none."""
from __future__ import annotations

import io
import json

from chalicelib import clock
from chalicelib.auth import policy
from chalicelib.auth.principals import DEIDENTIFIER, Principal
from chalicelib.dicom.deid_profile import OPTION_FIELDS, Profile
from chalicelib.errors import BadFormParameter, NotFound
from chalicelib.events import messages
from chalicelib.events.messages import SeriesEnteredResearch
from chalicelib.serializers.research import ResearchCounts
from chalicelib.services import renditions
from chalicelib.services.research_intake import principal_fields
from chalicelib.store import items, shares
from chalicelib.store.models import SeriesShare, UserProfile
from chalicelib.store.research import (
    CopyOf,
    HeldSeries,
    Pseudonym,
    ResearchKey,
    held,
    held_count,
    intake_id,
    key_of,
    research_profile,
)

RESEARCH_FIELD = "research"


def options_from_form(form: dict[str, str], parse) -> dict | None:
    """The research options of `POST /albums` (None for an ordinary album); options without
    `research=true` are refused."""
    is_research = parse(form[RESEARCH_FIELD], RESEARCH_FIELD) if RESEARCH_FIELD in form else False
    given = {field: parse(form[field], field) for field in OPTION_FIELDS if field in form}
    if given and not is_research:
        raise BadFormParameter("de-identification options need research=true")
    return Profile.from_dict(given).as_dict() if is_research else None


def new_key(album_id: str) -> ResearchKey:
    return ResearchKey(*ResearchKey.key(album_id), secret=clock.random_id(43))


def counts(album_id: str) -> ResearchCounts:
    """How many series of a research album wait for release, how many were copied and the bytes
    the copies take (`serializers.research.summary` says them)."""
    key = items.get_or_none(ResearchKey, ResearchKey.key(album_id), consistent_read=True)
    copied, size = (int(key.copied_series), int(key.copy_bytes)) if key else (0, 0)
    return ResearchCounts(held_count(album_id), copied, size)


# ---- entering -------------------------------------------------------------------------------


# ---- the worker -----------------------------------------------------------------------------


def _worker(album_id: str, actor: dict) -> Principal:
    user = (items.get_or_none(UserProfile, UserProfile.key(actor["sub"]))
            or UserProfile(*UserProfile.key(actor["sub"]), sub=actor["sub"], inbox_id="", created_at=""))
    return Principal(kind=DEIDENTIFIER, user=user, scope=frozenset({"read", "write"}), album_id=album_id,
                     capability_id=actor.get("capability_id"), capability_title=actor.get("capability_title"),
                     client_id=actor.get("client_id"))


def copy_series(message: SeriesEnteredResearch) -> str:
    """One series of the intake into its research album; what was done (`copied`, `held`,
    `gone` when the album or the intake share no longer exists)."""
    album_id, study, series = message.album_id, message.study_uid, message.series_uid
    profile_options = research_profile(album_id)
    intake_key = SeriesShare.key(intake_id(album_id), study, series)
    intake_share = items.get_or_none(SeriesShare, intake_key, consistent_read=True)
    if intake_share is None:
        return "gone"
    if profile_options is None:
        shares.remove_series(intake_share)
        return "gone"
    from chalicelib.dicom.deidentify import burned_in_reason

    records = renditions.series_instances(study, series)
    originals = [(record, renditions.part10_bytes(record)) for record in records]
    datasets = [_read(data) for _, data in originals]
    if not message.released:
        reason = next((r for r in map(burned_in_reason, datasets) if r), None)
        if reason:
            _hold(album_id, study, series, datasets, reason, message.actor)
            return "held"
    _place(album_id, Profile.from_dict(profile_options), datasets, message.actor, study, series)
    shares.remove_series(intake_share)
    return "copied"


def _read(data: bytes):
    import pydicom

    return pydicom.dcmread(io.BytesIO(data))


def _place(album_id: str, profile: Profile, datasets: list, actor: dict, study: str, series: str) -> None:
    from chalicelib.dicom.deidentify import deidentify
    from chalicelib.services.ingest import Ingest

    key = key_of(album_id)
    ingest = Ingest(_worker(album_id, actor), album_id)
    written = 0
    for dataset in datasets:
        copy = deidentify(dataset, key.secret, profile)
        data = _encoded(copy)
        before = len(ingest.result.stored)
        ingest.add(data, copy)
        if len(ingest.result.stored) > before and ingest.result.stored[-1].created:
            written += len(data)
        _remember(album_id, dataset, copy)
    result = ingest.finish()
    if result.failed:
        raise RuntimeError(f"copies refused: {[f.comment for f in result.failed]}")
    first = next(iter(result.stored), None)
    new_series = first is not None and _first_copy(CopyOf(
        *CopyOf.key(album_id, study, series), copy_study_uid=first.study_uid, copy_series_uid=first.series_uid,
        copied_at=clock.local_iso()))
    key.update(actions=[ResearchKey.copy_bytes.add(written), ResearchKey.copied_series.add(1 if new_series else 0)])


def _first_copy(row: CopyOf) -> bool:
    """Records which copy a series became; whether it is the series' first copy in the album (a
    re-share copying more instances of it, or a redelivered message, copies no new series)."""
    from pynamodb.exceptions import PutError

    try:
        row.save(condition=CopyOf.pk.does_not_exist())
        return True
    except PutError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
    row.save()
    return False


def _remember(album_id: str, original, copy) -> None:
    patient = str(original.get("PatientID", ""))
    if patient:
        Pseudonym(*Pseudonym.key(album_id, patient), patient_id=patient, pseudonym=str(copy.get("PatientID", ""))).save()


def _encoded(dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _hold(album_id: str, study: str, series: str, datasets: list, reason: str, actor: dict) -> None:
    hold_id = _hold_id(album_id, study, series)
    HeldSeries(*HeldSeries.key(album_id, hold_id), hold_id=hold_id, study_uid=study, series_uid=series,
               modality=str(datasets[0].get("Modality", "")) if datasets else "", reason=reason,
               number_of_instances=len(datasets), held_since=clock.local_iso(), actor=json.dumps(actor)).save()


def _hold_id(album_id: str, study: str, series: str) -> str:
    """Stable per series and album (a series held twice is one entry), revealing nothing of it."""
    import hashlib

    secret = key_of(album_id).secret
    return hashlib.sha256(f"{secret}:{study}:{series}".encode()).hexdigest()[:20]


# ---- held series ----------------------------------------------------------------------------


def list_held(principal: Principal, album_id: str) -> list[HeldSeries]:
    """`GET /albums/{album}/held`: the series waiting for release (`serializers.research.held_series`)."""
    policy.require_held_series_admin(principal, album_id)
    return list(held(album_id))


def release(principal: Principal, album_id: str, hold_id: str) -> None:
    """`POST /albums/{album}/held/{id}/release`: the worker copies the series without holding it."""
    policy.require_held_series_admin(principal, album_id)
    row = items.get_or_none(HeldSeries, HeldSeries.key(album_id, hold_id))
    if row is None:
        raise NotFound("no such held series", message="Held Series Not Found")
    messages.send(SeriesEnteredResearch(album_id=album_id, study_uid=row.study_uid, series_uid=row.series_uid,
                                        actor=json.loads(row.actor or "{}") or principal_fields(principal),
                                        released=True))
    row.delete()

"""PynamoDB models. Each table holds several item kinds under generic `pk`/`sk` keys;
`docs/data-model.md` lists which item answers which question."""
from __future__ import annotations

import functools

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.connection import Connection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib import config
from chalicelib.config import settings
from chalicelib.store import dynamodb_connection


class _TableMeta(type):
    """A model's `Meta`, whose table name and region PynamoDB reads from `settings()` each time it
    asks, not once at import: after `config.reset()` the models reach the configured tables."""

    @property
    def table_name(cls) -> str:
        return getattr(settings(), cls.table_setting)

    @property
    def region(cls) -> str:
        return settings().region


def _meta(table_setting: str):
    """The `Meta` of a model stored in the table named by `settings().{table_setting}`."""
    return _TableMeta("Meta", (), {"table_setting": table_setting})


@functools.cache
def _transaction_connection() -> Connection:
    """One PynamoDB connection for every transaction of the process: a new one per transaction
    loaded botocore's DynamoDB service model again, ~170 ms of JSON parsing per STOW instance
    (`python -m bench.profile`); its client from the process's botocore session, its transactions
    sent lean (`dynamodb_connection.LeanConnection`)."""
    return dynamodb_connection.LeanConnection(region=settings().region)


@config.on_reset
def _forget_connections() -> None:
    """The transactions' connection and each model's own (PynamoDB keeps one per model class)."""
    _transaction_connection.cache_clear()
    pending = list(Model.__subclasses__())
    while pending:
        model = pending.pop()
        model._connection = None
        pending.extend(model.__subclasses__())


def transact() -> TransactWrite:
    """A DynamoDB transaction (`with transact() as t: t.save(...)`)."""
    return TransactWrite(connection=_transaction_connection())


class _Item(Model):
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)

    @classmethod
    def _get_connection(cls):
        """PynamoDB's connection of the model, its reads sent lean (`dynamodb_connection.LeanConnection`)."""
        table = super()._get_connection()
        if type(table.connection) is Connection:  # PynamoDB builds a plain one: same state, lean reads
            table.connection.__class__ = dynamodb_connection.LeanConnection
        return table


# ---- users table -------------------------------------------------------------------------


class UsersByEmail(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-email"
        projection = AllProjection()

    email_lower = UnicodeAttribute(hash_key=True)


class UserProfile(_Item):
    """`USER#{sub}` / `PROFILE`: a registered user and the id of their inbox album."""

    Meta = _meta("users_table")
    sub = UnicodeAttribute()
    email = UnicodeAttribute(default="")
    email_lower = UnicodeAttribute(null=True)
    name = UnicodeAttribute(default="")
    inbox_id = UnicodeAttribute()
    created_at = UnicodeAttribute()
    by_email = UsersByEmail()

    @staticmethod
    def key(sub: str) -> tuple[str, str]:
        return f"USER#{sub}", "PROFILE"


class EmailClaim(_Item):
    """`EMAIL#{lower-cased e-mail}` / `OWNER`: the one user holding a verified e-mail address.
    Written in the same transaction as the profile's e-mail, on the condition that nobody else
    holds it: e-mail addresses are unique in Obelisk, and `find_user` resolves them here."""

    Meta = _meta("users_table")
    owner_sub = UnicodeAttribute()

    @staticmethod
    def key(email: str) -> tuple[str, str]:
        return f"EMAIL#{email.strip().lower()}", "OWNER"


# ---- albums table ------------------------------------------------------------------------


class AlbumsByMember(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-member"
        projection = AllProjection()

    member_sub = UnicodeAttribute(hash_key=True)
    pk = UnicodeAttribute(range_key=True)


class AlbumFlags(MapAttribute):
    add_user = BooleanAttribute(default=False)
    download_series = BooleanAttribute(default=True)
    send_series = BooleanAttribute(default=True)
    delete_series = BooleanAttribute(default=False)
    add_series = BooleanAttribute(default=True)
    write_comments = BooleanAttribute(default=True)


class Album(_Item):
    """`ALBUM#{id}` / `META`: an album, or a user's inbox when `is_inbox`."""

    Meta = _meta("albums_table")
    album_id = UnicodeAttribute()
    name = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    is_inbox = BooleanAttribute(default=False)
    flags = AlbumFlags(default=AlbumFlags)
    research = JSONAttribute(null=True)  # a research album's options (docs/research-albums.md), else None
    created_time = UnicodeAttribute()
    last_event_time = UnicodeAttribute()

    @staticmethod
    def key(album_id: str) -> tuple[str, str]:
        return f"ALBUM#{album_id}", "META"


class AlbumMember(_Item):
    """`ALBUM#{id}` / `MEMBER#{sub}`: membership; the `by-member` index lists a user's albums."""

    Meta = _meta("albums_table")
    member_sub = UnicodeAttribute()
    is_admin = BooleanAttribute(default=False)
    is_favorite = BooleanAttribute(default=False)
    notification_new_series = BooleanAttribute(default=True)
    notification_new_comment = BooleanAttribute(default=True)
    joined_at = UnicodeAttribute()
    by_member = AlbumsByMember()

    @staticmethod
    def key(album_id: str, sub: str) -> tuple[str, str]:
        return f"ALBUM#{album_id}", f"MEMBER#{sub}"


class AlbumEvent(_Item):
    """`ALBUM#{id}` / `EVENT#{post_date}#{event_id}`: a comment or a mutation in the album's
    history. `unpublished` is set until the event has been sent to the events queue."""

    Meta = _meta("albums_table")
    event_id = UnicodeAttribute()
    album_id = UnicodeAttribute()
    event_type = UnicodeAttribute()  # "Comment" | "Mutation"
    mutation_type = UnicodeAttribute(null=True)
    post_date = UnicodeAttribute()
    actor_sub = UnicodeAttribute(null=True)
    capability = JSONAttribute(null=True)  # {"id", "title"} when done through a capability token
    report_provider = JSONAttribute(null=True)  # {"name", "client_id"} when done by a provider
    study_uid = UnicodeAttribute(null=True)
    series_uids = JSONAttribute(null=True)
    target_sub = UnicodeAttribute(null=True)
    comment = UnicodeAttribute(null=True)
    is_private = BooleanAttribute(default=False)
    details = JSONAttribute(null=True)
    unpublished = BooleanAttribute(null=True)

    @staticmethod
    def key(album_id: str, post_date: str, event_id: str) -> tuple[str, str]:
        return f"ALBUM#{album_id}", f"EVENT#{post_date}#{event_id}"


class SeriesRead(_Item):
    """`ALBUM#{id}` / `READ#{time}#{id}`: a series of the album was read, by whom and through
    which token (the read audit trail; expires with the TTL)."""

    Meta = _meta("albums_table")
    reader_sub = UnicodeAttribute()
    token_kind = UnicodeAttribute()
    capability_id = UnicodeAttribute(null=True)
    client_id = UnicodeAttribute(null=True)
    study_uid = UnicodeAttribute()
    series_uid = UnicodeAttribute()
    read_time = UnicodeAttribute()
    expires_at = NumberAttribute(null=True)

    @staticmethod
    def key(album_id: str, read_time: str, read_id: str) -> tuple[str, str]:
        return f"ALBUM#{album_id}", f"READ#{read_time}#{read_id}"


class StudyComment(_Item):
    """`STUDY#{uid}` / `COMMENT#{post_date}#{id}` in the albums table: a comment on a study,
    public or private to its author and `target_sub` (docs/kheops-compatibility.md §7), with the
    series its author read when posting (`series_uids`: a reader must read all of them)."""

    Meta = _meta("albums_table")
    study_uid = UnicodeAttribute()
    author_sub = UnicodeAttribute()
    comment = UnicodeAttribute()
    post_date = UnicodeAttribute()
    target_sub = UnicodeAttribute(null=True)
    series_uids = UnicodeSetAttribute(null=True)

    @staticmethod
    def key(study_uid: str, post_date: str, comment_id: str) -> tuple[str, str]:
        return f"STUDY#{study_uid}", f"COMMENT#{post_date}#{comment_id}"


class ReportProvider(_Item):
    """`ALBUM#{id}` / `RP#{client_id}`: a report provider installed in an album (soft-deleted)."""

    Meta = _meta("albums_table")
    client_id = UnicodeAttribute()
    album_id = UnicodeAttribute()
    name = UnicodeAttribute()
    url = UnicodeAttribute()
    created_time = UnicodeAttribute()
    is_removed = BooleanAttribute(default=False)

    @staticmethod
    def key(album_id: str, client_id: str) -> tuple[str, str]:
        return f"ALBUM#{album_id}", f"RP#{client_id}"


class ReportProviderClient(_Item):
    """`CLIENT#{client_id}` / `META`: which album a client_id belongs to (one read at launch)."""

    Meta = _meta("albums_table")
    album_id = UnicodeAttribute()

    @staticmethod
    def key(client_id: str) -> tuple[str, str]:
        return f"CLIENT#{client_id}", "META"


class Webhook(_Item):
    """`ALBUM#{id}` / `WEBHOOK#{webhook_id}`: a webhook of the album (docs/kheops-compatibility.md §12)."""

    Meta = _meta("albums_table")
    webhook_id = UnicodeAttribute()
    album_id = UnicodeAttribute()
    name = UnicodeAttribute()
    url = UnicodeAttribute()
    secret = UnicodeAttribute(null=True)
    events = ListAttribute(of=UnicodeAttribute, default=list)
    enabled = BooleanAttribute(default=True)
    created_time = UnicodeAttribute()
    number_of_triggers = NumberAttribute(default=0)

    @staticmethod
    def key(album_id: str, webhook_id: str) -> tuple[str, str]:
        return f"ALBUM#{album_id}", f"WEBHOOK#{webhook_id}"


class DeliveryAttempt(MapAttribute):
    attempt = NumberAttribute()
    status = NumberAttribute()  # HTTP status, or -1 for a transport error or a refused target
    time = UnicodeAttribute()


class WebhookTrigger(_Item):
    """`ALBUM#{id}` / `TRIGGER#{webhook_id}#{time}#{trigger_id}`: one delivery of one event to one
    webhook and every attempt made. `state` is `pending` while attempts remain, then `pass`/`fail`.
    `target_url` and `target_secret` are the webhook's when the trigger was made: every attempt goes
    there, whatever the webhook's URL and secret become (never shown in responses)."""

    Meta = _meta("albums_table")
    trigger_id = UnicodeAttribute()
    webhook_id = UnicodeAttribute()
    album_id = UnicodeAttribute()
    event = UnicodeAttribute()
    is_manual_trigger = BooleanAttribute(default=False)
    created_time = UnicodeAttribute()
    study = JSONAttribute(null=True)  # {"study_uid", "series": [{"series_uid"}], "retrieve_url"}
    user = JSONAttribute(null=True)  # {"email", "name", "sub"}
    report = JSONAttribute(null=True)  # {"report_id", "status", "version"} (report_status)
    attempts = ListAttribute(of=DeliveryAttempt, default=list)
    state = UnicodeAttribute(default="pending")
    target_url = UnicodeAttribute(null=True)  # null only for triggers made before targets were pinned
    target_secret = UnicodeAttribute(null=True)

    @staticmethod
    def key(album_id: str, webhook_id: str, created_time: str, trigger_id: str) -> tuple[str, str]:
        return f"ALBUM#{album_id}", f"TRIGGER#{webhook_id}#{created_time}#{trigger_id}"


class PendingNewSeries(_Item):
    """`ALBUM#{id}` / `NEWSERIES#{study}#{group}`: a `new_series` notification waiting for its
    quiet period. Each change adds `{series} {event_id} {count}` to `contributions` (idempotent)
    and bumps `version`; the delayed check for the newest version sends it."""

    Meta = _meta("albums_table")
    album_id = UnicodeAttribute()
    study_uid = UnicodeAttribute()
    import_source = UnicodeAttribute()
    source = JSONAttribute(null=True)  # {"actor_sub", "capability", "report_provider"}
    contributions = UnicodeSetAttribute(default=set)
    version = NumberAttribute(default=0)
    generation = UnicodeAttribute()
    due = NumberAttribute()  # epoch seconds after which the notification goes out

    @staticmethod
    def key(album_id: str, study_uid: str, group: str) -> tuple[str, str]:
        return f"ALBUM#{album_id}", f"NEWSERIES#{study_uid}#{group}"


class NewSeriesDispatch(_Item):
    """`ALBUM#{id}` / `NEWSERIESSEND#{generation}#{version}`: a claimed `new_series`
    notification being turned into triggers; removed once every trigger is queued."""

    Meta = _meta("albums_table")
    album_id = UnicodeAttribute()
    study_uid = UnicodeAttribute()
    import_source = UnicodeAttribute()
    source = JSONAttribute(null=True)
    contributions = UnicodeSetAttribute(default=set)
    created_time = UnicodeAttribute()

    @staticmethod
    def key(album_id: str, generation: str, version: int) -> tuple[str, str]:
        return f"ALBUM#{album_id}", f"NEWSERIESSEND#{generation}#{version}"


# ---- shares table ------------------------------------------------------------------------


class SharesByStudy(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-study"
        projection = AllProjection()

    study_uid = UnicodeAttribute(hash_key=True)
    series_album = UnicodeAttribute(range_key=True)


class SeriesShare(_Item):
    """`ALBUM#{id}` / `SERIES#{study}#{series}`: a series is in an album (the inbox included).
    The `by-study` index (`study_uid`, `{series}#{album}`) answers which albums hold a series."""

    Meta = _meta("shares_table")
    album_id = UnicodeAttribute()
    study_uid = UnicodeAttribute()
    series_uid = UnicodeAttribute()
    series_album = UnicodeAttribute()
    favorite = BooleanAttribute(default=False)
    added_at = UnicodeAttribute()
    placed_by = UnicodeAttribute(null=True)  # in a research album's intake: the sub that placed it
    by_study = SharesByStudy()

    @staticmethod
    def key(album_id: str, study_uid: str, series_uid: str) -> tuple[str, str]:
        return f"ALBUM#{album_id}", f"SERIES#{study_uid}#{series_uid}"


class StudiesByListing(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-listing"
        projection = AllProjection()

    album_id = UnicodeAttribute(hash_key=True)
    listing = UnicodeAttribute(range_key=True)


class _AlbumStudyKeyIndex(GlobalSecondaryIndex):
    """An album's study rows by one lower-cased study attribute and their order
    (`store.study_index`), keys only: a prefix reads its matches, the whole index ~200 bytes a study."""

    class Meta:
        projection = KeysOnlyProjection()


class StudiesByName(_AlbumStudyKeyIndex):
    class Meta(_AlbumStudyKeyIndex.Meta):
        index_name = "by-patient-name"

    album_id = UnicodeAttribute(hash_key=True)
    name_key = UnicodeAttribute(range_key=True)


class StudiesByPatientId(_AlbumStudyKeyIndex):
    class Meta(_AlbumStudyKeyIndex.Meta):
        index_name = "by-patient-id"

    album_id = UnicodeAttribute(hash_key=True)
    patient_id_key = UnicodeAttribute(range_key=True)


class StudiesByAccession(_AlbumStudyKeyIndex):
    class Meta(_AlbumStudyKeyIndex.Meta):
        index_name = "by-accession"

    album_id = UnicodeAttribute(hash_key=True)
    accession_key = UnicodeAttribute(range_key=True)


class AlbumStudy(_Item):
    """`ALBUM#{id}` / `STUDY#{study}`: a study has at least one series in an album, and which.
    `listing` is `{qido.listing_key}#{study}`: the sparse `by-listing` index (`album_id`,
    `listing`) holds only these rows, so a page of an album's study list, newest first, is one
    Query with a Limit. `study_attributes` copies the study identity of one series it holds,
    `attributes_from` (replaced when that series leaves) and `series_modalities` holds `{series}={Modality}` for each series: the list and its
    searches on study attributes and modalities read no study or series row (None in rows written
    before the copies). `instance_count` is the instances of those series, kept with them by every
    write that adds instances or series or takes a series away (`store.listing`), true when
    `counted` (rows written before it: `migrations.count_study_rows`): a page's answer then reads
    no series row either. Written in the same transaction as the album's `SeriesShare` rows
    (`store.shares`)."""

    Meta = _meta("shares_table")
    album_id = UnicodeAttribute()
    study_uid = UnicodeAttribute()
    listing = UnicodeAttribute()
    series_uids = UnicodeSetAttribute()
    study_attributes = JSONAttribute(null=True)
    attributes_from = UnicodeAttribute(null=True)  # the series whose study identity is copied
    series_modalities = UnicodeSetAttribute(null=True)
    name_key = UnicodeAttribute(null=True)  # `{lower-cased copy}\x1f{order}` (`store.study_index`)
    patient_id_key = UnicodeAttribute(null=True)
    accession_key = UnicodeAttribute(null=True)
    indexed = BooleanAttribute(null=True)  # keys and `AlbumStudyModality` rows written with the row
    termed = BooleanAttribute(null=True)  # its `AlbumStudyTerm` rows are written (`store.study_index`)
    instance_count = NumberAttribute(null=True)  # of `series_uids`, when `counted`
    counted = BooleanAttribute(null=True)
    by_listing = StudiesByListing()
    by_name = StudiesByName()
    by_patient_id = StudiesByPatientId()
    by_accession = StudiesByAccession()

    @staticmethod
    def key(album_id: str, study_uid: str) -> tuple[str, str]:
        return f"ALBUM#{album_id}", f"STUDY#{study_uid}"


class AlbumStudyModality(_Item):
    """`ALBUM#{id}` / `MODALITY#{Modality}#{study}`: a series of the study in the album has this
    modality (upper-cased); `listing` orders them. A ModalitiesInStudy search is one Query."""

    Meta = _meta("shares_table")
    study_uid = UnicodeAttribute()
    listing = UnicodeAttribute()

    @staticmethod
    def key(album_id: str, modality: str, study_uid: str) -> tuple[str, str]:
        return f"ALBUM#{album_id}", f"MODALITY#{modality.upper()}#{study_uid}"


class AlbumStudyTerm(_Item):
    """`ALBUM#{id}` / `TERM#{code}#{suffix}#{study}`: a suffix (its first characters) of the
    lower-cased PatientName, PatientID or AccessionNumber the album's row of the study copies;
    `value` the whole of it, `listing` the study's order. A search for `*ross*` is one Query on
    `TERM#{code}#ross` (`store.study_index`), sent with one on `LONG#{code}#`: `ALBUM#{id}` /
    `LONG#{code}#{study}` holds a value too long for suffix rows (`long_key`)."""

    Meta = _meta("shares_table")
    study_uid = UnicodeAttribute()
    listing = UnicodeAttribute()
    value = UnicodeAttribute()

    @staticmethod
    def key(album_id: str, code: str, suffix: str, study_uid: str) -> tuple[str, str]:
        return f"ALBUM#{album_id}", f"TERM#{code}#{suffix}#{study_uid}"

    @staticmethod
    def long_key(album_id: str, code: str, study_uid: str) -> tuple[str, str]:
        return f"ALBUM#{album_id}", f"LONG#{code}#{study_uid}"


class AlbumStudyCount(_Item):
    """`ALBUM#{id}` / `STUDYCOUNT`: how many studies an album holds (X-Total-Count of its study
    list); `changes` counts every study that came or went; `indexed`, how many of its study rows
    are `AlbumStudy.indexed` (searches use the indexes when all are); `termed`, how many are
    `AlbumStudy.termed` (wildcard and fuzzy searches use the term rows when all are)."""

    Meta = _meta("shares_table")
    studies = NumberAttribute(default=0)
    changes = NumberAttribute(default=0)
    indexed = NumberAttribute(null=True)
    termed = NumberAttribute(null=True)

    @staticmethod
    def key(album_id: str) -> tuple[str, str]:
        return f"ALBUM#{album_id}", "STUDYCOUNT"


class VisibleStudyCount(_Item):
    """`USER#{sub}` / `STUDYCOUNT`: the distinct studies of a user's albums together, remembered
    with the `changes` of each album it was counted from (`signature`)."""

    Meta = _meta("shares_table")
    signature = UnicodeAttribute()
    studies = NumberAttribute()

    @staticmethod
    def key(sub: str) -> tuple[str, str]:
        return f"USER#{sub}", "STUDYCOUNT"


# ---- dicom table -------------------------------------------------------------------------


class StudyRecord(_Item):
    """`STUDY#{uid}` / `META`: when the study UID was first stored, and the study-level attributes
    of its first instance. Never shown as such: each series carries its own identity
    (`SeriesRecord.study_attributes`); these stand in for series rows written before it."""

    Meta = _meta("dicom_table")
    study_uid = UnicodeAttribute()
    attributes = JSONAttribute()
    created_at = UnicodeAttribute()

    @staticmethod
    def key(study_uid: str) -> tuple[str, str]:
        return f"STUDY#{study_uid}", "META"


class SeriesRecord(_Item):
    """`STUDY#{uid}` / `SERIES#{uid}`: series-level attributes, the instance count and
    `study_attributes`, the patient/study identity the series was stored with (study identity is
    per series: docs/data-model.md; None in rows written before it, whose identity is their
    `StudyRecord`'s). `generation` names the series' S3 objects (`dicom_store`): random, set when
    the row is created (or at the first STOW into a row written before it), so a series purged
    and stored again never reuses a name a presigned URL was issued for. `shares_added` counts the
    shares put on the series (`shares.add_series`): with `instance_count`, what a purge checks is
    unchanged (`orphans.purge`)."""

    Meta = _meta("dicom_table")
    study_uid = UnicodeAttribute()
    series_uid = UnicodeAttribute()
    attributes = JSONAttribute()
    study_attributes = JSONAttribute(null=True)
    instance_count = NumberAttribute(default=0)
    generation = UnicodeAttribute(null=True)
    shares_added = NumberAttribute(null=True)

    @staticmethod
    def key(study_uid: str, series_uid: str) -> tuple[str, str]:
        return f"STUDY#{study_uid}", f"SERIES#{series_uid}"


class InstanceRecord(_Item):
    """`STUDY#{uid}` / `INSTANCE#{series}#{sop}`: one stored instance and where its bytes are:
    `generation`, random per stored instance, names its S3 objects (`dicom_store`; None in rows
    written before it, whose objects have names without it)."""

    Meta = _meta("dicom_table")
    study_uid = UnicodeAttribute()
    series_uid = UnicodeAttribute()
    sop_uid = UnicodeAttribute()
    sop_class_uid = UnicodeAttribute()
    transfer_syntax_uid = UnicodeAttribute()
    attributes = JSONAttribute()
    size = NumberAttribute()
    number_of_frames = NumberAttribute(default=1)
    stored_at = UnicodeAttribute()
    generation = UnicodeAttribute(null=True)

    @staticmethod
    def key(study_uid: str, series_uid: str, sop_uid: str) -> tuple[str, str]:
        return f"STUDY#{study_uid}", f"INSTANCE#{series_uid}#{sop_uid}"


# ---- tokens table ------------------------------------------------------------------------


class CapabilityByOwner(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-owner"
        projection = AllProjection()

    owner_sub = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class Capability(_Item):
    """`CAP#{sha256(secret)}` / `CAP`: a capability token, found from the presented secret in one
    read. It carries its creator's profile so that verifying it needs no second read."""

    Meta = _meta("tokens_table")
    capability_id = UnicodeAttribute()
    title = UnicodeAttribute()
    scope_type = UnicodeAttribute()  # "user" | "album"
    album_id = UnicodeAttribute(null=True)
    read_permission = BooleanAttribute(default=False)
    write_permission = BooleanAttribute(default=False)
    appropriate_permission = BooleanAttribute(default=False)
    download_permission = BooleanAttribute(default=False)
    owner_sub = UnicodeAttribute()
    owner = JSONAttribute()  # {"sub", "email", "name", "inbox_id"}
    issued_at_time = UnicodeAttribute()
    not_before_time = UnicodeAttribute()
    expiration_time = UnicodeAttribute()
    last_used = UnicodeAttribute(null=True)
    revoked = BooleanAttribute(default=False)
    revoke_time = UnicodeAttribute(null=True)
    revoked_by = JSONAttribute(null=True)
    by_owner = CapabilityByOwner()

    @staticmethod
    def key(secret_hash: str) -> tuple[str, str]:
        return f"CAP#{secret_hash}", "CAP"


class CapabilityPointer(_Item):
    """`CAPID#{id}` / `CAP` in the tokens table, and `ALBUM#{album}` / `CAP#{id}` in the albums
    table: a capability found by its public id, or listed by album."""

    Meta = _meta("tokens_table")
    secret_hash = UnicodeAttribute()

    @staticmethod
    def key(capability_id: str) -> tuple[str, str]:
        return f"CAPID#{capability_id}", "CAP"


class AlbumCapability(_Item):
    Meta = _meta("albums_table")
    secret_hash = UnicodeAttribute()
    creator_sub = UnicodeAttribute()

    @staticmethod
    def key(album_id: str, capability_id: str) -> tuple[str, str]:
        return f"ALBUM#{album_id}", f"CAP#{capability_id}"


# ---- reports table (embeddable reporting, docs/reporting.md) ---------------------------------


class ReportSite(_Item):
    """`SITE#{id}` / `META`: a reporting site, its admins (subs or e-mails), origins and return path."""

    Meta = _meta("reports_table")
    site_id = UnicodeAttribute()
    admins = JSONAttribute(default=list)
    origins = JSONAttribute(default=list)
    return_format = UnicodeAttribute(default="HL7")
    return_endpoint = UnicodeAttribute(default="")
    link_seconds = NumberAttribute(null=True)

    @staticmethod
    def key(site_id: str) -> tuple[str, str]:
        return f"SITE#{site_id}", "META"


class AccessionClaim(_Item):
    """`SITE#{id}` / `ACCESSION#{accession}`: the one report of an accession at a site."""

    Meta = _meta("reports_table")
    report_id = UnicodeAttribute()

    @staticmethod
    def key(site_id: str, accession: str) -> tuple[str, str]:
        return f"SITE#{site_id}", f"ACCESSION#{accession}"


class Report(_Item):
    """`REPORT#{id}` / `META`: the current state of one report."""

    Meta = _meta("reports_table")
    report_id = UnicodeAttribute()
    site_id = UnicodeAttribute()
    accession = UnicodeAttribute()
    status = UnicodeAttribute(default="Draft")
    owner_name = UnicodeAttribute()
    owner_email = UnicodeAttribute()
    launcher_sub = UnicodeAttribute()
    tags = JSONAttribute(default=dict)
    findings = UnicodeAttribute(default="")
    impression = UnicodeAttribute(default="")
    version = NumberAttribute(default=0)
    outputs = JSONAttribute(default=dict)
    updated_at = UnicodeAttribute()

    @staticmethod
    def key(report_id: str) -> tuple[str, str]:
        return f"REPORT#{report_id}", "META"


class ReportVersion(_Item):
    """`REPORT#{id}` / `VERSION#{n:04}`: a signed version, kept when the report is amended."""

    Meta = _meta("reports_table")
    report_id = UnicodeAttribute()
    status = UnicodeAttribute()
    findings = UnicodeAttribute(default="")
    impression = UnicodeAttribute(default="")
    signed_at = UnicodeAttribute()
    outputs = JSONAttribute(default=dict)

    @staticmethod
    def key(report_id: str, version: int) -> tuple[str, str]:
        return f"REPORT#{report_id}", f"VERSION#{version:04d}"


class ReportDelivery(_Item):
    """`REPORT#{id}` / `DELIVERY#{n:04}`: the return of signed version n to its site's endpoint and
    every attempt made (the attempt log of `chalicelib.events.deliveries`)."""

    Meta = _meta("reports_table")
    report_id = UnicodeAttribute()
    version = NumberAttribute()
    return_format = UnicodeAttribute()  # HL7 | FHIR
    endpoint = UnicodeAttribute()
    created_time = UnicodeAttribute()
    attempts = ListAttribute(of=DeliveryAttempt, default=list)
    state = UnicodeAttribute(default="pending")

    @staticmethod
    def key(report_id: str, version: int) -> tuple[str, str]:
        return f"REPORT#{report_id}", f"DELIVERY#{version:04d}"


class ReportSecret(_Item):
    """`CODE#{sha256}` or `SESSION#{sha256}` / `SECRET`: a launch code or report session, stored
    only as a hash; `expires_at` is the TTL attribute and is also checked on read."""

    Meta = _meta("reports_table")
    report_id = UnicodeAttribute()
    expires_at = NumberAttribute()

    @staticmethod
    def key(kind: str, digest: str) -> tuple[str, str]:
        return f"{kind}#{digest}", "SECRET"

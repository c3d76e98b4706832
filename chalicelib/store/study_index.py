"""Searches of an album's study list that read their matches, not the album (docs/data-model.md,
"Searching the study list"). Each `AlbumStudy` row carries lower-cased copies of its PatientName,
PatientID and AccessionNumber (`keys_of`), each the sort key of a global secondary index on the
album (keys only; the value is followed by the study's order, `SEPARATOR` between); StudyDate ranges are ranges of the `by-listing` index (its
sort key starts with the date); each modality of the album's series of a study is an
`AlbumStudyModality` row. A criterion with a literal start (`Rossi*`, `PAT123`, a date range,
`CT`) is one Query per album and alternative reading its matches. One starting with a wildcard
(`*ross*`), or a fuzzy name, reads per album and alternative, in one round trip, the album's
`AlbumStudyTerm` rows (`term_rows`: one per distinct suffix of each value) for the longest literal
run of the pattern (`term_run`) and the album's long-value rows of the attribute (one per value
longer than `TERM_POSITIONS`, which gets no suffix rows): only the studies whose value holds that
run, and the rare long values. An album holding a study row whose term rows are not written
(`AlbumStudy.termed`: a row written before them) reads its whole name (or ID) index instead,
about 200 bytes a study. Every candidate is checked with `matching`, so the answers are exactly
those of matching the rows."""
from __future__ import annotations

import functools
import re

from chalicelib.dicom import json_model, matching, qido
from chalicelib.dicom.json_model import element
from chalicelib.store import aws, rows
from chalicelib.store.models import AlbumStudy, AlbumStudyModality, AlbumStudyTerm

PATIENT_NAME, PATIENT_ID, ACCESSION = "00100010", "00100020", "00080050"
STUDY_DATE, MODALITIES_IN_STUDY = "00080020", "00080061"
_KEYS = {PATIENT_NAME: ("PatientName", "name_key", "by_name", "PN"),
         PATIENT_ID: ("PatientID", "patient_id_key", "by_patient_id", "LO"),
         ACCESSION: ("AccessionNumber", "accession_key", "by_accession", "SH")}
INDEXED_TAGS = frozenset({*_KEYS, STUDY_DATE, MODALITIES_IN_STUDY})
SEPARATOR = "\x1f"
TERM_CODES = {PATIENT_NAME: "n", PATIENT_ID: "p", ACCESSION: "a"}  # in `AlbumStudyTerm` keys
TERM_CHARS = 12  # of a suffix in its row's key: a longer run is looked up by its first 12
# The longest value whose suffixes get rows: a study has at most 32 + 20 + 16 = 68 term rows, so
# that STOW's transaction (25 instances and 6 other rows: `services.ingest_rows`) stays within 100.
# A longer value gets one long-value row instead (`AlbumStudyTerm.long_key`).
TERM_POSITIONS = {PATIENT_NAME: 32, PATIENT_ID: 20, ACCESSION: 16}

Hits = dict[str, str]  # study uid -> its `listing` (the study list's order)


def keys_of(study_attributes: dict) -> dict[str, str]:
    """The searched copies of a study row's attributes (`AlbumStudy` attribute -> value): the
    value (VM 1), lower-cased as `matching` compares, then the study list's order
    (`qido.listing_key`); absent when the study has none."""
    keys = {}
    order = qido.listing_key(study_attributes)
    for keyword, attribute, _, _ in _KEYS.values():
        value = json_model.text_value(study_attributes, keyword).lower()
        if value:
            keys[attribute] = f"{value}{SEPARATOR}{order}"
    return keys


def key_actions(study_attributes: dict, only_if_absent: bool = False) -> list:
    """Update actions setting (or, when absent from the attributes, removing) the row's keys."""
    keys = keys_of(study_attributes)
    actions = []
    for _, attribute, _, _ in _KEYS.values():
        column = getattr(AlbumStudy, attribute)
        if attribute in keys:
            actions.append(column.set(column | keys[attribute] if only_if_absent else keys[attribute]))
        elif not only_if_absent:
            actions.append(column.remove())
    return actions


def literal_start(pattern: str) -> str:
    """What every value a wildcard pattern matches starts with."""
    return re.split(r"[*?]", pattern, maxsplit=1)[0]


def is_no_criterion(criterion: matching.Criterion) -> bool:
    return matching.is_universal(criterion.value)


def term_rows(album_id: str, study_uid: str, order: str, study_attributes: dict) -> list[AlbumStudyTerm]:
    """The `AlbumStudyTerm` rows of a study's copy in an album: one per distinct suffix (its first
    `TERM_CHARS`) of each lower-cased value; a value longer than `TERM_POSITIONS` gets one
    long-value row (`LONG#{code}#{study}`) instead, read by every search of its attribute that
    reads term rows. At most 68 rows (three values at their caps); 3 when all are too long."""
    terms: dict[tuple[str, str], str] = {}
    longs: dict[str, str] = {}
    for tag, (keyword, _, _, _) in _KEYS.items():
        value = json_model.text_value(study_attributes, keyword).lower()
        if len(value) > TERM_POSITIONS[tag]:
            longs[TERM_CODES[tag]] = value
            continue
        for start in range(len(value)):
            terms[(TERM_CODES[tag], value[start:start + TERM_CHARS])] = value
    return [AlbumStudyTerm(*AlbumStudyTerm.key(album_id, code, suffix, study_uid), study_uid=study_uid,
                           listing=order, value=value) for (code, suffix), value in sorted(terms.items())] \
        + [AlbumStudyTerm(*AlbumStudyTerm.long_key(album_id, code, study_uid), study_uid=study_uid,
                          listing=order, value=value) for code, value in sorted(longs.items())]


def term_run(alternative: str, fuzzy: bool) -> str:
    """What every value an alternative matches holds (lower-cased): its longest literal run
    between wildcards; of a fuzzy name (a word of the query starts a word of the name, or the
    pattern matches as a wildcard: `matching`), its longest run between separators and wildcards.
    Cut to `TERM_CHARS`."""
    separators = r"[\s^,*?]+" if fuzzy else r"[*?]+"
    return max(re.split(separators, alternative.lower()), key=len)[:TERM_CHARS]


def hits(album_ids: list[str], criterion: matching.Criterion, fuzzy: bool, termed: bool = False,
         rows_read: dict[tuple[str, str], AlbumStudy] | None = None) -> Hits | None:
    """The studies of the albums whose rows match the criterion, read from an index; None when no
    index holds the attribute (the caller matches the rows themselves). `termed`: every study row
    of the albums has its term rows (`listing.all_termed`). A StudyDate range reads whole rows:
    those are kept in `rows_read` ((album, study) -> row), when given."""
    if criterion.tag in _KEYS:
        return _key_hits(album_ids, criterion, fuzzy, termed)
    if criterion.tag == STUDY_DATE:
        return _date_hits(album_ids, criterion, rows_read)
    if criterion.tag == MODALITIES_IN_STUDY:
        return _modality_hits(album_ids, criterion)
    return None


def reads_terms(criterion: matching.Criterion, fuzzy: bool) -> bool:
    """Whether the criterion's hits come from term rows when the albums have them (`_key_hits`)."""
    if criterion.tag not in _KEYS:
        return False
    fuzzy = fuzzy and _KEYS[criterion.tag][3] == "PN"
    return any(fuzzy or not literal_start(a) for a in criterion.value.split("\\"))


def _key_hits(album_ids: list[str], criterion: matching.Criterion, fuzzy: bool, termed: bool) -> Hits:
    """Each alternative with a literal start reads the index from it; another, the term rows of
    its run (`term_run`) and the album's long values of the attribute when the albums have them;
    the whole index otherwise. Every Query of every album is sent at once."""
    vr = _KEYS[criterion.tag][3]
    fuzzy = fuzzy and vr == "PN"  # a fuzzy name matches any word of it: no literal start
    starts, runs = set(), set()
    for alternative in criterion.value.split("\\"):
        start = "" if fuzzy else literal_start(alternative).lower()
        run = term_run(alternative, fuzzy) if termed and not start else ""
        if start:
            starts.add(start)
        elif run:
            runs.add(run)
        else:
            starts, runs = {""}, set()
            break
    reads = []
    for album_id in album_ids:
        reads += [functools.partial(_index_candidates, album_id, criterion.tag, start) for start in sorted(starts)]
        reads += [functools.partial(_term_candidates, album_id, f"TERM#{TERM_CODES[criterion.tag]}#{run}")
                  for run in sorted(runs)]
        if runs:  # the album's values too long for term rows (rare): one Query beside those of the runs
            reads.append(functools.partial(_term_candidates, album_id, f"LONG#{TERM_CODES[criterion.tag]}#"))
    found: Hits = {}
    for candidates in aws.together(*reads):
        for study_uid, order, text in candidates:
            if study_uid not in found and _matches(criterion, text, fuzzy):
                found[study_uid] = order
    return found


def _matches(criterion: matching.Criterion, text: str, fuzzy: bool) -> bool:
    vr = _KEYS[criterion.tag][3]
    return matching.matches({criterion.tag: element(vr, {"Alphabetic": text} if vr == "PN" else text)}, criterion, fuzzy)


Candidates = list[tuple[str, str, str]]  # (study uid, its listing, its lower-cased value)


def _index_candidates(album_id: str, tag: str, start: str) -> Candidates:
    """The album's studies whose value starts with `start` (all with ""): one Query of its keys index."""
    _, attribute, index_name, _ = _KEYS[tag]
    candidates = []
    for row in rows.query(AlbumStudy, getattr(AlbumStudy, index_name), album_id, ["sk", attribute],
                          starting=start):  # half the entry to parse, without models
        text, _, order = row[attribute].rpartition(SEPARATOR)
        study_uid = row["sk"].removeprefix("STUDY#")
        candidates.append((study_uid, f"{order}#{study_uid}", text))
    return candidates


def _term_candidates(album_id: str, prefix: str) -> Candidates:
    """The album's `AlbumStudyTerm` rows whose key starts with `prefix`: those of a run
    (`TERM#{code}#{run}`) or its long values of an attribute (`LONG#{code}#`). One Query."""
    names = ["study_uid", "listing", "value"]
    return [(row["study_uid"], row["listing"], row["value"])
            for row in rows.query(AlbumStudyTerm, None, f"ALBUM#{album_id}", names, starting=prefix)]


def _date_hits(album_ids: list[str], criterion: matching.Criterion,
               rows_read: dict[tuple[str, str], AlbumStudy] | None = None) -> Hits:
    """`by-listing` rows whose listing starts with a date in the range (or the date), checked on
    their copy of the study's attributes; a pattern of another form reads the album's list."""
    conditions = []
    for alternative in criterion.value.split("\\"):
        if (found := matching.DATE_RANGE.match(alternative)) is not None and (found.group(1) or found.group(2)):
            low, high = found.group(1), found.group(2)
            if low and high:
                conditions.append(AlbumStudy.listing.between(low, high + "~"))
            else:
                conditions.append(AlbumStudy.listing >= low if low else AlbumStudy.listing <= high + "~")
        elif re.fullmatch(r"[0-9]{8}", alternative):
            conditions.append(AlbumStudy.listing.startswith(alternative))
        else:
            conditions = [None]
            break
    found_hits: Hits = {}
    for album_id in album_ids:
        for condition in conditions:
            for row in AlbumStudy.by_listing.query(album_id, condition):
                if rows_read is not None:  # every album's row of a study in range: its listing is the same
                    rows_read[(album_id, row.study_uid)] = row
                if matching.matches(row.study_attributes or {}, criterion):
                    found_hits[row.study_uid] = row.listing
    return found_hits


def _modality_hits(album_ids: list[str], criterion: matching.Criterion) -> Hits:
    starts = {literal_start(a).upper() + ("" if re.search(r"[*?]", a) else "#") for a in criterion.value.split("\\")}
    if any(s in ("", "#") for s in starts):
        starts = {""}
    found: Hits = {}
    for album_id in album_ids:
        for start in sorted(starts):
            for row in rows.query(AlbumStudyModality, None, f"ALBUM#{album_id}", ["sk", "study_uid", "listing"],
                                  starting=f"MODALITY#{start}"):
                modality = row["sk"].split("#")[1]
                if matching.matches({criterion.tag: element("CS", modality)}, criterion):
                    found[row["study_uid"]] = row["listing"]
    return found


def modality_row(album_id: str, modality: str, study_uid: str) -> AlbumStudyModality:
    return AlbumStudyModality(*AlbumStudyModality.key(album_id, modality, study_uid))


def holds_modality(album_id: str, modality: str) -> bool:
    """Whether a series of the album has this modality: one Query of at most one row (the
    album's rows must be indexed: `listing.all_indexed`)."""
    rows = AlbumStudyModality.query(f"ALBUM#{album_id}", AlbumStudyModality.sk.startswith(f"MODALITY#{modality.upper()}#"),
                                    limit=1)
    return next(iter(rows), None) is not None

"""QIDO-RS: studies, series and instances the principal may see, built from the index tables.
Counts and custom fields cover only what the caller may see in the chosen source."""
from __future__ import annotations

import functools

from chalicelib.auth import policy
from chalicelib.auth.principals import Principal
from chalicelib.dicom import json_model, matching, qido
from chalicelib.dicom.json_model import element
from chalicelib.dicom.qido import Page, SearchResult  # noqa: F401 - the routes' vocabulary
from chalicelib.errors import BadQueryParameter
from chalicelib.events import audit
from chalicelib.store import aws, identity, listing, rows, shares, study_index
from chalicelib.store import studies as study_partition
from chalicelib.store.items import batch_get as _batch_get  # one BatchGetItem per 100 keys, sent at once
from chalicelib.store.models import SeriesRecord, SeriesShare, StudyRecord

Visible = dict[str, dict[str, list[SeriesShare]]]  # study -> series -> shares granting it
MODALITIES_IN_STUDY = "00080061"


@functools.cache
def _study_row_tags() -> frozenset[str]:
    """What the album study rows hold (`AlbumStudy.study_attributes`, `series_modalities`):
    criteria on these alone are matched on the albums' study lists. (pydicom's dictionary: not
    at import, see tests/unit/test_cold_start.py.)"""
    return frozenset(json_model.tag_hex(k) for k in json_model.PATIENT_STUDY_KEYWORDS) | {MODALITIES_IN_STUDY}


def visible_series(principal: Principal, source: policy.Source) -> Visible:
    visible: Visible = {}
    for album_id in policy.readable_albums(principal, source):
        for share in shares.shares_in_album(album_id):
            visible.setdefault(share.study_uid, {}).setdefault(share.series_uid, []).append(share)
    if principal.study_uids is not None:
        visible = {s: v for s, v in visible.items() if s in principal.study_uids}
    return visible


def readable_identity(principal: Principal, study_uid: str) -> dict | None:
    """The study's patient/study attributes as the principal reads them (from the series it can
    read: `identity.of_study`); None when it reads none of the study."""
    readable = policy.readable_series(principal, study_uid)
    return identity.of_study(identity.read(study_uid, readable), study_uid) if readable else None


# What a study answer reads of its series' records when the study lists' copies give the study's
# attributes and the series' modalities: their instance counts.
SERIES_COUNTED = ["study_uid", "series_uid", "instance_count"]


def _series_items(records: list[SeriesRecord], base_url: str) -> dict[tuple[str, str], dict]:
    return {(r.study_uid, r.series_uid): qido.series_item(r.attributes, r.study_uid, int(r.instance_count), base_url)
            for r in records}


def _needs_source(source: policy.Source, what: str) -> None:
    if source.album_id is None and not source.inbox:
        raise BadQueryParameter(f"{what} needs album or inbox")


def search_studies(principal: Principal, source: policy.Source, params: dict[str, list[str]],
                   page: Page, base_url: str) -> SearchResult:
    """Newest first with no criteria, or criteria on study attributes and ModalitiesInStudy only,
    comes from the albums' study lists (`_from_study_lists`). Criteria on counts, another order
    or the favorite filter read every visible study and its series."""
    fields = qido.parse_includefields(params)
    favorite = qido.flag(params, "favorite")
    if favorite is not None or fields.custom:
        _needs_source(source, "favorite and comments")
    criteria = matching.study_criteria(params)
    sort = (params.get("sort") or [qido.DEFAULT_STUDY_SORT])[0]
    fuzzy = bool(qido.flag(params, "fuzzymatching"))
    if (sort == qido.DEFAULT_STUDY_SORT and not favorite and principal.study_uids is None
            and all(c.tag in _study_row_tags() for c in criteria)):
        return _from_study_lists(principal, source, fields, criteria, fuzzy, page, base_url)
    visible = visible_series(principal, source)
    if favorite is not None:
        visible = {st: se for st, se in visible.items() if _favorites(se) > 0} if favorite else visible
    items = [a for a in _study_items(principal, visible, fields, base_url) if matching.matches_all(a, criteria, fuzzy)]
    return qido.page_of(qido.sort_studies(items, sort), page)


def _from_study_lists(principal: Principal, source: policy.Source, fields: qido.IncludeFields,
                      criteria: list[matching.Criterion], fuzzy: bool, page: Page, base_url: str) -> SearchResult:
    """Without criteria, the lists are read down to the page's end only (one album: at the same
    time as its count; several: after their counts, which say which hold studies) and the total
    is the albums' count. With criteria on indexed attributes, their indexes give the matches
    (`_from_indexes`). Otherwise every row of the lists is matched on its copies of the study's
    attributes and series' modalities: no study or series row is read but the page's (and those
    rows written before the copies lack)."""
    readable = sorted(policy.readable_albums(principal, source))
    criteria = [c for c in criteria if not study_index.is_no_criterion(c)]
    if not criteria and len(readable) == 1:  # its count and its page's rows at once: one round trip, not two
        holding, newest = aws.together(functools.partial(listing.counts, readable),
                                       functools.partial(listing.newest_first, readable, page.offset + page.limit))
        chosen, total = list(newest.items())[page.offset:], listing.count_visible(principal.sub, holding)
        return _page_of_list(principal, fields, holding, chosen, total, page, base_url)
    rows_read: dict = {}  # a StudyDate range's rows: not read again for the page
    if criteria and len(readable) == 1:  # its count beside its indexes' Queries: one round trip, not two
        *hits, holding = aws.together(*(functools.partial(study_index.hits, readable, c, fuzzy, True, rows_read)
                                        for c in criteria), functools.partial(listing.counts, readable))
        # (the first criterion's reads in this thread: its term and long-value Queries are sent at once)
    else:
        holding = listing.counts(readable)  # several albums: only those holding studies are read
        hits = None
    if not criteria:
        chosen = list(listing.newest_first(sorted(holding), page.offset + page.limit).items())[page.offset:]
        return _page_of_list(principal, fields, holding, chosen, listing.count_visible(principal.sub, holding),
                             page, base_url)
    found = _from_indexes(sorted(holding), holding, criteria, fuzzy, page, hits, rows_read)
    if found is not None:
        total, chosen = found
    else:
        listed = listing.newest_first(sorted(holding))
        _read_what_rows_lack(listed, modalities=any(c.tag == MODALITIES_IN_STUDY for c in criteria))
        matched = [(uid, study) for uid, study in listed.items()
                   if matching.matches_all(_matchable(study), criteria, fuzzy)]
        total, chosen = len(matched), matched[page.offset:page.offset + page.limit]
    return _page_of_list(principal, fields, holding, chosen, total, page, base_url)


def _page_of_list(principal: Principal, fields: qido.IncludeFields, holding: dict,
                  chosen: list[tuple[str, listing.Listed]], total: int, page: Page, base_url: str) -> SearchResult:
    """The study items of a page of the albums' lists."""
    if qido.FAVORITE_TAG in fields.custom:  # one album at most here (`_needs_source`)
        visible: Visible = {study: _shares_by_series(shares.shares_in_album(album_id, study))
                            for study, _ in chosen for album_id in holding}
    else:
        visible = {study: {series: [] for series in listed_study.series_uids} for study, listed_study in chosen}
    known = {study: listed_study.attributes for study, listed_study in chosen if listed_study.attributes}
    modalities = {series: modality for _, listed_study in chosen for series, modality in listed_study.modalities.items()}
    instances = {study: listed_study.instances for study, listed_study in chosen
                 if listed_study.instances is not None and visible[study].keys() == listed_study.series_uids}
    return SearchResult(_study_items(principal, visible, fields, base_url, known, modalities, instances), total,
                        page.offset)


def _from_indexes(album_ids: list[str], holding: dict, criteria: list[matching.Criterion], fuzzy: bool,
                  page: Page, read: list[study_index.Hits | None] | None = None,
                  rows_read: dict | None = None) -> tuple[int, list[tuple[str, listing.Listed]]] | None:
    """The total and the page's studies, newest first, from the indexes of the criteria that have
    one (`study_index`): each reads its matches (all at once; `read` when the caller has, beside
    the albums' counts); criteria without an index are then matched on the rows of those studies,
    which are read unless a StudyDate range read them (`rows_read`). None when no criterion has an
    index, or some album holds rows written before the indexes (until
    `migrations.index_study_rows` has run)."""
    if not listing.all_indexed(holding):
        return None
    termed = listing.all_termed(holding)
    if read is None or (not termed and any(study_index.reads_terms(c, fuzzy) for c in criteria)):
        rows_read = {}  # (read beside the counts as if every row had its term rows: read again without)
        read = aws.together(*(functools.partial(study_index.hits, album_ids, c, fuzzy, termed, rows_read)
                              for c in criteria))
    rows_read = {key: row for key, row in (rows_read or {}).items() if key[0] in holding}
    read_studies = {study for _, study in rows_read}

    def rows_of(study_uids: list[str]) -> dict[str, listing.Listed]:
        if len(album_ids) == 1 and all(uid in read_studies for uid in study_uids):  # several: each album's row
            return listing.of_models(rows_read, study_uids)
        return listing.rows_of(album_ids, study_uids, functools.partial(_shows_match, criteria, fuzzy))

    found: study_index.Hits | None = None
    unindexed = []
    for criterion, hits in zip(criteria, read, strict=True):
        if hits is None:
            unindexed.append(criterion)
        else:
            found = hits if found is None else {uid: order for uid, order in found.items() if uid in hits}
    if found is None:
        return None
    ordered = sorted(found, key=found.__getitem__, reverse=True)
    if unindexed:
        rows = rows_of(ordered)
        _read_what_rows_lack(rows, modalities=False)
        matched = [(uid, study) for uid, study in rows.items() if matching.matches_all(_matchable(study), unindexed, fuzzy)]
        return len(matched), matched[page.offset:page.offset + page.limit]
    chosen = ordered[page.offset:page.offset + page.limit]
    rows = rows_of(chosen)
    return len(ordered), [(uid, rows[uid]) for uid in chosen if uid in rows]


def _shows_match(criteria: list[matching.Criterion], fuzzy: bool, study_attributes: dict) -> bool:
    """Whether an album's copy of a study's identity satisfies the criteria on study attributes: a
    study several albums hold with different identities (identity is per series) is shown with
    one its match came from, so what a search answers satisfies it."""
    return matching.matches_all(study_attributes, [c for c in criteria if c.tag != MODALITIES_IN_STUDY], fuzzy)


def _read_what_rows_lack(listed: dict[str, listing.Listed], modalities: bool) -> None:
    """The attributes (and, when asked, the series' modalities) that rows written before the
    copies lack, from the study (and series) records."""
    missing = [uid for uid, study in listed.items() if study.attributes is None]
    for record in _batch_get(StudyRecord, [StudyRecord.key(uid) for uid in missing]):
        listed[record.study_uid].attributes = record.attributes
    if modalities:
        keys = [SeriesRecord.key(uid, series) for uid, study in listed.items() if not study.modalities_known
                for series in study.series_uids - study.modalities.keys()]
        for record in _batch_get(SeriesRecord, keys):
            listed[record.study_uid].modalities[record.series_uid] = json_model.text_value(record.attributes, "Modality")


def _matchable(study: listing.Listed) -> dict:
    """What a study's criteria are matched on: its attributes and the modalities of its series in
    the albums, as `qido.study_item` answers them."""
    modalities = sorted({m for series, m in study.modalities.items() if series in study.series_uids} - {""})
    return {**(study.attributes or {}), MODALITIES_IN_STUDY: element("CS", *modalities)}


def _shares_by_series(rows: list[SeriesShare]) -> dict[str, list[SeriesShare]]:
    out: dict[str, list[SeriesShare]] = {}
    for share in rows:
        out.setdefault(share.series_uid, []).append(share)
    return out


def _study_items(principal: Principal, visible: Visible, fields: qido.IncludeFields, base_url: str,
                 known: dict[str, dict] | None = None, modalities: dict[str, str] | None = None,
                 instances: dict[str, int] | None = None) -> list[dict]:
    """QIDO study items of `visible`, in its order, with counts over the visible series only;
    `known` study attributes and series `modalities` (copies from the study lists) spare reading
    those study rows and, when both cover every study and series, all of the series records
    but their instance counts, and those too of the studies whose visible series' `instances`
    the lists count (`listing.Listed.instances`)."""
    known, modalities = known or {}, modalities or {}
    keys = [SeriesRecord.key(st, se) for st, ses in visible.items() for se in ses]
    if all(uid in known for uid in visible) and all(se in modalities for ses in visible.values() for se in ses):
        studies = {uid: known[uid] for uid in visible}
        counts: dict[str, tuple[set[str], int, int]] = {
            uid: ({modalities[se] for se in visible[uid]}, len(visible[uid]), n)
            for uid, n in (instances or {}).items() if uid in visible}
        uncounted = [SeriesRecord.key(st, se) for st, ses in visible.items() if st not in counts for se in ses]
        for r in rows.batch_get(SeriesRecord, uncounted, SERIES_COUNTED):
            seen, series_count, instances = counts.get(r["study_uid"], (set(), 0, 0))
            counts[r["study_uid"]] = (seen | {modalities[r["series_uid"]]}, series_count + 1,
                                      instances + int(r["instance_count"]))
    else:
        records = _batch_get(SeriesRecord, keys)
        studies = {uid: attributes for uid, attributes in known.items() if uid in visible}
        identities = identity.of_series([r for r in records if r.study_uid not in studies])
        studies.update((uid, found) for uid in visible if uid not in studies
                       and (found := identity.of_study(identities, uid)) is not None)
        children: dict[str, list[dict]] = {}
        for (study_uid, _), item in _series_items(records, base_url).items():
            children.setdefault(study_uid, []).append(item)
        counts = {uid: qido.counted_series(children[uid]) for uid in children}
    items = []
    for study_uid in (s for s in visible if s in studies):
        item = qido.counted_study_item(studies[study_uid], *counts.get(study_uid, (set(), 0, 0)), base_url)
        if qido.FAVORITE_TAG in fields.custom:
            item[qido.FAVORITE_TAG] = element("IS", _favorites(visible[study_uid]))
        if qido.COMMENTS_TAG in fields.custom:
            item[qido.COMMENTS_TAG] = element("IS", _comment_count(principal, study_uid))
        items.append(item)
    return items


def _favorites(series: dict[str, list[SeriesShare]]) -> int:
    return sum(1 for shares_of in series.values() if any(s.favorite for s in shares_of))


def _comment_count(principal: Principal, study_uid: str) -> int:
    """Comments on the study the caller may read (`policy.comment_reader`): none for tokens that
    read no comments (viewers, album capabilities, report providers)."""
    comments = study_partition.comments_newest_first(study_uid)
    readable = policy.comment_reader(principal, study_uid)
    return sum(1 for c in comments if readable(c))


def search_series(principal: Principal, study_uid: str, source: policy.Source,
                  params: dict[str, list[str]], page: Page, base_url: str) -> SearchResult:
    visible = policy.authorize_study_read(principal, study_uid, source)
    fields = qido.parse_includefields(params)
    favorite = qido.flag(params, "favorite")
    if favorite is not None or qido.FAVORITE_TAG in fields.custom:
        _needs_source(source, "favorite")
    records = _batch_get(SeriesRecord, [SeriesRecord.key(study_uid, s) for s in visible])
    criteria = matching.parse_criteria(params)
    identities = identity.of_series(records) if criteria else {}  # study-level keys match each series' study
    items = []
    for key, item in _series_items(records, base_url).items():
        is_favorite = any(s.favorite for s in visible[key[1]])
        if favorite is not None and is_favorite != favorite:
            continue
        if not matching.matches_all(qido.with_parents(item, identities.get(key, {})), criteria):
            continue
        if qido.FAVORITE_TAG in fields.custom:
            item[qido.FAVORITE_TAG] = element("SH", "true" if is_favorite else "false")
        items.append(item)
    return qido.page_of(qido.sort_series(items, (params.get("sort") or [None])[0]), page)


def search_all_series(principal: Principal, source: policy.Source, params: dict[str, list[str]],
                      page: Page, base_url: str) -> SearchResult:
    """`GET /series`: every visible series, with its study's attributes."""
    criteria = matching.parse_criteria(params)  # a bad key is a 400 whatever the caller reads
    visible = visible_series(principal, source)
    records = _batch_get(SeriesRecord, [SeriesRecord.key(st, se) for st, ses in visible.items() for se in ses])
    identities = identity.of_series(records)
    items = [qido.with_parents(item, identities.get(key, {})) for key, item in _series_items(records, base_url).items()]
    items = [a for a in items if matching.matches_all(a, criteria)]
    return qido.page_of(qido.sort_series(items, (params.get("sort") or [None])[0]), page)


def _albums_of(visible: dict[str, list[SeriesShare]]) -> dict[str, list[str]]:
    """series -> the albums granting its read."""
    return {series: sorted({s.album_id for s in held}) for series, held in visible.items()}


def search_instances(principal: Principal, study_uid: str | None, series_uid: str | None,
                     source: policy.Source, params: dict[str, list[str]], page: Page,
                     base_url: str) -> SearchResult:
    """`/instances`, `/studies/{s}/instances`, `/studies/{s}/series/{se}/instances`."""
    if series_uid is not None:
        granting = {series_uid: policy.authorize_series_read(principal, study_uid, series_uid, source)}
        targets = {study_uid: granting}
    elif study_uid is not None:
        targets = {study_uid: _albums_of(policy.authorize_study_read(principal, study_uid, source))}
    else:
        targets = {st: _albums_of(ses) for st, ses in visible_series(principal, source).items()}
    fields = qido.parse_includefields(params)
    if fields.everything or fields.tags:  # instance attributes beyond the listing: a read of each series
        for study, series_albums in targets.items():
            for one_series, albums in series_albums.items():
                audit.record_read(principal, study, one_series, albums)
    records = _batch_get(SeriesRecord, [SeriesRecord.key(st, se) for st, ses in targets.items() for se in ses])
    series = {(r.study_uid, r.series_uid): r.attributes for r in records}
    identities = identity.of_series(records)  # each series with its own study identity
    criteria = matching.parse_criteria(params)
    items = []
    for study, series_albums in targets.items():
        for one_series in sorted(series_albums):
            parents = (identities.get((study, one_series), {}), series.get((study, one_series), {}))
            for record in study_partition.series_instances(study, one_series):
                if not matching.matches_all(qido.with_parents(record.attributes, *parents), criteria):
                    continue
                item = qido.instance_item(record.attributes, study, one_series, record.transfer_syntax_uid,
                                          base_url, fields)
                items.append(qido.with_parents(item, *parents) if series_uid is None else item)
    return qido.page_of(qido.sort_instances(items), page)

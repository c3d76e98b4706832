"""QIDO-RS: studies, series and instances the principal may see, built from the index tables.
Counts and custom fields cover only what the caller may see in the chosen source."""
from __future__ import annotations

from chalicelib.auth import policy
from chalicelib.auth.principals import Principal
from chalicelib.dicom import matching, qido
from chalicelib.dicom.json_model import element
from chalicelib.dicom.qido import Page, SearchResult, parse_page  # noqa: F401 - the routes' vocabulary
from chalicelib.errors import BadQueryParameter
from chalicelib.store import listing, shares
from chalicelib.store.models import InstanceRecord, SeriesRecord, SeriesShare, StudyComment, StudyRecord

Visible = dict[str, dict[str, list[SeriesShare]]]  # study -> series -> shares granting it


def visible_series(principal: Principal, source: policy.Source) -> Visible:
    visible: Visible = {}
    for album_id in policy.readable_albums(principal, source):
        for share in shares.shares_in_album(album_id):
            visible.setdefault(share.study_uid, {}).setdefault(share.series_uid, []).append(share)
    if principal.study_uids is not None:
        visible = {s: v for s, v in visible.items() if s in principal.study_uids}
    return visible


def _batch_get(model, keys: list[tuple[str, str]]):
    return list(model.batch_get(keys)) if keys else []


def _series_items(records: list[SeriesRecord], base_url: str) -> dict[tuple[str, str], dict]:
    return {(r.study_uid, r.series_uid): qido.series_item(r.attributes, r.study_uid, int(r.instance_count), base_url)
            for r in records}


def _needs_source(source: policy.Source, what: str) -> None:
    if source.album_id is None and not source.inbox:
        raise BadQueryParameter(f"{what} needs album or inbox")


def search_studies(principal: Principal, source: policy.Source, params: dict[str, list[str]],
                   page: Page, base_url: str) -> SearchResult:
    """The default study list (no matching keys, newest first) reads the albums' study lists down
    to the page's end only (`store.listing`). Matching keys, another order or the favorite filter
    read every visible study, as no index holds them."""
    fields = qido.parse_includefields(params)
    favorite = qido.flag(params, "favorite")
    if favorite is not None or fields.custom:
        _needs_source(source, "favorite and comments")
    criteria = matching.parse_criteria(params)
    sort = (params.get("sort") or [qido.DEFAULT_STUDY_SORT])[0]
    if not criteria and sort == qido.DEFAULT_STUDY_SORT and not favorite and principal.study_uids is None:
        return _newest_first(principal, source, fields, page, base_url)
    visible = visible_series(principal, source)
    if favorite is not None:
        visible = {st: se for st, se in visible.items() if _favorites(se) > 0} if favorite else visible
    fuzzy = (params.get("fuzzymatching") or ["false"])[0].lower() == "true"
    items = [a for a in _study_items(principal, visible, fields, base_url) if matching.matches_all(a, criteria, fuzzy)]
    return qido.page_of(qido.sort_studies(items, sort), page)


def _newest_first(principal: Principal, source: policy.Source, fields: qido.IncludeFields, page: Page,
                  base_url: str) -> SearchResult:
    holding = listing.counts(sorted(policy.readable_albums(principal, source)))
    chosen = list(listing.newest_first(sorted(holding), page.offset + page.limit).items())[page.offset:]
    if qido.FAVORITE_TAG in fields.custom:  # one album at most here (`_needs_source`)
        visible: Visible = {study: _shares_by_series(shares.shares_in_album(album_id, study))
                            for study, _ in chosen for album_id in holding}
    else:
        visible = {study: {series: [] for series in series_uids} for study, series_uids in chosen}
    items = _study_items(principal, visible, fields, base_url)
    return SearchResult(items, listing.count_visible(principal.sub, holding), page.offset)


def _shares_by_series(rows: list[SeriesShare]) -> dict[str, list[SeriesShare]]:
    out: dict[str, list[SeriesShare]] = {}
    for share in rows:
        out.setdefault(share.series_uid, []).append(share)
    return out


def _study_items(principal: Principal, visible: Visible, fields: qido.IncludeFields, base_url: str) -> list[dict]:
    """QIDO study items of `visible`, in its order, with counts over the visible series only."""
    studies = {r.study_uid: r for r in _batch_get(StudyRecord, [StudyRecord.key(s) for s in visible])}
    series = _series_items(_batch_get(SeriesRecord, [SeriesRecord.key(st, se) for st, ses in visible.items()
                                                     for se in ses]), base_url)
    children: dict[str, list[dict]] = {}
    for (study_uid, _), item in series.items():
        children.setdefault(study_uid, []).append(item)
    items = []
    for study_uid in (s for s in visible if s in studies):
        item = qido.study_item(studies[study_uid].attributes, children.get(study_uid, []), base_url)
        if qido.FAVORITE_TAG in fields.custom:
            item[qido.FAVORITE_TAG] = element("IS", _favorites(visible[study_uid]))
        if qido.COMMENTS_TAG in fields.custom:
            item[qido.COMMENTS_TAG] = element("IS", _comment_count(principal, study_uid))
        items.append(item)
    return items


def _favorites(series: dict[str, list[SeriesShare]]) -> int:
    return sum(1 for shares_of in series.values() if any(s.favorite for s in shares_of))


def _comment_count(principal: Principal, study_uid: str) -> int:
    """Comments on the study the caller may read: public ones and private ones to or from them."""
    comments = StudyComment.query(f"STUDY#{study_uid}", StudyComment.sk.startswith("COMMENT#"))
    return sum(1 for c in comments if c.visible_to(principal.sub))


def search_series(principal: Principal, study_uid: str, source: policy.Source,
                  params: dict[str, list[str]], page: Page, base_url: str) -> SearchResult:
    visible = policy.authorize_study_read(principal, study_uid, source)
    fields = qido.parse_includefields(params)
    favorite = qido.flag(params, "favorite")
    if favorite is not None or qido.FAVORITE_TAG in fields.custom:
        _needs_source(source, "favorite")
    records = _batch_get(SeriesRecord, [SeriesRecord.key(study_uid, s) for s in visible])
    items = []
    for (_, series_uid), item in _series_items(records, base_url).items():
        is_favorite = any(s.favorite for s in visible[series_uid])
        if favorite is not None and is_favorite != favorite:
            continue
        if qido.FAVORITE_TAG in fields.custom:
            item[qido.FAVORITE_TAG] = element("SH", "true" if is_favorite else "false")
        items.append(item)
    items = [a for a in items if matching.matches_all(a, matching.parse_criteria(params))]
    return qido.page_of(qido.sort_series(items, (params.get("sort") or [None])[0]), page)


def search_all_series(principal: Principal, source: policy.Source, params: dict[str, list[str]],
                      page: Page, base_url: str) -> SearchResult:
    """`GET /series`: every visible series, with its study's attributes."""
    visible = visible_series(principal, source)
    studies = {s.study_uid: s.attributes for s in _batch_get(StudyRecord, [StudyRecord.key(s) for s in visible])}
    records = _batch_get(SeriesRecord, [SeriesRecord.key(st, se) for st, ses in visible.items() for se in ses])
    items = [qido.with_parents(item, studies.get(st, {})) for (st, _), item in _series_items(records, base_url).items()]
    items = [a for a in items if matching.matches_all(a, matching.parse_criteria(params))]
    return qido.page_of(qido.sort_series(items, (params.get("sort") or [None])[0]), page)


def search_instances(principal: Principal, study_uid: str | None, series_uid: str | None,
                     source: policy.Source, params: dict[str, list[str]], page: Page,
                     base_url: str) -> SearchResult:
    """`/instances`, `/studies/{s}/instances`, `/studies/{s}/series/{se}/instances`."""
    if series_uid is not None:
        policy.authorize_series_read(principal, study_uid, series_uid, source)
        targets = {study_uid: [series_uid]}
    elif study_uid is not None:
        targets = {study_uid: sorted(policy.authorize_study_read(principal, study_uid, source))}
    else:
        targets = {st: sorted(ses) for st, ses in visible_series(principal, source).items()}
    fields = qido.parse_includefields(params)
    studies = {s.study_uid: s.attributes for s in _batch_get(StudyRecord, [StudyRecord.key(s) for s in targets])}
    series = {(r.study_uid, r.series_uid): r.attributes
              for r in _batch_get(SeriesRecord, [SeriesRecord.key(st, se) for st, ses in targets.items() for se in ses])}
    criteria = matching.parse_criteria(params)
    items = []
    for study, series_list in targets.items():
        for one_series in series_list:
            parents = (studies.get(study, {}), series.get((study, one_series), {}))
            for record in InstanceRecord.query(f"STUDY#{study}", InstanceRecord.sk.startswith(f"INSTANCE#{one_series}#")):
                if not matching.matches_all(qido.with_parents(record.attributes, *parents), criteria):
                    continue
                item = qido.instance_item(record.attributes, study, one_series, record.transfer_syntax_uid,
                                          base_url, fields)
                items.append(qido.with_parents(item, *parents) if series_uid is None else item)
    return qido.page_of(qido.sort_instances(items), page)

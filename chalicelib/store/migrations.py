"""Data written before a newer layout, brought up to it. An admin step, never on a request path
(it scans): `python -m chalicelib.store.migrations` after deploying (docs/deploy.md, Upgrade);
the local stack runs it at every start. Each migration is idempotent.

    python -m chalicelib.store.migrations --dry-run         # what it would change; writes nothing
    python -m chalicelib.store.migrations                   # the layout migrations
    python -m chalicelib.store.migrations --purge-orphans   # also delete series no album holds

Purging orphans deletes data (rows and DICOM objects): it runs only when asked for."""
from __future__ import annotations

import argparse
import sys

from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.expressions.condition import size

from chalicelib.dicom import json_model, qido
from chalicelib.store import listing, orphans, storage_migration, study_index
from chalicelib.store.models import (
    AlbumStudy,
    AlbumStudyCount,
    EmailClaim,
    SeriesRecord,
    SeriesShare,
    StudyRecord,
    UserProfile,
    transact,
)


def build_study_lists(dry_run: bool = False) -> int:
    """The `AlbumStudy` rows and `AlbumStudyCount` of every album that holds series but has no
    count yet (shares written before the study list existed). Returns how many albums it built
    (with `dry_run`, would build)."""
    held: dict[str, dict[str, set[str]]] = {}
    for share in SeriesShare.scan(SeriesShare.sk.startswith("SERIES#")):
        held.setdefault(share.album_id, {}).setdefault(share.study_uid, set()).add(share.series_uid)
    counted = {row.pk.removeprefix("ALBUM#") for row in
               AlbumStudyCount.batch_get([AlbumStudyCount.key(a) for a in held])} if held else set()
    missing = {album: studies for album, studies in held.items() if album not in counted}
    if dry_run:
        return len(missing)
    uids = sorted({study for studies in missing.values() for study in studies})
    stored = _study_attributes(uids)
    modalities = _modalities(sorted({(study, s) for studies in missing.values() for study, series in studies.items()
                                     for s in series}))
    for album, studies in missing.items():
        with AlbumStudy.batch_write() as batch:
            for study, series in studies.items():
                copy = stored.get(study, {})
                entries = {listing.modality_entry(s, modalities[(study, s)]) for s in series if (study, s) in modalities}
                batch.save(AlbumStudy(*AlbumStudy.key(album, study), album_id=album, study_uid=study,
                                      listing=f"{qido.listing_key(copy)}#{study}", series_uids=series,
                                      study_attributes=copy or None, series_modalities=entries or None))
        AlbumStudyCount(*AlbumStudyCount.key(album), studies=len(studies), changes=len(studies)).save()
    return len(missing)


def complete_study_rows(dry_run: bool = False) -> int:
    """The study's attributes and the series' modalities into the `AlbumStudy` rows written before
    they held them (the list still answers without them, reading the study and series rows).
    Returns how many rows it completed (with `dry_run`, would complete)."""
    rows = [r for r in AlbumStudy.scan(AlbumStudy.sk.startswith("STUDY#"))
            if r.study_attributes is None or len(r.series_modalities or ()) < len(r.series_uids)]
    studies = _study_attributes(sorted({r.study_uid for r in rows}))
    if dry_run:
        return sum(1 for r in rows if r.study_uid in studies)
    modalities = _modalities(sorted({(r.study_uid, s) for r in rows for s in r.series_uids}))
    completed = 0
    for row in (r for r in rows if r.study_uid in studies):
        held = {listing.series_of_entry(entry) for entry in row.series_modalities or ()}
        entries = {listing.modality_entry(s, modalities[(row.study_uid, s)]) for s in row.series_uids - held
                   if (row.study_uid, s) in modalities}
        actions = [AlbumStudy.study_attributes.set(AlbumStudy.study_attributes | studies[row.study_uid])]
        if entries:
            actions.append(AlbumStudy.series_modalities.add(entries))
        try:
            row.update(actions=actions, condition=AlbumStudy.pk.exists())
            completed += 1
        except UpdateError:
            pass  # the study left the album meanwhile
    return completed


def index_study_rows(dry_run: bool = False) -> int:
    """The search keys and `AlbumStudyModality` rows (`study_index`) of the `AlbumStudy` rows
    written before them, each row in one transaction with its album's `indexed` count; an album's
    searches use the indexes once all its rows are indexed. Run after `complete_study_rows`.
    Returns how many rows it indexed (with `dry_run`, would index)."""
    indexed = 0
    for row in AlbumStudy.scan(AlbumStudy.sk.startswith("STUDY#") & AlbumStudy.indexed.does_not_exist()):
        if row.study_attributes is None or len(row.series_modalities or ()) < len(row.series_uids):
            continue  # not completed (`complete_study_rows`): the album keeps matching its rows
        if dry_run:
            indexed += 1
            continue
        order = row.listing
        try:
            with transact() as transaction:
                transaction.update(row, actions=[*study_index.key_actions(row.study_attributes or {}),
                                                 AlbumStudy.indexed.set(True)],
                                   condition=AlbumStudy.pk.exists() & AlbumStudy.indexed.does_not_exist()
                                   & (AlbumStudy.listing == order) & (size(AlbumStudy.series_uids) == len(row.series_uids)))
                for modality in listing.modalities_of(row):
                    modality_row = study_index.modality_row(row.album_id, modality, row.study_uid)
                    transaction.update(modality_row, actions=[type(modality_row).study_uid.set(row.study_uid),
                                                              type(modality_row).listing.set(order)])
                transaction.update(AlbumStudyCount(*AlbumStudyCount.key(row.album_id)),
                                   actions=[AlbumStudyCount.indexed.add(1)])
            indexed += 1
        except TransactWriteError:
            pass  # the row changed or left meanwhile: the next run indexes it
    return indexed


def term_study_rows(dry_run: bool = False) -> int:
    """The `AlbumStudyTerm` rows (`study_index.term_rows`) of the indexed `AlbumStudy` rows
    written before them, each row in one transaction with its album's `termed` count; an album's
    wildcard and fuzzy searches use them once all its rows have them. Run after
    `index_study_rows`. A value too long for suffix rows gets its long-value row (rows skipped
    before those existed get theirs now). Returns how many rows it gave term rows (`dry_run`: would)."""
    termed = 0
    for row in AlbumStudy.scan(AlbumStudy.sk.startswith("STUDY#") & AlbumStudy.indexed.exists()
                               & AlbumStudy.termed.does_not_exist()):
        if dry_run:
            termed += 1
            continue
        copied_from = (AlbumStudy.attributes_from == row.attributes_from) if row.attributes_from \
            else AlbumStudy.attributes_from.does_not_exist()
        try:
            with transact() as transaction:
                terms = study_index.term_rows(row.album_id, row.study_uid, row.listing, row.study_attributes or {})
                transaction.update(row, actions=[AlbumStudy.termed.set(True)],
                                   condition=AlbumStudy.pk.exists() & AlbumStudy.termed.does_not_exist()
                                   & (AlbumStudy.listing == row.listing) & copied_from)
                for term in terms:
                    transaction.save(term)
                transaction.update(AlbumStudyCount(*AlbumStudyCount.key(row.album_id)),
                                   actions=[AlbumStudyCount.termed.add(1)])
            termed += 1
        except TransactWriteError:
            pass  # the row changed or left meanwhile: the next run gives it its rows
    return termed


def count_study_rows(dry_run: bool = False) -> int:
    """The instances of their series (`AlbumStudy.instance_count`) into the `AlbumStudy` rows
    written before they counted them; a page of the study list reads those rows' series records
    until then. Each row on the condition that it holds the same series and count as read (a STOW
    or share meanwhile: the next run counts it). Returns how many rows it counted (`dry_run`: would)."""
    rows = list(AlbumStudy.scan(AlbumStudy.sk.startswith("STUDY#") & AlbumStudy.counted.does_not_exist()))
    if dry_run:
        return len(rows)
    keys = sorted({(r.study_uid, s) for r in rows for s in r.series_uids})
    instances = {(r.study_uid, r.series_uid): int(r.instance_count)
                 for r in (SeriesRecord.batch_get([SeriesRecord.key(*k) for k in keys]) if keys else [])}
    counted = 0
    for row in rows:
        as_read = (AlbumStudy.instance_count == row.instance_count) if row.instance_count is not None \
            else AlbumStudy.instance_count.does_not_exist()
        try:
            row.update(actions=[AlbumStudy.instance_count.set(sum(instances.get((row.study_uid, s), 0)
                                                                  for s in row.series_uids)),
                                AlbumStudy.counted.set(True)],
                       condition=AlbumStudy.pk.exists() & AlbumStudy.counted.does_not_exist() & as_read
                       & (size(AlbumStudy.series_uids) == len(row.series_uids)))
            counted += 1
        except UpdateError:
            pass  # the row changed or left meanwhile: the next run counts it
    return counted


def _study_attributes(study_uids: list[str]) -> dict[str, dict]:
    """What `AlbumStudy.study_attributes` copies of each stored study."""
    records = StudyRecord.batch_get([StudyRecord.key(u) for u in study_uids]) if study_uids else []
    return {r.study_uid: json_model.subset(r.attributes, json_model.PATIENT_STUDY_KEYWORDS) for r in records}


def _modalities(series: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    records = SeriesRecord.batch_get([SeriesRecord.key(*s) for s in series]) if series else []
    return {(r.study_uid, r.series_uid): json_model.text_value(r.attributes, "Modality") for r in records}


def claim_emails(dry_run: bool = False) -> tuple[int, list[str]]:
    """An `EmailClaim` for each e-mail held by exactly one profile written before claims existed.
    An address several profiles show gets no claim: `find_user` then finds nobody by it until
    its rightful owner signs in again with it verified (the others are refused with 409).
    Returns (claims written, with `dry_run` to write; addresses left ambiguous)."""
    holders: dict[str, set[str]] = {}
    for user in UserProfile.scan(UserProfile.sk == "PROFILE"):
        if user.email_lower:
            holders.setdefault(user.email_lower, set()).add(user.sub)
    written = 0
    for email, subs in holders.items():
        if len(subs) == 1 and dry_run:
            written += EmailClaim.count(EmailClaim.key(email)[0]) == 0
        elif len(subs) == 1:
            try:
                EmailClaim(*EmailClaim.key(email), owner_sub=next(iter(subs))).save(
                    condition=EmailClaim.pk.does_not_exist())
                written += 1
            except PutError:
                pass  # already claimed
    return written, sorted(e for e, subs in holders.items() if len(subs) > 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="report what would change; write and delete nothing")
    parser.add_argument("--purge-orphans", action="store_true",
                        help="also delete every stored series no album holds (rows and DICOM objects)")
    args = parser.parse_args(argv)
    would = "would be " if args.dry_run else ""
    print(f"study lists {would}built for {build_study_lists(args.dry_run)} album(s)")
    print(f"album study rows {would}completed with study attributes and modalities: {complete_study_rows(args.dry_run)}")
    print(f"album study rows {would}given search keys: {index_study_rows(args.dry_run)}")
    print(f"album study rows {would}given term rows: {term_study_rows(args.dry_run)}")
    print(f"album study rows {would}given their instance counts: {count_study_rows(args.dry_run)}")
    claimed, ambiguous = claim_emails(args.dry_run)
    print(f"e-mail claims {would}written for {claimed} user(s); held by several users, left unclaimed: {ambiguous}")
    if args.purge_orphans:
        print(f"orphan series {would}purged: {orphans.purge_unheld(args.dry_run)}")
    else:
        print(f"orphan series (no album holds them): {orphans.purge_unheld(dry_run=True)}; "
              "not purged (--purge-orphans deletes them)")
    print(f"store-once layout (docs/storage.md) {would}applied: "
          f"{storage_migration.summary(storage_migration.migrate(args.dry_run))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

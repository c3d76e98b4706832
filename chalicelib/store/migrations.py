"""Data written before a newer layout, brought up to it. An admin step, never on a request path
(it scans): `python -m chalicelib.store.migrations` after deploying; the local stack runs it at
every start. Each migration is idempotent."""
from __future__ import annotations

import sys

from chalicelib.dicom import qido
from chalicelib.store.models import AlbumStudy, AlbumStudyCount, SeriesShare, StudyRecord


def build_study_lists() -> int:
    """The `AlbumStudy` rows and `AlbumStudyCount` of every album that holds series but has no
    count yet (shares written before the study list existed). Returns how many albums it built."""
    held: dict[str, dict[str, set[str]]] = {}
    for share in SeriesShare.scan(SeriesShare.sk.startswith("SERIES#")):
        held.setdefault(share.album_id, {}).setdefault(share.study_uid, set()).add(share.series_uid)
    counted = {row.pk.removeprefix("ALBUM#") for row in
               AlbumStudyCount.batch_get([AlbumStudyCount.key(a) for a in held])} if held else set()
    missing = {album: studies for album, studies in held.items() if album not in counted}
    uids = sorted({study for studies in missing.values() for study in studies})
    listed_at = {r.study_uid: qido.listing_key(r.attributes) for r in StudyRecord.batch_get([StudyRecord.key(s) for s in uids])} \
        if uids else {}
    for album, studies in missing.items():
        with AlbumStudy.batch_write() as batch:
            for study, series in studies.items():
                batch.save(AlbumStudy(*AlbumStudy.key(album, study), album_id=album, study_uid=study,
                                      listing=f"{listed_at.get(study, '')}#{study}", series_uids=series))
        AlbumStudyCount(*AlbumStudyCount.key(album), studies=len(studies), changes=len(studies)).save()
    return len(missing)


def main() -> int:
    built = build_study_lists()
    print(f"study lists built for {built} album(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

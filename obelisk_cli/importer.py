"""`obelisk import --from URL`: moves studies from a DICOMweb server (KHEOPS, Orthanc, dcm4chee,
another Obelisk) into Obelisk: retrieved by QIDO-RS filters into a work folder (`obelisk download`),
then stored (`obelisk upload`: batches, large path, resume). With `--albums` the source is spoken
to as a KHEOPS API and the user's albums come too (`obelisk_cli.albums`)."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path
from urllib.parse import urlsplit

from obelisk_cli import files
from obelisk_cli.download import add_selection_options, download, print_retrieved, query_of, select_studies
from obelisk_cli.http import Server
from obelisk_cli.upload import DEFAULT_BATCH_BYTES, Options, upload


def add_parser(commands, server_options) -> None:
    parser = commands.add_parser("import", help="copy studies (and KHEOPS albums) from another DICOMweb server",
                                 description=__doc__)
    server_options(parser)
    parser.add_argument("--from", dest="source", required=True, metavar="URL",
                        help="DICOMweb base URL of the source, e.g. https://kheops.example.org/api or "
                             "http://orthanc:8042/dicom-web")
    parser.add_argument("--from-bearer-token", "--from-token", dest="source_token",
                        help="the source's access token (a KHEOPS user token for --albums)")
    parser.add_argument("--from-user", dest="source_user", help="HTTP basic user at the source (Orthanc)")
    parser.add_argument("--from-password", dest="source_password", help="HTTP basic password at the source")
    add_selection_options(parser)
    parser.add_argument("--albums", action="store_true",
                        help="KHEOPS source: also the user's albums (name, description, settings, members "
                             "known here, series placement)")
    parser.add_argument("--work-dir", help="where retrieved files wait (default .obelisk-import/{source host}); "
                                           "kept until everything is stored, so a second run resumes")
    parser.add_argument("--keep", action="store_true", help="keep the work folder after a complete import")
    parser.add_argument("--batch-bytes", type=int, default=DEFAULT_BATCH_BYTES, help="as for upload")
    parser.set_defaults(run=run_import)


def source_of(args) -> Server:
    basic = (args.source_user, args.source_password or "") if args.source_user else None
    return Server(args.source, bearer_token=args.source_token, basic=basic, attempts=max(1, args.retries))


def run_import(args) -> int:
    from obelisk_cli.main import print_summary, server_of

    source, target = source_of(args), server_of(args)
    work = Path(args.work_dir or Path(".obelisk-import") / (urlsplit(args.source).netloc.replace(":", "_") or "source"))
    albums = None
    if args.albums:
        from obelisk_cli import albums as kheops_albums

        albums = kheops_albums.read_albums(source)
    studies = select_studies(source, args.study, query_of(args.filter), None)
    if albums is not None:
        studies = sorted(set(studies) | {st for album in albums for st, _ in album.series})
    print(f"{len(studies)} study(ies) to import from {args.source}", file=sys.stderr)
    retrieved = download(source, studies, work, None, args.jobs, not args.quiet)
    print_retrieved(retrieved, len(studies))
    found = files.collect([str(work)]) if work.exists() else files.Collection()
    report = upload(target, found.instances, Options(album=args.album, batch_bytes=args.batch_bytes,
                                                     jobs=max(1, args.jobs), progress=not args.quiet))
    print_summary(report, found.skipped, args.json)
    failed = bool(retrieved.failures or report.failures)
    if albums is not None and not failed:
        failed = not kheops_albums.write_albums(target, albums, work)
    if not failed and not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0

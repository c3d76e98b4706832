"""`obelisk` command line: `upload`, `download` and `import`. Options follow dicomweb-client's
(`--url`, `--bearer-token`) and dcm4che's `stowrs` where they exist; environment variables
OBELISK_URL and OBELISK_TOKEN stand in for them. Exit codes: 0 everything done, 1 something failed
(listed), 2 usage error, 130 interrupted (run the same command again to resume)."""
from __future__ import annotations

import argparse
import json
import os
import re
import sys

import requests

from obelisk_cli import files
from obelisk_cli.http import Server
from obelisk_cli.upload import DEFAULT_BATCH_BYTES, DEFAULT_BATCH_INSTANCES, Options, Refused, Report, upload

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.url:
        parser.error("--url (or OBELISK_URL) is required")
    if args.command == "upload":
        missing = [path for path in args.paths if not os.path.exists(path)]
        if missing:
            parser.exit(EXIT_USAGE, f"obelisk: error: no such file or folder: {', '.join(missing)}\n")
    try:
        return args.run(args)
    except Refused as error:
        print(f"obelisk: {error}", file=sys.stderr)
        return EXIT_FAILED
    except requests.ConnectionError as error:
        print(f"cannot reach {args.url}: {_cause(error)}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume (what is stored is skipped)", file=sys.stderr)
        return EXIT_INTERRUPTED


def _cause(error: Exception) -> str:
    """The useful end of a connection error (`[Errno 111] Connection refused`), not urllib3's chain."""
    found = re.findall(r"\[Errno -?\d+\] [^'\")]+", str(error))
    return found[-1] if found else type(error).__name__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="obelisk", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    _upload_parser(commands.add_parser("upload", help="store DICOM files, folders and zips (STOW-RS)",
                                       description=sys.modules["obelisk_cli.upload"].__doc__))
    from obelisk_cli import download, importer

    download.add_parser(commands, _server_options)
    importer.add_parser(commands, _server_options)
    return parser


def _server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", "-u", default=os.environ.get("OBELISK_URL"),
                        help="DICOMweb base URL of the Obelisk API, e.g. https://obelisk.example.org/api (OBELISK_URL)")
    parser.add_argument("--bearer-token", "--token", dest="token", default=os.environ.get("OBELISK_TOKEN"),
                        help="access token, sent as 'Authorization: Bearer' (OBELISK_TOKEN)")
    parser.add_argument("--album", help="album ID: store into (upload, import) or read from (download) this album")
    parser.add_argument("--jobs", "-j", type=int, default=4, help="requests in flight (default 4)")
    parser.add_argument("--retries", type=int, default=6, help="attempts per request (default 6)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def server_of(args) -> Server:
    return Server(args.url, bearer_token=args.token, attempts=max(1, args.retries))


def _upload_parser(parser: argparse.ArgumentParser) -> None:
    _server_options(parser)
    parser.add_argument("--batch-bytes", type=int,
                        default=int(os.environ.get("OBELISK_BATCH_BYTES", DEFAULT_BATCH_BYTES)),
                        help="largest synchronous STOW body; bigger instances use the large-upload path "
                             f"(OBELISK_BATCH_BYTES, default {DEFAULT_BATCH_BYTES})")
    parser.add_argument("--batch-instances", type=int,
                        default=int(os.environ.get("OBELISK_BATCH_INSTANCES", DEFAULT_BATCH_INSTANCES)),
                        help="most instances in one synchronous STOW (it must finish within API Gateway's 29 s; "
                             f"OBELISK_BATCH_INSTANCES, default {DEFAULT_BATCH_INSTANCES})")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="DICOM files, folders, zip archives")
    parser.set_defaults(run=run_upload)


def run_upload(args) -> int:
    found = files.collect(args.paths)
    options = Options(album=args.album, batch_bytes=args.batch_bytes, batch_instances=max(1, args.batch_instances),
                      jobs=max(1, args.jobs),
                      progress=not args.quiet)
    report = upload(server_of(args), found.instances, options) if found.instances else Report()
    print_summary(report, found.skipped, args.json)
    if not found.instances:
        print("no DICOM file found", file=sys.stderr)
        return EXIT_FAILED
    if report.interrupted:
        raise KeyboardInterrupt
    return EXIT_FAILED if report.failures else EXIT_OK


def print_summary(report: Report, skipped: list[tuple[str, str]], as_json: bool) -> None:
    rate = report.bytes_sent / report.seconds / 1024 ** 2 if report.seconds else 0.0
    if as_json:
        print(json.dumps({
            "found": report.found, "already_stored": report.already_stored, "stored": report.stored,
            "failed": [vars(f) for f in report.failures], "skipped": [{"name": n, "reason": r} for n, r in skipped],
            "bytes_sent": report.bytes_sent, "seconds": round(report.seconds, 3), "batches": report.batches,
            "large_uploads": report.large, "interrupted": report.interrupted}))
        return
    for name, reason in skipped:
        print(f"skipped  {name}: {reason}")
    for failure in report.failures:
        print(f"FAILED   {failure.name} ({failure.sop_uid or 'no UID'}): {failure.reason}")
    print(f"{report.found} DICOM instance(s) found, {report.already_stored} already stored, "
          f"{report.stored} stored, {len(report.failures)} failed, {len(skipped)} other file(s) skipped; "
          f"{report.bytes_sent / 1024 ** 2:.1f} MiB in {report.seconds:.1f} s ({rate:.1f} MiB/s), "
          f"{report.batches} batch(es), {report.large} large upload(s)")

"""`python -m devstack run|token|wipe`: the commands behind `make run`, `make token`, `make wipe`."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

from devstack import bootstrap
from devstack.stack import ROOT, LocalStack

DATA_DIR = Path(os.environ.get("OBELISK_DATA_DIR") or ROOT / ".obelisk")


def run(_args) -> int:
    from devstack.sites import WEB_PORT

    stack = LocalStack(DATA_DIR, web_port=WEB_PORT)
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        stack.start()
        from devstack.sites import start_sites

        sites = start_sites(stack)
        from devstack.demo import load_demo_data

        load_demo_data(stack)
        print(banner(stack, sites), flush=True)
        while not stopping:
            time.sleep(0.5)
            for process in stack.processes:
                if process.poll() is not None:
                    print(f"a local process exited ({process.args}); see {DATA_DIR}/*.log", file=sys.stderr)
                    stopping = True
    finally:
        print("stopping the local platform...", flush=True)
        stack.stop()
    return 0


def banner(stack: LocalStack, sites: dict[str, str]) -> str:
    lines = [
        "",
        "Obelisk is running (Ctrl-C stops everything):",
        f"  API             {stack.api_url}   (also {stack.direct_api_url})",
        f"  AWS emulator    {stack.emulator_url}   (moto; state in {DATA_DIR}/emulator.pickle)",
        f"  its S3          {stack.s3_url}   (S3's own process; {DATA_DIR}/emulator-s3.pickle)",
    ]
    lines += [f"  {name:<15} {url}" for name, url in sites.items()]
    lines += [
        f"  OIDC issuer     {stack.identity['issuer']}",
        "",
        "Demo users (sign in with user name and password):",
    ]
    for user in bootstrap.DEMO_USERS:
        lines.append(f"  {user:<6} {bootstrap.demo_email(user):<20} {bootstrap.demo_password(user)}")
    lines += ["", "A token for the API:  make token USER=alice", f"Logs: {DATA_DIR}/*.log", ""]
    return "\n".join(lines)


def token(args) -> int:
    description = DATA_DIR / "stack.json"
    if not description.exists():
        print("the local platform is not running: start it with `make run`", file=sys.stderr)
        return 2
    stack = json.loads(description.read_text())
    if args.user not in bootstrap.DEMO_USERS:
        print(f"unknown demo user {args.user!r}; choose one of {', '.join(bootstrap.DEMO_USERS)}",
              file=sys.stderr)
        return 2
    print(bootstrap.sign_in(stack["emulator_url"], stack["client_id"], args.user))
    return 0


def wipe(_args) -> int:
    shutil.rmtree(DATA_DIR, ignore_errors=True)
    print(f"removed {DATA_DIR}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run").set_defaults(func=run)
    token_parser = commands.add_parser("token")
    token_parser.add_argument("user")
    token_parser.set_defaults(func=token)
    commands.add_parser("wipe").set_defaults(func=wipe)
    args = parser.parse_args()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

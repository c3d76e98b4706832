"""cProfile of the STOW path inside the API process's code (`python -m bench.profile_stow`):
one CT study of 512x512 slices stored one instance per request through `ingest.store_body`
against a local emulator; prints where the CPU goes, by top-level cause."""
from __future__ import annotations

import cProfile
import os
import pstats
import sys
import tempfile
from pathlib import Path

from bench.data import ct_study
from devstack.demo import multipart_body
from devstack.stack import LocalStack

GROUPS = {"boto3/botocore (signing, HTTP, parsing)": ("botocore", "boto3", "urllib3", "http/client", "ssl"),
          "pydicom (parse, DICOM JSON)": ("pydicom",), "rendering (numpy, PIL)": ("numpy", "PIL", "render.py"),
          "pynamodb": ("pynamodb",), "json": ("json/",)}


def main(instances: int = 12) -> int:
    stack = LocalStack(Path(tempfile.mkdtemp()), emulator_port=0, api_port=0, persist=False).start()
    try:
        stack.kill_pollers()
        token = stack.token("alice")
        os.environ.update(stack.api_environment())
        from chalicelib.auth.authenticate import authenticate
        from chalicelib.services import ingest

        caller = authenticate({"Authorization": f"Bearer {token}"})
        files = ct_study([instances], seed=1).instances()
        bodies = [multipart_body([f]) for f in files]
        ingest.store_body(caller, None, None, bodies[0][1], bodies[0][0])  # warm: imports, keys
        profile = cProfile.Profile()
        profile.enable()
        for body, content_type in bodies[1:]:
            ingest.store_body(caller, None, None, content_type, body)
        profile.disable()
        stats = pstats.Stats(profile)
        total = sum(self_time for (_, _, self_time, _, _) in stats.stats.values()) / (len(bodies) - 1)
        own = {name: 0.0 for name in GROUPS}
        for (path, _, _), (_, _, self_time, _, _) in stats.stats.items():
            group = next((n for n, marks in GROUPS.items() if any(m in path for m in marks)), None)
            if group:
                own[group] += self_time / (len(bodies) - 1)
        print(f"CPU per instance (profiled, in process): {total * 1000:.0f} ms")
        for name, seconds in sorted(own.items(), key=lambda kv: -kv[1]):
            print(f"  {name:42s} {seconds * 1000:6.1f} ms")
        print(f"  {'everything else':42s} {(total - sum(own.values())) * 1000:6.1f} ms")
        stats.sort_stats("tottime").print_stats(12)
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 12))

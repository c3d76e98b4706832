"""`python -m bench` (`make bench`): Obelisk and Orthanc, same run, same client, same data.
Writes bench/results/{results.json,results.md,*.png}; exits 1 if a request path used a DynamoDB Scan."""
from __future__ import annotations

import dataclasses
import datetime
import io
import subprocess
import sys
import time

import pydicom

from bench import coldstart, data, machine, measure, profile, report
from bench.client import FRAME_ACCEPT, OHIF_STUDY_LIST, PATIENT_SEARCH, Server
from bench.config import RESULTS, ROOT, SCRATCH, Settings
from bench.measure import JSON, Target
from bench.obelisk import Obelisk
from bench.orthanc import Orthanc, install, version


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')} load {machine.load()[0]}] {message}", flush=True)


def sop_uids(files: list[bytes]) -> list[str]:
    return [pydicom.dcmread(io.BytesIO(f), stop_before_pixels=True).SOPInstanceUID for f in files]


class Bench:
    def __init__(self, settings: Settings):
        self.s = settings
        self.results: dict = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
                              "quick": settings.quick, "settings": dataclasses.asdict(settings),
                              "machine": machine.describe(), "orthanc_version": version(),
                              "obelisk_commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                                               capture_output=True, text=True).stdout.strip(),
                              "phase_calls": {}, "load": {}}
        self.targets: dict[str, Target] = {}

    def both(self):
        return self.targets.items()

    def phase(self, name: str, fn) -> dict:
        """fn(target) for each server; Obelisk's AWS calls over the whole phase are recorded."""
        out = {}
        for server, target in self.both():
            log(f"{name}: {server}")
            if target.reset_calls:
                target.reset_calls()
            out[server] = fn(target)
            if target.calls:
                self.results["phase_calls"][name] = target.calls()
        self.results["load"][name] = machine.load()
        return out

    def run(self, obelisk: Obelisk, orthanc: Orthanc) -> dict:
        s, r = self.s, self.results
        alice = {"Authorization": f"Bearer {obelisk.token}"}
        self.targets = {
            "obelisk": Target(Server("obelisk", obelisk.dicomweb, alice), obelisk.api_pid,
                              obelisk.reset_calls, obelisk.calls, obelisk.emulator_pids, obelisk.timeline),
            "orthanc": Target(Server("orthanc", orthanc.dicomweb), orthanc.pid),
        }
        log("generating CT studies")
        small = data.ct_study([s.stow_slices] * s.stow_series, seed=1)
        small4 = data.ct_study([s.stow_slices] * s.stow_series, seed=5)
        big = data.ct_study([s.metadata_instances], seed=2)
        op_files = data.ct_study([s.cpu_ops + 1], seed=3).instances()
        share_files = data.tiny_studies(s.cpu_ops + 1, seed=4)
        r["stow"] = {k: [v] for k, v in self.phase(
            "STOW 1 client", lambda t: measure.stow(t, small.instances(), 1, s.stow_batch)).items()}
        for k, v in self.phase("STOW 4 clients", lambda t: measure.stow(t, small4.instances(), 4, s.stow_batch)).items():
            r["stow"][k].append(v)
        for k, v in self.phase("STOW metadata series, 4 clients",
                               lambda t: measure.stow(t, big.instances(), 4, s.big_batch)).items():
            r["stow"][k].append(v)

        series = next(iter(big.series))
        log(f"waiting at least {s.settle_seconds} s after the last STOW, as a viewer opening the series later"
            " would; Obelisk's event functions run until the renditions queue is empty")
        obelisk.reset_calls()
        settled = obelisk.run_functions(s.settle_seconds, s.settle_limit_seconds)
        r["phase_calls"]["event functions after the metadata series (renditions)"] = obelisk.calls()
        r["settle_seconds"], r["renditions_done"] = round(settled, 1), settled < s.settle_limit_seconds
        r["metadata"] = self.phase("series metadata",
                                   lambda t: measure.metadata(t, big.uid, series, s.metadata_repeats))
        sops = sop_uids(big.series[series])
        frame_paths = [f"/studies/{big.uid}/series/{series}/instances/{sop}/frames/1" for sop in sops]
        r["frames"] = self.phase("frames", lambda t: measure.frames(t, frame_paths, s.frame_requests,
                                                                    s.frame_concurrency))
        r["frame_answer"] = self.frame_answer(frame_paths[0])

        log("per-operation AWS calls and CPU")
        obelisk_bob = obelisk.stack.token("bob")
        Server("bob", obelisk.dicomweb, {"Authorization": f"Bearer {obelisk_bob}"}).get("/inboxinfo")
        for target in self.targets.values():
            target.server.stow(share_files)
        share_uids = [pydicom.dcmread(io.BytesIO(f), stop_before_pixels=True).StudyInstanceUID for f in share_files]
        r["ops"] = {name: self.operations(name, t, small, big, op_files, share_uids, frame_paths[0])
                    for name, t in self.both()}
        first_series = next(iter(small.series))

        r["qido"] = []
        loaded = 0
        for size in s.qido_sizes:
            visible = self.visible()
            need = max(0, size - visible["obelisk"])
            log(f"QIDO population: {visible} visible, loading {need} tiny studies into each server")
            files = data.tiny_studies(need, seed=100 + loaded)
            loaded += need
            row = {"target": size, "load_seconds": {}}
            for name, target in self.both():
                row["load_seconds"][name] = measure.load(target, files, s.load_concurrency, s.load_batch)
            row["visible"] = self.visible()
            for name, target in self.both():
                log(f"QIDO at {row['visible'][name]} studies: {name}")
                row[name] = measure.qido_studies(target, s.qido_repeats)
                row[name]["search"] = measure.qido_studies(target, s.search_repeats, PATIENT_SEARCH,
                                                           "QIDO studies, patient-name search")
            r["qido"].append(row)
            r["load"][f"QIDO {size}"] = machine.load()

        log("profiles of the API function's CPU")
        first_sop = sop_uids(small.series[first_series][:1])[0]
        subject = profile.Subject(obelisk.token, small.uid, first_series, first_sop,
                                  data.ct_study([2 * s.cpu_ops + 1], seed=6).instances())
        r["profiles"] = profile.run(obelisk.stack, subject, s.cpu_ops)

        log("cold start")
        r["coldstart"] = coldstart.measure(obelisk.stack.api_environment(), s.coldstart_runs)
        r["machine"]["load_at_end"] = machine.load()
        r["machine"]["busy_at_end"] = machine.busy_processes()
        r["stow_failures"] = {name: t.server.stow_failures for name, t in self.both()}
        r["scans"] = sorted({f"{where}: {k}" for where, calls in self.all_calls() for k in measure.scans(calls)})
        return r

    def frame_answer(self, path: str) -> dict:
        """What each server answers to a frame request, before any redirect is followed."""
        out = {}
        for name, target in self.both():
            response = target.server.get(path, redirects=False, headers={"Accept": FRAME_ACCEPT})
            out[name] = {"status": response.status_code, "content_type": response.headers.get("Content-Type"),
                         "location": (response.headers.get("Location") or "")[:80],
                         "content_encoding": response.headers.get("Content-Encoding")}
        return out

    def visible(self) -> dict[str, int]:
        obelisk = self.targets["obelisk"].server.get("/studies", params=OHIF_STUDY_LIST, headers=JSON)
        orthanc_root = self.targets["orthanc"].server.base.rsplit("/dicom-web", 1)[0]
        stats = self.targets["orthanc"].server.session().get(orthanc_root + "/statistics", timeout=60).json()
        return {"obelisk": int(obelisk.headers.get("X-Total-Count", 0)), "orthanc": int(stats["CountStudies"])}

    def operations(self, name: str, t: Target, small, big, op_files, share_uids, frame_path) -> list[dict]:
        n, srv = self.s.cpu_ops, t.server
        first_series = next(iter(small.series))
        big_series = next(iter(big.series))
        ops = [
            ("STOW 1 instance (512x512 CT)", lambda i: srv.stow([op_files[i + 1]])),
            ("QIDO studies (OHIF list)", lambda i: srv.get("/studies", params=OHIF_STUDY_LIST, headers=JSON)),
            ("QIDO series of a study", lambda i: srv.get(f"/studies/{small.uid}/series", headers=JSON)),
            ("QIDO instances of a series",
             lambda i: srv.get(f"/studies/{small.uid}/series/{first_series}/instances", headers=JSON)),
            (f"series metadata ({self.s.metadata_instances} instances)",
             lambda i: srv.get(f"/studies/{big.uid}/series/{big_series}/metadata", headers=JSON)),
            ("frame (function answer, redirect not followed)" if name == "obelisk" else "frame",
             lambda i: srv.get(frame_path, redirects=False, headers={"Accept": FRAME_ACCEPT})),
        ]
        if name == "obelisk":
            ops.append(("share a study with a user", lambda i: srv.session().put(
                f"{srv.base}/studies/{share_uids[i + 1]}/users/bob@example.org", params={"inbox": "true"},
                timeout=60).raise_for_status()))
        out = []
        for label, fn in ops:
            log(f"operation {label}: {name}")
            out.append(measure.operation(t, label, fn, n))
        return out

    def all_calls(self):
        yield from self.results["phase_calls"].items()
        for op in self.results["ops"]["obelisk"]:
            yield op["op"], op.get("calls", {})
        for row in self.results["qido"]:
            yield f"QIDO {row['target']}", row["obelisk"].get("calls", {})
            yield f"QIDO search {row['target']}", row["obelisk"].get("search", {}).get("calls", {})


def main() -> int:
    settings = Settings()
    install()
    orthanc, obelisk = Orthanc(SCRATCH / "orthanc"), Obelisk(SCRATCH / "obelisk")
    try:
        log(f"starting Orthanc ({version()}) and Obelisk (LocalStack)")
        orthanc.start()
        obelisk.start()
        results = Bench(settings).run(obelisk, orthanc)
    finally:
        orthanc.stop()
        obelisk.stop()
    report.write(results, RESULTS)
    log(f"results in {RESULTS}")
    if results["scans"]:
        print("FAIL: DynamoDB Scan on a request path: " + ", ".join(results["scans"]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

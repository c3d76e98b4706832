"""`python -m bench.search` (run by `make bench`): the study list and the searches OHIF and KHEOPS
clients send, Obelisk and Orthanc side by side at 100, 1,000 and 10,000 studies
(`BENCH_QIDO_SIZES`). Writes bench/results/search.{json,md} and search.png.

The same tiny one-instance studies (`bench.data`, one in ten MR) go to both servers: to Orthanc
over STOW, to Obelisk through its store layer (`store.listing.add` in one transaction per study,
with the study, series and share rows STOW writes): 10,000 studies over STOW would take longer
than the bench; the rows are those STOW writes (`tests/integration/test_search_cost.py` pins the
same costs for rows written either way)."""
from __future__ import annotations

import io
import json
import os
import random
import statistics
import sys
import time

import numpy as np
import pydicom

from bench import data, machine, measure
from bench.client import Server, batches, run_pool
from bench.config import RESULTS, SCRATCH, Settings
from bench.measure import JSON, Target
from bench.obelisk import Obelisk
from bench.orthanc import Orthanc, install, version
from bench.report import aws_ms, estimate_ms
from devstack.in_process import service_layer

BASE = "limit=101&offset=0&includefield=00081030%2C00080060"  # OHIF's list (its wildcards sent as is: see client.py)


def searches(population: list[dict]) -> dict[str, str]:
    """Query strings of the searches, chosen from the population so each has matches; only those
    whose label starts with one of `BENCH_QIDO_SEARCHES` (comma-separated) when it is set."""
    known = population[len(population) // 2]
    wanted = [w for w in os.environ.get("BENCH_QIDO_SEARCHES", "").split(",") if w]
    every = {
        "OHIF study list (no criteria)": BASE + "&fuzzymatching=false",
        "PatientName prefix (Rossi*)": BASE + "&fuzzymatching=false&PatientName=Rossi*",
        "OHIF name search (*ross*, fuzzy)": BASE + "&fuzzymatching=true&PatientName=*ross*",
        "PatientID (exact)": BASE + f"&fuzzymatching=false&PatientID={known['PatientID']}",
        "OHIF accession search (*...*)": BASE + f"&fuzzymatching=true&AccessionNumber=*{known['AccessionNumber'][3:9]}*",
        "StudyDate range (one month)": BASE + "&fuzzymatching=false&StudyDate=20200301-20200331",
        "ModalitiesInStudy=MR": BASE + "&fuzzymatching=false&ModalitiesInStudy=MR",
    }
    return {label: query for label, query in every.items() if not wanted or any(label.startswith(w) for w in wanted)}


def tiny_studies(count: int, seed: int) -> tuple[list[bytes], list[dict]]:
    """`count` one-instance 16x16 studies (`bench.data`), one in ten MR; and their searched values."""
    rng, nrng = random.Random(seed), np.random.default_rng(seed)
    files, values = [], []
    for _ in range(count):
        header = data.study_header(rng)
        dataset = pydicom.dcmread(io.BytesIO(data.instance(header, pydicom.uid.generate_uid(), 1, 0, 16, nrng)))
        if rng.random() < 0.1:
            dataset.Modality = "MR"
        buffer = io.BytesIO()
        dataset.save_as(buffer, enforce_file_format=True)
        files.append(buffer.getvalue())
        values.append({k: str(dataset.get(k, "")) for k in ("PatientName", "PatientID", "AccessionNumber", "StudyDate")})
    return files, values


def write_to_obelisk(obelisk: Obelisk, files: list[bytes]) -> float:
    """The studies into alice's inbox through the store layer, as STOW writes their rows."""
    start = time.perf_counter()
    with service_layer(obelisk.stack):
        from chalicelib import clock
        from chalicelib.dicom import json_model
        from chalicelib.store import listing
        from chalicelib.store.models import SeriesRecord, SeriesShare, StudyRecord, UserProfile, transact

        inbox = next(u.inbox_id for u in UserProfile.scan(UserProfile.sk == "PROFILE") if u.email.startswith("alice@"))
        moment = clock.local_iso()
        parsed = [pydicom.dcmread(io.BytesIO(f), stop_before_pixels=True) for f in files]
        with StudyRecord.batch_write() as studies, SeriesRecord.batch_write() as series, \
                SeriesShare.batch_write() as shares:
            for ds in parsed:
                study, serie, attributes = str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), json_model.to_json(ds)
                identity = json_model.subset(attributes, json_model.PATIENT_STUDY_KEYWORDS)
                studies.save(StudyRecord(*StudyRecord.key(study), study_uid=study, attributes=identity, created_at=moment))
                series.save(SeriesRecord(*SeriesRecord.key(study, serie), study_uid=study, series_uid=serie,
                                         attributes=json_model.subset(attributes, json_model.SERIES_KEYWORDS),
                                         study_attributes=identity, instance_count=1, generation="bench"))
                shares.save(SeriesShare(*SeriesShare.key(inbox, study, serie), album_id=inbox, study_uid=study,
                                        series_uid=serie, series_album=f"{serie}#{inbox}", added_at=moment))
        for ds in parsed:
            attributes = json_model.to_json(ds)
            with transact() as transaction:
                listing.add(transaction, inbox, str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID),
                            json_model.subset(attributes, json_model.PATIENT_STUDY_KEYWORDS), str(ds.Modality), True, 1)
    return time.perf_counter() - start


def one_search(target: Target, query: str, repeats: int) -> dict:
    def call(_):
        return target.server.get("/studies?" + query, headers=JSON)

    first = call(0)
    result = measure.operation(target, query, call, repeats)
    result["returned"] = len(first.json()) if first.status_code == 200 else 0
    result["total"] = first.headers.get("X-Total-Count")
    if target.calls:
        result["dynamodb_requests"] = sum(v for k, v in result["calls"].items() if k.startswith("dynamodb:"))
        result["aws_estimate_ms"] = estimate_ms(result)
    return result


def attempted(target: Target, query: str, repeats: int) -> dict:
    """`one_search`, or what went wrong (a search that times out on this machine: API Gateway's
    limit, 29 s, which `chalice local` enforces too)."""
    try:
        return one_search(target, query, repeats)
    except RuntimeError as error:
        return {"error": str(error)[:200]}


def run(settings: Settings) -> dict:
    install()
    orthanc, obelisk = Orthanc(SCRATCH / "orthanc-search"), Obelisk(SCRATCH / "obelisk-search")
    results: dict = {"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": machine.describe(),
                     "orthanc_version": version(), "sizes": []}
    try:
        orthanc.start()
        obelisk.start()
        targets = {"obelisk": Target(Server("obelisk", obelisk.dicomweb, {"Authorization": f"Bearer {obelisk.token}"}),
                                     obelisk.api_pid, obelisk.reset_calls, obelisk.calls, obelisk.emulator_pids,
                                     obelisk.timeline),
                   "orthanc": Target(Server("orthanc", orthanc.dicomweb), orthanc.pid)}
        targets["obelisk"].server.get("/studies", headers=JSON)  # alice's first request registers her
        population: list[dict] = []
        for size in settings.qido_sizes:
            files, values = tiny_studies(size - len(population), seed=1000 + len(population))
            population += values
            print(f"[search {time.strftime('%H:%M:%S')}] loading {len(files)} studies (now {len(population)})", flush=True)
            orthanc_s, _ = run_pool(batches(files, settings.load_batch), targets["orthanc"].server.stow,
                                    settings.load_concurrency)
            obelisk_s = write_to_obelisk(obelisk, files)
            row = {"studies": len(population), "load_seconds": {"orthanc (STOW)": orthanc_s, "obelisk (store layer)": obelisk_s},
                   "load": machine.load(), "searches": {}}
            for label, query in searches(population).items():
                row["searches"][label] = {name: attempted(t, query, settings.qido_repeats) for name, t in targets.items()}
                ob, orth = row["searches"][label]["obelisk"], row["searches"][label]["orthanc"]
                print(f"  {label}: obelisk {ob.get('error') or ob['p50_ms']} ms, {ob.get('dynamodb_requests')} "
                      f"DynamoDB requests, {ob.get('returned')} returned of {ob.get('total')}; orthanc "
                      f"{orth.get('error') or orth['p50_ms']} ms, {orth.get('returned')} returned", flush=True)
            results["sizes"].append(row)
            report(results)  # so far: a later size that fails keeps the earlier ones
    finally:
        orthanc.stop()
        obelisk.stop()
    return results


def failed(both: dict) -> str:
    """The cell of a search that did not complete: which server failed, and how."""
    return "; ".join(f"{name} failed ({result['error'].split(': ', 1)[-1][:40]})"
                     for name, result in both.items() if "error" in result)


def _value(both: dict, name: str, key: str) -> float:
    return float("nan") if "error" in both[name] else both[name][key]


NAME = os.environ.get("BENCH_QIDO_NAME", "search")  # bench/results/<NAME>.{json,md,png}


def report(results: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{NAME}.json").write_text(json.dumps(results, indent=1))
    sizes = [row["studies"] for row in results["sizes"]]
    labels = list(results["sizes"][0]["searches"])
    lines = [f"# Study searches, Obelisk vs Orthanc ({results['date']})", "",
             f"Orthanc: {results['orthanc_version']}. Machine: {results['machine']}.", "",
             "p50 over the repeats here (Obelisk on `chalice local` + the emulator); Obelisk/Orthanc ratio;"
             " DynamoDB requests per search; server CPU per search; estimate on AWS (the latencies"
             " of results.md along the requests' critical path, those sent at once counted once, + CPU); studies returned / matching (Obelisk's X-Total-Count).", ""]
    header = "| search | " + " | ".join(f"{n:,} studies" for n in sizes) + " |"
    for metric, cell in [
        ("p50 Obelisk / Orthanc ms (ratio)", lambda o, t: f"{o['p50_ms']:.0f} / {t['p50_ms']:.0f} ({o['p50_ms'] / t['p50_ms']:.2f})"),
        ("DynamoDB requests", lambda o, t: f"{o['dynamodb_requests']:g}"),
        ("AWS latency of the requests: critical path / one after the other ms",
         lambda o, t: f"{o.get('critical_path_ms', float('nan')):.0f} / {aws_ms(o['calls']):.0f}"),
        ("server CPU Obelisk / Orthanc ms", lambda o, t: f"{o['cpu_ms']:.0f} / {t['cpu_ms']:.0f}"),
        ("estimate on AWS ms (vs Orthanc p50 here)", lambda o, t: f"{o['aws_estimate_ms']:.0f} ({o['aws_estimate_ms'] / t['p50_ms']:.2f})"),
        ("returned / matching", lambda o, t: f"{o['returned']} / {o['total']} (Orthanc {t['returned']})"),
    ]:
        lines += [f"### {metric}", "", header, "|---|" + "---:|" * len(sizes)]
        for label in labels:
            cells = [failed(row["searches"][label]) or cell(row["searches"][label]["obelisk"], row["searches"][label]["orthanc"])
                     for row in results["sizes"]]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["Loading (seconds): " + "; ".join(f"{row['studies']:,}: {json.dumps({k: round(v, 1) for k, v in row['load_seconds'].items()})}"
                                                 for row in results["sizes"]), "",
              "Load average at each size: " + "; ".join(f"{row['studies']:,}: {row['load']}" for row in results["sizes"])]
    (RESULTS / f"{NAME}.md").write_text("\n".join(lines) + "\n")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for label in labels:
        axes[0].plot(sizes, [_value(row["searches"][label], "obelisk", "p50_ms") / _value(row["searches"][label], "orthanc", "p50_ms")
                             for row in results["sizes"]], marker="o", label=label)
        axes[1].plot(sizes, [_value(row["searches"][label], "obelisk", "dynamodb_requests") for row in results["sizes"]],
                     marker="o", label=label)
    axes[0].set(xscale="log", xlabel="studies visible", ylabel="p50 Obelisk / Orthanc", title="searches: p50 ratio here")
    axes[1].set(xscale="log", xlabel="studies visible", ylabel="DynamoDB requests", title="searches: DynamoDB requests")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(RESULTS / f"{NAME}.png", dpi=110)


def main() -> int:
    results = run(Settings())
    report(results)
    print(f"results in {RESULTS}/{NAME}.md")
    medians = [statistics.median([r["searches"][label]["obelisk"].get("dynamodb_requests", float("nan"))
                                  for label in r["searches"]])
               for r in results["sizes"]]
    print(f"median DynamoDB requests per search by size: {medians}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

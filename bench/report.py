"""bench/results/: results.json (raw), results.md (tables with ratios Obelisk/Orthanc), PNG plots."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

from bench.client import PATIENT_SEARCH

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# Typical published per-call latencies inside one AWS region (DynamoDB single-digit ms; S3 first
# byte tens of ms). Estimates assume the calls of one operation run one after the other, but
# where the emulator's timeline gives their critical path (`critical_path_ms`).
LATENCY_MS = {"dynamodb:GetItem": 5, "dynamodb:Query": 5, "dynamodb:BatchGetItem": 8, "dynamodb:PutItem": 8,
              "dynamodb:UpdateItem": 8, "dynamodb:DeleteItem": 8, "dynamodb:BatchWriteItem": 15,
              "dynamodb:TransactWriteItems": 15, "dynamodb:TransactGetItems": 10,
              "s3:PUT": 30, "s3:GET": 20, "s3:HEAD": 15, "s3:POST": 30, "s3:DELETE": 20,
              "sqs:SendMessage": 10, "sqs:SendMessageBatch": 12}
DEFAULT_MS = {"dynamodb": 5, "s3": 25, "sqs": 10}
REDIRECT_GET_MS = 20  # the client's presigned S3 GET after a 303 (first byte)


def latency_ms(operation: str) -> float:
    return LATENCY_MS.get(operation, DEFAULT_MS.get(operation.split(":")[0], 10))


def aws_ms(calls: dict) -> float:
    """The calls' assumed latencies, one after the other."""
    return sum(n * latency_ms(k) for k, n in calls.items())


def estimate_ms(result: dict) -> float:
    """An operation's estimate on AWS: its calls' assumed latencies along their critical path
    when the bench recorded it (else one after the other), plus its server CPU."""
    return result.get("critical_path_ms", aws_ms(result["calls"])) + result["cpu_ms"]


def critical_path_ms(timeline: list[list]) -> float:
    """The longest chain of the emulator's requests (`[operation, arrived, answered]`) in which
    each arrived after the one before was answered, weighted by the assumed latencies: what the
    caller waited for when it sent some at once. The emulator serves DynamoDB requests one at a
    time, so requests sent together can only look more sequential here than they are: never
    less."""
    requests = sorted(timeline, key=lambda r: r[1])
    longest: list[float] = []
    for j, (operation, arrived, _) in enumerate(requests):
        before = [longest[i] for i in range(j) if requests[i][2] <= arrived]
        longest.append(latency_ms(operation) + max(before, default=0.0))
    return max(longest, default=0.0)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


def fmt(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}" if v >= 1 else f"{v:.2f}"


def calls_text(calls: dict) -> str:
    return ", ".join(f"{k} {v:g}" for k, v in calls.items() if k.split(":")[0] in ("dynamodb", "s3", "sqs")) or "none"


def headline(r: dict) -> list[str]:
    rows = ["| measure | Obelisk | Orthanc | Obelisk/Orthanc | better |", "|---|---:|---:|---:|---|"]
    for ob, orth in zip(r["stow"]["obelisk"], r["stow"]["orthanc"], strict=True):
        rows.append(f"| STOW ingest, {ob['concurrency']} client(s), {ob['instances']} instances, "
                    f"{ob['batch']} per request, instances/s "
                    f"| {fmt(ob['instances_per_second'])} | {fmt(orth['instances_per_second'])} "
                    f"| {ratio(ob['instances_per_second'], orth['instances_per_second'])} | higher |")
    for row in r["qido"]:
        ob, orth, vis = row["obelisk"], row["orthanc"], row["visible"]
        for q in ("p50", "p95"):
            rows.append(f"| QIDO OHIF study list, {vis['obelisk']:,} studies visible ({vis['orthanc']:,} in Orthanc), "
                        f"{q} ms | {fmt(ob[q + '_ms'])} | {fmt(orth[q + '_ms'])} "
                        f"| {ratio(ob[q + '_ms'], orth[q + '_ms'])} | lower |")
    ob, orth = r["metadata"]["obelisk"], r["metadata"]["orthanc"]
    first = f"first request ({r['settle_seconds']} s after the last STOW)" if "settle_seconds" in r else "first request"
    if "renditions_done" in r:
        first = first[:-1] + (", the renditions function done)" if r["renditions_done"] else
                              ", the renditions function NOT done: the read built the series)")
    for key, label in (("first_ms", first), ("repeat_median_ms", "repeated (median)")):
        rows.append(f"| series metadata, {ob['instances']} instances, {label}, ms | {fmt(ob[key])} | {fmt(orth[key])} "
                    f"| {ratio(ob[key], orth[key])} | lower |")
    ob, orth = r["frames"]["obelisk"], r["frames"]["orthanc"]
    rows.append(f"| frames/s, {ob['concurrency']} in flight, {ob['requests']} requests | {fmt(ob['frames_per_second'])} "
                f"| {fmt(orth['frames_per_second'])} | {ratio(ob['frames_per_second'], orth['frames_per_second'])} "
                f"| higher |")
    return rows


def operations(r: dict) -> list[str]:
    rows = ["| operation | Obelisk p50 ms (local) | Orthanc p50 ms | Obelisk CPU ms | Orthanc CPU ms "
            "| CPU Obelisk/Orthanc | Obelisk AWS calls per operation | est. Obelisk on AWS, ms |",
            "|---|---:|---:|---:|---:|---:|---|---:|"]
    orthanc = {op["op"].split(" (function")[0]: op for op in r["ops"]["orthanc"]}
    for op in r["ops"]["obelisk"]:
        other = orthanc.get(op["op"].split(" (function")[0])
        redirect = REDIRECT_GET_MS if "redirect" in op["op"] else 0
        estimate = estimate_ms(op) + redirect
        rows.append(f"| {op['op']} | {fmt(op['p50_ms'])} | {fmt(other['p50_ms']) if other else 'n/a'} "
                    f"| {fmt(op['cpu_ms'])} | {fmt(other['cpu_ms']) if other else 'n/a'} "
                    f"| {ratio(op['cpu_ms'], other['cpu_ms']) if other else 'n/a'} | {calls_text(op['calls'])} "
                    f"| {fmt(estimate)}{' (+ S3 GET)' if redirect else ''} |")
    return rows


def qido_scaling(r: dict) -> list[str]:
    rows = ["| studies visible | Obelisk p50 / p95 ms | Orthanc p50 / p95 ms | Obelisk CPU ms | Orthanc CPU ms "
            "| emulator CPU ms (stands in for AWS) | Obelisk AWS calls per request | est. Obelisk on AWS, ms |",
            "|---:|---|---|---:|---:|---:|---|---:|"]
    for row in r["qido"]:
        ob, orth = row["obelisk"], row["orthanc"]
        rows.append(f"| {row['visible']['obelisk']:,} | {fmt(ob['p50_ms'])} / {fmt(ob['p95_ms'])} "
                    f"| {fmt(orth['p50_ms'])} / {fmt(orth['p95_ms'])} | {fmt(ob['cpu_ms'])} | {fmt(orth['cpu_ms'])} "
                    f"| {fmt(ob.get('emulator_cpu_ms', float('nan')))} "
                    f"| {calls_text(ob['calls'])} | {fmt(estimate_ms(ob))} |")
    return rows


def profiles(r: dict) -> list[str]:
    """The profiles (bench/profile.py): CPU per request, its causes and the busiest functions."""
    if not r.get("profiles"):
        return ["Not recorded by the bench version of this run."]
    served = {op["op"].split(" (")[0]: op["cpu_ms"] for op in r["ops"]["obelisk"]}
    if r["qido"]:  # the study list was profiled at the largest population
        served["QIDO studies"] = r["qido"][-1]["obelisk"]["cpu_ms"]
    n = r["profiles"][0]["n"]
    rows = [f"Each operation through Chalice's Lambda handler path in the bench process (the event a Lambda "
            f"gets; no HTTP server), after the QIDO population was loaded: {n} requests unprofiled for the CPU "
            f"figure, then {n} more under yappi (CPU clock, every thread) for the shares. \"Served\" is the API "
            "process's CPU for the same operation in the tables above; the difference is `chalice local`'s "
            "HTTP server, which API Gateway replaces on AWS. The profiler slows call-heavy code (botocore) "
            "more than the rest: the shares are indicative.", "",
            "| operation | CPU ms in the handler | CPU ms served | share of the handler's CPU by cause |",
            "|---|---:|---:|---|"]
    for p in r["profiles"]:
        causes = "; ".join(f"{name} {share:.0%}" for name, share in p["causes"].items() if share >= 0.01)
        rows.append(f"| {p['op']} | {fmt(p['cpu_ms'])} | {fmt(served.get(p['op'].split(' (')[0], float('nan')))} "
                    f"| {causes} |")
    rows += ["", "Functions with the most CPU of their own (share of the profiled CPU):", ""]
    for p in r["profiles"]:
        rows.append(f"- {p['op']}: " + "; ".join(f"`{name}` {share:.1%}" for name, share in p["top"][:6]))
    return rows


def search_scaling(r: dict) -> list[str]:
    if not all("search" in row["obelisk"] for row in r["qido"]):
        return ["Not recorded by the bench version of this run."]
    rows = ["| studies visible | studies returned | Obelisk p50 ms | Orthanc p50 ms | Obelisk/Orthanc "
            "| Obelisk CPU ms | Orthanc CPU ms | Obelisk AWS calls per request | est. Obelisk on AWS, ms |",
            "|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for row in r["qido"]:
        ob, orth = row["obelisk"]["search"], row["orthanc"]["search"]
        rows.append(f"| {row['visible']['obelisk']:,} | {ob['returned']} ({orth['returned']} in Orthanc) "
                    f"| {fmt(ob['p50_ms'])} | {fmt(orth['p50_ms'])} | {ratio(ob['p50_ms'], orth['p50_ms'])} "
                    f"| {fmt(ob['cpu_ms'])} | {fmt(orth['cpu_ms'])} | {calls_text(ob['calls'])} "
                    f"| {fmt(estimate_ms(ob))} |")
    return rows


def markdown(r: dict) -> str:
    m, c = r["machine"], r["coldstart"]
    sizes = ", ".join(f"{row['visible']['obelisk']:,}" for row in r["qido"])
    lines = [
        "# Obelisk vs Orthanc: bench results", "",
        f"- date: {r['date']}; mode: {'QUICK (smoke run, small counts)' if r['quick'] else 'full'}; "
        f"Obelisk commit {r['obelisk_commit']}; {r['orthanc_version']} with the DICOMweb plugin (Debian packages)",
        f"- machine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM, kernel {m['kernel']}, Python {m['python']}",
        f"- load average (1/5/15 min) at start {m['load_at_start']}, at end {m['load_at_end']}; "
        f"per phase: {json.dumps(r['load'])}",
        f"- busiest processes at start: {'; '.join(m['busy_at_start'])}",
        f"- QIDO populations actually run: {sizes} studies visible to alice",
        "- STOW answers 202 (some instances refused): " + "; ".join(
            f"{name} {len(v)} answers, {sum(x['failed'] for x in v)} instances, reasons {sorted({y for x in v for y in x['reasons']})}"
            for name, v in r["stow_failures"].items()) if "stow_failures" in r else
        "- STOW answers 202 (some instances refused): not recorded by the bench version of this run",
        "- same Python client (requests, one keep-alive session per thread) for both; Obelisk with alice's bearer "
        "token behind `chalice local` over the moto emulator; Orthanc on loopback without authentication",
        "", "## Side by side", "", *headline(r), "",
        "## Per operation: latency, server CPU, AWS calls", "",
        f"Sequential batches of {r['settings']['cpu_ops']} operations. CPU is utime+stime of the server process "
        "(Obelisk: the `chalice local` API process, i.e. what runs inside the Lambda; the emulator's own CPU is "
        "excluded as it stands in for AWS) divided by the batch size. AWS calls come from the emulator's counters. "
        "The estimate is the assumed latencies below along the calls' critical path (those sent at once counted once; the emulator's timeline), plus the measured CPU.", "",
        *operations(r), "",
        "## QIDO study list as the population grows", "", *qido_scaling(r), "",
        "## QIDO patient-name search as the population grows", "",
        f"OHIF's study list filtered by `{PATIENT_SEARCH.rsplit('&', 1)[1]}` (a prefix; about 1 study "
        f"in 10 matches), sequential batches of {r['settings'].get('search_repeats', '?')} after one warm-up.", "",
        *search_scaling(r), "",
        "## Where the API function's CPU goes (profiles)", "", *profiles(r), "",
        "## Cold start (Obelisk)", "",
        f"| fresh interpreter, median of {c['runs']} | ms |", "|---|---:|",
        f"| `python -c pass` | {fmt(c['python_ms'])} |", f"| `import chalice, boto3` | {fmt(c['chalice_boto3_ms'])} |",
        f"| `import app` | {fmt(c['app_ms'])} |", "",
        "Self import time per package (`-X importtime`, ms): "
        + ", ".join(f"{k} {v}" for k, v in c["slowest_imports_ms"]), "",
        "## What the servers answer for a frame", "", "```", json.dumps(r["frame_answer"], indent=2), "```", "",
        "## AWS calls per bench phase (Obelisk, whole phase)", "", "```", json.dumps(r["phase_calls"], indent=2),
        "```", "", "## Assumed AWS latencies (ms per call)", "",
        ", ".join(f"{k} {v}" for k, v in LATENCY_MS.items()) + f"; a client's presigned S3 GET {REDIRECT_GET_MS}.",
        "", f"DynamoDB Scan on a request path: {', '.join(r['scans']) or 'none'}.", "",
    ]
    return "\n".join(lines)


def plots(r: dict, out: Path) -> None:
    colors = {"obelisk": "tab:blue", "orthanc": "tab:orange"}
    fig, (ax, cpu) = plt.subplots(1, 2, figsize=(11, 4))
    for name in colors:
        xs = [row["visible"][name] for row in r["qido"]]
        ax.plot(xs, [row[name]["p50_ms"] for row in r["qido"]], "o-", color=colors[name], label=f"{name} p50")
        ax.plot(xs, [row[name]["p95_ms"] for row in r["qido"]], "x--", color=colors[name], label=f"{name} p95")
        cpu.plot(xs, [row[name]["cpu_ms"] for row in r["qido"]], "o-", color=colors[name], label=f"{name} server CPU")
    xs = [row["visible"]["obelisk"] for row in r["qido"]]
    cpu.plot(xs, [estimate_ms(row["obelisk"]) for row in r["qido"]], "s:",
             color=colors["obelisk"], label="obelisk est. on AWS")
    if all("emulator_cpu_ms" in row["obelisk"] for row in r["qido"]):
        cpu.plot(xs, [row["obelisk"]["emulator_cpu_ms"] for row in r["qido"]], "^--", color="tab:gray",
                 label="emulator CPU (stands in for AWS)")
    ax.set(xscale="log", yscale="log", xlabel="studies visible", ylabel="ms", title="QIDO OHIF study list, latency here")
    cpu.set(xscale="log", yscale="log", xlabel="studies visible", ylabel="ms per request",
            title="server CPU, emulator CPU, estimate on AWS")
    ax.legend()
    cpu.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(out / "qido.png", dpi=100)
    plt.close(fig)

    labels = [f"STOW {s['concurrency']}x{s['batch']}\ninstances/s" for s in r["stow"]["obelisk"]] + ["frames/s\n25 in flight"]
    fig, ax = plt.subplots(figsize=(6, 4))
    for k, name in enumerate(colors):
        values = [s["instances_per_second"] for s in r["stow"][name]] + [r["frames"][name]["frames_per_second"]]
        ax.bar([i + k * 0.4 for i in range(len(values))], values, 0.4, color=colors[name], label=name)
    ax.set_xticks([i + 0.2 for i in range(len(labels))], labels)
    ax.set(yscale="log", title="Throughput (log scale)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "throughput.png", dpi=100)
    plt.close(fig)

    ops = r["ops"]["obelisk"]
    orthanc = {op["op"].split(" (function")[0]: op["cpu_ms"] for op in r["ops"]["orthanc"]}
    fig, ax = plt.subplots(figsize=(7, 4))
    ys = range(len(ops))
    ax.barh([y - 0.2 for y in ys], [op["cpu_ms"] for op in ops], 0.4, color=colors["obelisk"], label="obelisk")
    ax.barh([y + 0.2 for y in ys], [orthanc.get(op["op"].split(" (function")[0], 0) for op in ops], 0.4,
            color=colors["orthanc"], label="orthanc")
    ax.set_yticks(list(ys), [op["op"].split(" (function")[0] for op in ops])
    ax.set(xscale="log", xlabel="server CPU ms per operation", title="Server CPU per operation")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "cpu_per_op.png", dpi=100)
    plt.close(fig)


def write(results: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    (out / "results.md").write_text(markdown(results))
    plots(results, out)

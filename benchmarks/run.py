"""`make bench`: dropswap's performance figures against its targets; prints them and writes REPORT.md.

Sections (each a function returning a dict; `python -m benchmarks.run --only cold,warm` runs a subset):
- cold:   import time of each handler on python3.13 from the layer as built, with and without its bytecode,
          vs `import boto3, requests` (benchmarks/cold_start.py);
- warm:   on the local stack (template.yaml on MiniStack; AKOOL emulator instant, engine passthrough;
          MiniStack's CloudTrail recording on): handler time, AWS calls and AKOOL calls per successful
          single-swap job; MiniStack's raw S3 put + DynamoDB put rate; 200 jobs at once (wall time, jobs/s,
          upload → report latency, function concurrency reached, CPU by process) vs the floor;
- memory: peak RSS growth while streaming a 50 MB result (benchmarks.stream_memory);
- size:   the arm64 layer as layers/dropswap/Makefile builds it for `sam build` (pinned closure from
          PyPI, package, python3.13 bytecode) and each function's code, zipped and unzipped;
- engine: the emulator's face engine (benchmarks.engine_bench);
- bigdrop: 1000 photos at once against AKOOL's account limits (benchmarks.big_drop, ~25 min), beside the
          design before the queue (benchmarks/big_drop_before.json) and the queued design as issue 10
          left it (benchmarks/big_drop_main.json).
Bounded: loopback only, fixed job counts, every wait has a timeout. A "## Soak" section written by
`make soak` is kept when REPORT.md is rewritten, and so are "## Big drop" and "## AWS cost per 1,000 jobs"
(priced from the warm figures, benchmarks/aws_cost.py) when this run skips their sections.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks import aws_cost, big_drop_report, cold_start, pipeline
from benchmarks.aws_calls import CallRecorder
from benchmarks.pipeline import FUNCTIONS, ROOT, CallCounts, Driver, JobSpec, ReportWatcher
from dropswap.domain.jobs import TERMINAL

SECTIONS = ("cold", "warm", "memory", "size", "engine", "bigdrop")
WARM_JOBS = 20
THROUGHPUT_JOBS = 200
AWS_CALLS_TARGET = 10
AKOOL_CALLS_TARGET = 3
THROUGHPUT_TARGET = 4.0  # wall time ≤ 4 × the floor
BIG_DROP_BEFORE = ROOT / "benchmarks" / "big_drop_before.json"
BIG_DROP_MAIN = ROOT / "benchmarks" / "big_drop_main.json"
BIG_DROP_AFTER = ROOT / "benchmarks" / "big_drop_after.json"
UPLOAD_THREADS = 8
# Template parameters of the bench's stacks: AKOOL pacing off, as the emulator's account limits are (see
# Driver.reset_emulator): these figures are the pipeline's own; benchmarks/big_drop.py measures the pacing.
# No credit budget either: the bench's hundreds of jobs would outrun the template's default.
BENCH_PARAMETERS = {
    "AkoolMaxJobsInFlight": "0", "AkoolMaxRequestsPerSecond": "0", "AkoolCreditBudgetPerDay": "0",
}
# SubmitFunction's concurrency (the SubmitQueue event source's MaximumConcurrency) in the throughput runs,
# one fresh stack each: the template's default, then more.
SUBMIT_CONCURRENCY = (2, 8)
JOB_TIMEOUT = 600.0
# The functions a job itself invokes (ReconcileFunction runs on its schedule, not per job).
PER_JOB_FUNCTIONS = ("SubmitFunction", "WebhookFunction", "FinaliseFunction")
# Function folders (functions/<short>) whose packages the size section measures.
HANDLERS = {"submit": "SubmitFunction", "webhook": "WebhookFunction", "finalise": "FinaliseFunction",
            "reconcile": "ReconcileFunction"}

# What one successful single-swap job (target "largest", one S3 source already uploaded) needs, by the
# design: (function, what, calls). The floor of the contract itself is smaller; see REPORT.md.
DESIGN_MINIMUM: list[tuple[str, str, int]] = [
    ("SubmitFunction", "image event: GET its sidecar and its folder's manifest (both absent yet), "
                       "waiting-for Query", 3),
    ("SubmitFunction", "sidecar event: GET sidecar (content + version), GetItem (dedupe)", 2),
    ("SubmitFunction", "HEAD image + HEAD source (exist, size)", 2),
    ("SubmitFunction", "ranged GETs of image + source: first 64 KiB, last 4 KiB (type, pixels, end)", 4),
    ("SubmitFunction", "CopyObject image + source to staging/ (pinned to the checked ETag)", 2),
    ("SubmitFunction", "claim (conditional UpdateItem) + SUBMITTED (UpdateItem)", 2),
    ("SubmitFunction", "detections: the face's looked up in the cache of source versions (GetItem, a miss) "
                       "and kept there (UpdateItem), the job's kept on its record (UpdateItem)", 3),
    ("SubmitFunction", "webhook token armed before the swap is sent (UpdateItem: a callback may outrun "
                       "SUBMITTED)", 1),
    ("SubmitFunction", "live report: QUEUED and PROCESSING (a PUT each, each with the free DELETE of an "
                       "older swapped image), HEAD sidecar + HEAD photo before PROCESSING, PutEvents "
                       "(Job Submitted)", 7),
    ("WebhookFunction", "status 2 callback: GetItem (token) + SendMessage (FinaliseQueue)", 2),
    ("WebhookFunction", "status 3 callback: GetItem + AKOOL slot release (UpdateItem) + SendMessage", 3),
    ("FinaliseFunction", "status 2 message: GetItem + PROCESSING (UpdateItem)", 2),
    ("FinaliseFunction", "status 3 message: GetItem + AKOOL slot release again + lease (UpdateItem ×2)", 3),
    ("FinaliseFunction", "HEAD sidecar + HEAD photo: still the photo's latest job (latest.py)", 2),
    ("FinaliseFunction", "PUT result + PUT report + PutEvents (its event) + SUCCEEDED (UpdateItem)", 4),
]
AKOOL_MINIMUM = {"largest": 3, "index": 3}  # detect_faces (always: no face, no swap) + submit + result


# -- the local stack: warm cost, raw MiniStack rate, throughput ------------------------------------------
def _photos() -> tuple[bytes, bytes]:
    from devkit import photos

    return photos.jpeg_bytes(photos.astronaut_bgr()), photos.jpeg_bytes(photos.grace_hopper_bgr())


def _job(prefix: str, name: str, target: Any = "largest") -> JobSpec:
    return JobSpec(f"inbox/{prefix}{name}.jpg",
                   {"version": 1, "swaps": [{"source": "faces/hopper.jpg", "target": target}]})


def _per_job(counts: CallCounts, n: int) -> dict[str, Any]:
    per_job = {k: v for k, v in counts.by_function().items() if k in PER_JOB_FUNCTIONS}
    by_op: Counter[str] = Counter()
    for call, k in counts.aws.items():
        if call.caller in FUNCTIONS:
            by_op[f"{call.caller.removesuffix('Function')} {call.service}:{call.operation}"] += k
    return {
        "aws_calls_by_operation_per_job": {k: round(v / n, 2) for k, v in sorted(by_op.items())},
        "aws_calls_per_job": round(sum(per_job.values()) / n, 2),
        "aws_calls_by_function_per_job": {k: round(v / n, 2)
                                          for k, v in sorted(counts.by_function().items())},
        "akool_calls_per_job": round(counts.akool_total() / n, 2),
    }


def _delta(after: dict[str, Any], before: dict[str, Any], digits: int = 1) -> dict[str, Any]:
    return {k: round(after[k] - before.get(k, 0), digits) for k in after}


def _sequential_jobs(d: Driver, rec: CallRecorder, prefix: str, label: str, n: int, target: Any,
                     image: bytes) -> dict[str, Any]:
    """n jobs one after another (image, its event handled, then the sidecar): per-job calls and time."""
    d.wait_idle()
    d.reset_emulator()
    mark = rec.mark()
    since = time.time()
    statuses: Counter[str] = Counter()
    for i in range(n):
        job = _job(prefix, f"{label}-{i:03d}", target)
        submitted = d.invocations(since)["SubmitFunction"]
        d.put(job.image_key, image)
        d.wait_invocations("SubmitFunction", submitted + 1, since)
        d.put_sidecar(job)
        deadline = time.monotonic() + 60
        report = None
        while time.monotonic() < deadline:
            report = d.read_json(job.report_key)
            if report is not None and report.get("status") in TERMINAL:
                break  # a report exists from the job's first moment (QUEUED): wait for its end
            time.sleep(0.05)
        statuses[str(report["status"]) if report else "TIMEOUT"] += 1
        d.wait_idle(settle=0.5)  # the SUCCEEDED write, late or retried callbacks
    counts = CallCounts(rec.calls(mark), pipeline.akool_counts(d.akool_requests()))
    stats = d.invocation_stats(since)
    return {
        "jobs": n,
        "target": target,
        "statuses": dict(statuses),
        **_per_job(counts, n),
        "akool_calls_by_kind_per_job": {k: round(v / n, 2) for k, v in sorted(counts.akool.items())},
        "handler_ms_per_job": {name: round(stats[name].duration_ms / n, 1) for name in FUNCTIONS},
        "invocations_per_job": {name: round(stats[name].count / n, 2) for name in FUNCTIONS},
    }


def _raw_rate(d: Driver, ops: int = 600, threads: tuple[int, ...] = (1, 4)) -> dict[str, Any]:
    """S3 PutObject + DynamoDB PutItem against MiniStack (TLS, IAM on), alternating, small payloads."""
    ddb = d.stack.client("dynamodb")
    table = f"bench-raw-rate-{uuid.uuid4().hex[:6]}"
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}])
    body = os.urandom(2048)
    out: dict[str, Any] = {}
    for n_threads in threads:
        clients = [(d.stack.client("s3"), d.stack.client("dynamodb")) for _ in range(n_threads)]

        def work(i: int, n_threads: int = n_threads, clients: Any = clients) -> None:
            s3, db = clients[i % n_threads]
            for j in range(i, ops, n_threads):
                if j % 2 == 0:  # outside inbox/: no S3 event
                    s3.put_object(Bucket=d.bucket, Key=f"bench-raw/{n_threads}/{j}", Body=body)
                else:
                    db.put_item(TableName=table, Item={"k": {"S": f"{n_threads}-{j}"}, "v": {"S": "x" * 200}})

        for s3, db in clients:  # connections and credentials set up outside the timing
            s3.head_bucket(Bucket=d.bucket)
            db.describe_table(TableName=table)
        started = time.perf_counter()
        with ThreadPoolExecutor(n_threads) as pool:
            list(pool.map(work, range(n_threads)))
        seconds = time.perf_counter() - started
        out[f"{n_threads}_thread"] = round(ops / seconds, 1)
    ddb.delete_table(TableName=table)
    out["ops"] = ops
    out["best_ops_per_s"] = max(v for k, v in out.items() if k.endswith("_thread"))
    return out


def _throughput(d: Driver, rec: CallRecorder, prefix: str, n: int, image: bytes) -> dict[str, Any]:
    """n jobs dropped at once (UPLOAD_THREADS uploaders, image then sidecar per job)."""
    d.wait_idle()
    d.reset_emulator()
    workers0 = d.workers()
    mark = rec.mark()
    since, cpu0, load0 = time.time(), d.cpu_seconds(), os.getloadavg()[0]
    jobs = [_job(prefix, f"load-{i:03d}") for i in range(n)]

    def drop(job: JobSpec) -> None:
        d.put(job.image_key, image)
        d.put_sidecar(job)

    with ReportWatcher(d, "results/" + prefix + "load-") as watcher:
        started = time.monotonic()
        with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
            list(pool.map(drop, jobs))
        uploaded = time.monotonic() - started
        done = watcher.wait_for([j.report_key for j in jobs], timeout=JOB_TIMEOUT)
        finished = max(watcher.seen.values()) if watcher.seen else time.monotonic()
    wall = finished - started
    cpu = _delta(d.cpu_seconds(), cpu0)
    workers1 = d.workers()
    d.wait_idle(timeout=120, settle=0.5)
    statuses = Counter(str((d.read_json(j.report_key) or {}).get("status", "MISSING")) for j in jobs)
    latencies = [watcher.seen[j.report_key] - j.uploaded_at for j in jobs if j.report_key in watcher.seen]
    stats = d.invocation_stats(since)
    counts = CallCounts(rec.calls(mark), pipeline.akool_counts(d.akool_requests()))
    submissions = Counter(pipeline.webhook_job_id(e) for e in d.akool_requests()
                          if e.get("path") in pipeline.SUBMIT_PATHS and e.get("code") == 1000)
    other: Counter[str] = Counter()
    for call, k in counts.aws.items():
        if call.caller not in FUNCTIONS:
            other[call.caller] += k
    return {
        "jobs": n,
        "all_reports": done,
        "statuses": dict(statuses),
        "upload_seconds": round(uploaded, 2),
        "wall_seconds": round(wall, 2),
        "jobs_per_second": round(n / wall, 2),
        "latency_p50_s": round(pipeline.percentile(latencies, 0.5), 2),
        "latency_p95_s": round(pipeline.percentile(latencies, 0.95), 2),
        "latency_max_s": round(max(latencies), 2) if latencies else None,
        **_per_job(counts, n),
        "other_calls_per_job": {k: round(v / n, 2) for k, v in sorted(other.items())},
        "akool_calls_by_kind": dict(sorted(counts.akool.items())),
        "submissions_per_job": dict(Counter(submissions.values())),
        "handler_ms_per_job": {k: round(v.duration_ms / n, 1) for k, v in stats.items()},
        "invocations": {k: v.count for k, v in stats.items()},
        "function_errors": {k: v.errors for k, v in stats.items()},
        "dead_letters": d.queue_depths(pipeline.DEAD_LETTER_QUEUES),
        "workers_before": workers0,
        "workers_after": workers1,
        "cpu_seconds": cpu,
        # The machine is shared: other processes' load shows here (1-minute load average, 2 cores).
        "load_average": [round(load0, 1), round(os.getloadavg()[0], 1)],
    }


def warm(jobs: int = WARM_JOBS, load: int = THROUGHPUT_JOBS) -> dict[str, Any]:
    """Per-job cost in the first stack; then the throughput run once per SUBMIT_CONCURRENCY, each in a
    fresh stack (the value is a deploy parameter)."""
    from local.stack import LocalStack, StackConfig

    astronaut, hopper = _photos()
    out: dict[str, Any] = {"throughput_runs": []}
    for concurrency in SUBMIT_CONCURRENCY:
        with tempfile.TemporaryDirectory(prefix="dropswap-bench-") as state:
            config = StackConfig(mode="instant", engine="passthrough", record_aws_requests=True,
                                 state_dir=Path(state),
                                 parameters={**BENCH_PARAMETERS, "SubmitConcurrency": str(concurrency)})
            with LocalStack(config) as stack:
                d = Driver(stack)
                rec = CallRecorder(stack)
                prefix = pipeline.new_prefix("bench")
                d.put(f"inbox/{prefix}faces/hopper.jpg", hopper)
                # Warm-up: a worker per function imports, connects and reads the secret (not measured).
                _sequential_jobs(d, rec, prefix, "warmup", 4, "largest", astronaut)
                if "single" not in out:
                    out["single"] = _sequential_jobs(d, rec, prefix, "largest", jobs, "largest", astronaut)
                    out["indexed"] = _sequential_jobs(d, rec, prefix, "index", max(4, jobs // 4), 0,
                                                      astronaut)
                d.wait_idle()
                raw = _raw_rate(d)
                run = _throughput(d, rec, prefix, load, astronaut)
                out["account_concurrency"] = d.account_concurrency()
        floor = run["aws_calls_per_job"] * load / raw["best_ops_per_s"]
        run.update(submit_concurrency=concurrency, raw_rate=raw, raw_ops_per_s=raw["best_ops_per_s"],
                   floor_seconds=round(floor, 2), wall_over_floor=round(run["wall_seconds"] / floor, 2),
                   target_over_floor=THROUGHPUT_TARGET)
        out["throughput_runs"].append(run)
    return out


# -- package sizes -------------------------------------------------------------------------------------
def _tree_size(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def _zip_size(src: Path, arc_root: str, dest: Path) -> int:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for p in sorted(src.rglob("*")):
            if p.is_file():
                zf.write(p, str(Path(arc_root) / p.relative_to(src)))
    return dest.stat().st_size


def _copy_clean(src: Path, dest: Path) -> None:
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def sizes() -> dict[str, Any]:
    """The arm64 layer as `sam build` makes it (layers/dropswap/Makefile: the hash-pinned closure for
    aarch64 plus python3.13 bytecode) and each function's code, zipped and unzipped."""
    from local.deploy import LAYER_DIR
    from local.ministack import VENV_PYTHON

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="dropswap-size-") as tmp:
        root = Path(tmp)
        layer = root / "layer" / "python"  # Lambda puts a Python layer's python/ on sys.path
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        cmd = ["make", "--no-print-directory", "-C", str(LAYER_DIR), "build-SharedLayer",
               f"ARTIFACTS_DIR={root / 'layer'}", f"PYTHON={VENV_PYTHON}", "PIP_ARCH=aarch64"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False, env=env)
        if proc.returncode != 0:
            out["layer_error"] = (proc.stdout + proc.stderr).strip()[-1500:]
            return out
        pkg_unzipped, _ = _tree_size(layer / "dropswap")
        bytecode = sum(f.stat().st_size for f in layer.rglob("*.pyc"))
        unzipped, files = _tree_size(layer)
        deps_unzipped = unzipped - pkg_unzipped
        zipped = _zip_size(root / "layer", "", root / "layer.zip")
        parts: dict[str, int] = {}
        for child in layer.iterdir():
            name = child.name.split("-")[0] if child.name.endswith((".dist-info", ".libs")) else child.name
            size = _tree_size(child)[0] if child.is_dir() else child.stat().st_size
            parts[name] = parts.get(name, 0) + size
        out["layer"] = {
            "zipped_bytes": zipped, "unzipped_bytes": unzipped, "files": files,
            "dropswap_package_bytes": pkg_unzipped, "requirements_bytes": deps_unzipped,
            "bytecode_bytes": bytecode,
            "largest_parts": dict(sorted(parts.items(), key=lambda kv: -kv[1])[:6]),
            "botocore_packaged": any(p.name.startswith(("botocore", "boto3")) for p in layer.iterdir()),
        }
        functions: dict[str, Any] = {}
        for short in HANDLERS:
            code = root / "fn" / short
            _copy_clean(ROOT / "functions" / short, code)
            raw, _ = _tree_size(code)
            zipped_fn = _zip_size(code, "", root / f"{short}.zip")
            functions[short] = {"zipped_bytes": zipped_fn, "unzipped_bytes": raw}
        out["functions"] = functions
    out["limits"] = {"unzipped_bytes": 250 * 1024 * 1024, "zipped_direct_upload_bytes": 50 * 1024 * 1024}
    return out


# -- REPORT.md -----------------------------------------------------------------------------------------
def _kib(n: int) -> str:
    return f"{n / 1024:.1f} KiB" if n < 1024 * 1024 else f"{n / 2**20:.2f} MiB"


def _ok(flag: bool) -> str:
    return "met" if flag else "**missed**"


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = ["# dropswap benchmark report", "",
             f"Written by `make bench` (`python -m benchmarks.run`). Machine: {pipeline.machine_line(m)}.",
             "Timings are of this machine and this run; they are reported here, never asserted in tests.", ""]
    lines += ["## Summary", "", "| target | measured | |", "|---|---|---|"]
    summary_at = len(lines)
    rows: list[str] = []

    cold = results.get("cold")
    body: list[str] = []
    if cold:
        rows.append(cold_start.summary_row(cold))
        body += cold_start.markdown(cold).splitlines()

    w = results.get("warm")
    if w:
        s, ix = w["single"], w["indexed"]
        t = min(w["throughput_runs"], key=lambda r: r["wall_seconds"])  # the faster run
        minimum = sum(n for _, _, n in DESIGN_MINIMUM)
        rows.append(f"| AWS calls per single-swap job ≤ {AWS_CALLS_TARGET} | {s['aws_calls_per_job']} "
                    f"(design minimum {minimum}; {t['aws_calls_per_job']} under load) | "
                    f"{_ok(s['aws_calls_per_job'] <= AWS_CALLS_TARGET)} |")
        akool_worst = max(s["akool_calls_per_job"], ix["akool_calls_per_job"])
        rows.append(f"| AKOOL calls per single-swap job ≤ {AKOOL_CALLS_TARGET} | {s['akool_calls_per_job']} "
                    f"(largest face), {ix['akool_calls_per_job']} (face by index) | "
                    f"{_ok(akool_worst <= AKOOL_CALLS_TARGET)} |")
        costs = aws_costs(w)
        rows.append(aws_cost.summary_row(costs))
        rows.append(f"| {t['jobs']} jobs ≤ {THROUGHPUT_TARGET}× floor | {t['wall_seconds']} s = "
                    f"{t['wall_over_floor']}× the {t['floor_seconds']} s MiniStack floor "
                    f"({t['jobs_per_second']} jobs/s, SubmitFunction concurrency "
                    f"{t['submit_concurrency']}, p50/p95 "
                    f"{t['latency_p50_s']}/{t['latency_p95_s']} s) | "
                    f"{_ok(t['wall_over_floor'] <= THROUGHPUT_TARGET)} |")
        if body and body[-1]:
            body.append("")
        body += ["## Warm cost per job", "",
                 "Local stack: template.yaml deployed to MiniStack (IAM enforced, TLS), each function a warm "
                 "python3.13 worker under its own role; AKOOL emulator in instant mode, engine passthrough, "
                 "account limits off (benchmarks/big_drop.py measures them); "
                 "one job at a time (image uploaded and its event handled, then the sidecar), after a "
                 "warm-up. AWS calls are MiniStack's CloudTrail events, attributed to a function by the "
                 "access key MiniStack derives from its function and role ARNs (benchmarks/aws_calls.py); "
                 "per job = SubmitFunction + WebhookFunction (the scheduled ReconcileFunction is listed "
                 "apart). AKOOL calls are the emulator's request log. Handler ms = the Duration of each "
                 "invocation's REPORT line in its CloudWatch log (as MiniStack times it, the round trip to "
                 "its worker included).",
                 "",
                 "| | target largest face | target by index |", "|---|---|---|",
                 f"| jobs (statuses) | {s['jobs']} {s['statuses']} | {ix['jobs']} {ix['statuses']} |"]
        for name in FUNCTIONS:
            body.append(f"| {name} ms per job | {s['handler_ms_per_job'][name]} | "
                        f"{ix['handler_ms_per_job'][name]} |")
        body += [f"| invocations per job | {s['invocations_per_job']} | {ix['invocations_per_job']} |",
                 f"| AWS calls per job | {s['aws_calls_per_job']} {s['aws_calls_by_function_per_job']} | "
                 f"{ix['aws_calls_per_job']} {ix['aws_calls_by_function_per_job']} |",
                 f"| AKOOL calls per job | {s['akool_calls_per_job']} {s['akool_calls_by_kind_per_job']} | "
                 f"{ix['akool_calls_per_job']} {ix['akool_calls_by_kind_per_job']} |", "",
                 "AWS calls per job by operation (target largest face; CloudTrail's S3 event names):", "",
                 "| function operation | per job |", "|---|---|"]
        body += [f"| {k} | {v} |" for k, v in s["aws_calls_by_operation_per_job"].items()]
        body += ["", f"The design's minimum for this job ({minimum} calls), step by step:", "",
                 "| function | step | calls |", "|---|---|---|"]
        body += [f"| {f} | {what} | {n} |" for f, what, n in DESIGN_MINIMUM]
        body += ["", results.get("calls_note", ""), ""]
        body += [*aws_cost.markdown(costs).splitlines(), ""]
        runs = w["throughput_runs"]
        body += ["## Throughput", "",
                 f"{t['jobs']} single-swap jobs dropped at once ({UPLOAD_THREADS} uploader threads; image "
                 "then sidecar per job) into the local stack (instant, passthrough; AKOOL pacing and the "
                 "emulator's account limits off), once per SubmitFunction concurrency (the SubmitQueue "
                 "event source's MaximumConcurrency, a template parameter), each in a fresh stack after a "
                 "4-job warm-up. Latency = sidecar upload done → its report listed (polled every 0.2 s "
                 "with one LIST); with all jobs dropped within seconds it is mostly time queued behind the "
                 "others. The floor is the jobs' function AWS calls at the raw rate MiniStack served in the "
                 "same stack just before.", "",
                 "| SubmitFunction concurrency | " + " | ".join(str(r["submit_concurrency"]) for r in runs)
                 + " |",
                 "|---|" + "---|" * len(runs)]

        def row(label: str, fmt: Any) -> None:
            body.append(f"| {label} | " + " | ".join(str(fmt(r)) for r in runs) + " |")

        def per_function(values: dict[str, Any]) -> str:
            return ", ".join(f"{k.removesuffix('Function')} {values[k]}" for k in FUNCTIONS)

        row("statuses", lambda r: r["statuses"])
        row("accepted AKOOL submissions per job", lambda r: r["submissions_per_job"])
        row("upload time", lambda r: f"{r['upload_seconds']} s")
        row("**wall time** (first upload → last report)", lambda r: f"**{r['wall_seconds']} s**")
        row("jobs/s", lambda r: r["jobs_per_second"])
        row("latency p50 / p95 / max", lambda r: f"{r['latency_p50_s']} / {r['latency_p95_s']} / "
            f"{r['latency_max_s']} s")
        row("worker processes before → after the run (MiniStack starts one per invocation that finds "
            "the function's workers busy; queue-fed functions are capped by their event source, "
            f"FinaliseFunction at 10; account limit {w['account_concurrency']})",
            lambda r: ", ".join(f"{k.removesuffix('Function')} {r['workers_before'][k]} → "
                                f"{r['workers_after'][k]}" for k in FUNCTIONS))
        row("invocations", lambda r: per_function(r["invocations"]))
        row("invocations that raised", lambda r: per_function(r["function_errors"]))
        row("dead-letter queue messages", lambda r: r["dead_letters"])
        row("AWS calls per job (functions)", lambda r: f"{r['aws_calls_per_job']} "
            f"{r['aws_calls_by_function_per_job']}")
        row("other AWS requests per job (admin: uploads, report polling, log tail, log and /proc polls "
            "between runs; presigned: AKOOL fetching inputs)", lambda r: r["other_calls_per_job"])
        row("AKOOL calls", lambda r: r["akool_calls_by_kind"])
        row("handler ms per job (MiniStack's Duration)", lambda r: per_function(r["handler_ms_per_job"]))
        row("CPU s: MiniStack server / function workers / this process (driver + AKOOL emulator)",
            lambda r: f"{r['cpu_seconds']['ministack']} / {r['cpu_seconds']['function_workers']} / "
            f"{r['cpu_seconds']['driver_and_emulator']}")
        row("machine load average (1 min) at start / end of the run",
            lambda r: f"{r['load_average'][0]} / {r['load_average'][1]}")
        row("raw MiniStack rate (S3 PutObject + DynamoDB PutItem, 2 KiB; 1 / 4 threads; TLS, IAM "
            "evaluated, CloudTrail recording on)",
            lambda r: f"{r['raw_rate']['1_thread']} / {r['raw_rate']['4_thread']} ops/s")
        row("floor = calls/job × jobs ÷ raw rate", lambda r: f"{r['floor_seconds']} s")
        row(f"**wall ÷ floor** (target ≤ {THROUGHPUT_TARGET})", lambda r: f"**{r['wall_over_floor']}**")
        body += ["", results.get("throughput_note", ""), ""]

    mem = results.get("memory")
    if mem:
        rows.append(f"| peak RSS growth streaming 50 MB ≤ 10% | {mem['growth_ratio'] * 100:.1f}% "
                    f"({_kib(mem['peak_rss_growth_bytes'])}) | {_ok(mem['within_target'])} |")
        body += ["## Memory", "",
                 "A 50 MiB result streamed through the finaliser (HttpResultFetcher → temp file → "
                 "ObjectStore.put_file → report → SUCCEEDED) in a fresh process against a moto server "
                 "(benchmarks/stream_memory.py).", "",
                 "| | |", "|---|---|",
                 f"| stored | {_kib(mem['stored_bytes'])} in {mem['seconds']} s ({mem['action']}) |",
                 f"| RSS before / peak | {_kib(mem['rss_before_bytes'])} / {_kib(mem['peak_rss_bytes'])} |",
                 f"| peak growth | {_kib(mem['peak_rss_growth_bytes'])} = {mem['growth_ratio'] * 100:.2f}% "
                 f"of the result (target ≤ {mem['target_ratio'] * 100:.0f}%) |",
                 f"| one-time set-up on the first (1 MiB) result | {_kib(mem['warmup_growth_bytes'])} |",
                 f"| peak counter reset | {mem['peak_reset']} |", ""]

    sz = results.get("size")
    if sz:
        body += ["## Package and layer size", ""]
        if "layer" in sz:
            ly = sz["layer"]
            fits = ly["unzipped_bytes"] < sz["limits"]["unzipped_bytes"]
            rows.append(f"| layer (Lambda limit 250 MiB unzipped) | {_kib(ly['unzipped_bytes'])} unzipped, "
                        f"{_kib(ly['zipped_bytes'])} zipped | {_ok(fits)} |")
            body += ["The layer as `sam build` makes it for arm64: `make -C layers/dropswap "
                     "build-SharedLayer PIP_ARCH=aarch64` (the hash-pinned closure of requirements.txt "
                     "for aarch64 from PyPI, the `dropswap` package, python3.13 bytecode), under `python/`, "
                     "zipped with deflate level 6. Function code as in the checkout, without bytecode.", "",
                     "| | unzipped | zipped |", "|---|---|---|",
                     f"| layer ({ly['files']} files) | {_kib(ly['unzipped_bytes'])} | "
                     f"{_kib(ly['zipped_bytes'])} |",
                     f"| of which the dropswap package | {_kib(ly['dropswap_package_bytes'])} | |",
                     f"| of which the requirements | {_kib(ly['requirements_bytes'])} | |",
                     f"| of which bytecode (.pyc, both parts) | {_kib(ly['bytecode_bytes'])} | |"]
            for short, f in sz["functions"].items():
                body.append(f"| function {short} code | {_kib(f['unzipped_bytes'])} | "
                            f"{_kib(f['zipped_bytes'])} |")
            body += ["", "Largest parts of the layer: "
                     + ", ".join(f"{k} {_kib(v)}" for k, v in ly["largest_parts"].items())
                     + f". boto3/botocore packaged: {ly['botocore_packaged']} (the runtime provides them).",
                     ""]
        else:
            body += [f"Could not build the layer: `{sz.get('layer_error', '?')}`", ""]

    eng = results.get("engine")
    if eng:
        body += ["## Emulator face engine", "",
                 f"benchmarks/engine_bench.py, median of {eng['runs']} runs; first detection incl. model "
                 f"load {eng['first_detect_ms']} ms.", "",
                 "| size | detect ms | swap ms | target face px |", "|---|---|---|---|"]
        for key in eng["detect_ms"]:
            body.append(f"| {key} | {eng['detect_ms'][key]} | {eng['swap_ms'][key]} | "
                        f"{eng['faces_px'][key]['target_width']} |")
        body += ["", f"Identity (dlib distance, < 0.6 ≈ same person; source vs target before the swap "
                 f"{eng['identity_baseline_source_vs_target']}):", "",
                 "| swap | to source | to target |", "|---|---|---|"]
        body += [f"| {k} | {v['to_source']} | {v['to_target']} |" for k, v in eng["identity"].items()]
        body.append("")

    big = results.get("bigdrop")
    if big:
        rows += big_drop_summary_rows(big)
        body += [*big_drop_report.comparison(_big_drop_before(), big, _big_drop_main()).splitlines(), ""]
    elif (kept_drop := _big_drop_after()) is not None:
        # Not rerun: the kept "## Big drop" section's figures, said to be of their own run.
        when = (f"not rerun: as measured {str(kept_drop.get('started', '?'))[:10]} on "
                f"{str(kept_drop.get('commit', '?'))[:7]}")
        rows += [r.replace(" | ", f" ({when}) | ", 1) for r in big_drop_summary_rows(kept_drop)]

    lines[summary_at:summary_at] = rows
    lines += ["", *body]
    return "\n".join(lines).rstrip("\n") + "\n"


def aws_costs(w: dict[str, Any]) -> dict[str, aws_cost.CostBreakdown]:
    """The warm section's per-job figures priced (benchmarks/aws_cost.py), with each function's memory as
    template.yaml sets it."""
    from devkit.template import functions, load_template

    memory = {name: int(props["MemorySize"]) for name, props in functions(load_template()).items()}
    return {label: aws_cost.cost_per_1000_jobs(r["aws_calls_by_operation_per_job"], r["handler_ms_per_job"],
                                               r["invocations_per_job"], memory)
            for label, r in (("largest face", w["single"]), ("face by index", w["indexed"]))}


def _kept(path: Path) -> dict[str, Any] | None:
    """A big drop kept in benchmarks/ (big_drop.py writes one per label); None if there is none."""
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _big_drop_before() -> dict[str, Any]:
    """The design before the queue, measured once on its own commit (it cannot be rebuilt from this tree)."""
    data = _kept(BIG_DROP_BEFORE)
    if data is None:
        raise FileNotFoundError(BIG_DROP_BEFORE)
    return data


def _big_drop_after() -> dict[str, Any] | None:
    """The last big drop of this design (label after), kept when a run skips the section."""
    return _kept(BIG_DROP_AFTER)


def _big_drop_main() -> dict[str, Any] | None:
    """The queued design as issue 10 left it (commit ede2bde), measured once beside issue 20's change."""
    return _kept(BIG_DROP_MAIN)


def big_drop_summary_rows(r: dict[str, Any]) -> list[str]:
    d = r.get("drop") or {}
    a = d.get("akool") or {}
    big = r.get("big_results") or {}
    met = big_drop_report.verdicts(r)
    st = d.get("statuses") or {}
    return [
        f"| big drop ({r['options']['photos']} photos, AKOOL 4 jobs / 5 rps): all SUCCEEDED, 0 DLQ messages "
        f"| {st} | {_ok(bool(met['all SUCCEEDED'] and met['no DLQ message']))} |",
        f"| big drop: 1005 per accepted submission ≤ {big_drop_report.THROTTLE_TARGET} | "
        f"{_round(a.get('throttled_submits_per_accepted'), 3)} | {_ok(bool(met['1005 per submission']))} |",
        f"| big drop: AKOOL utilisation ≥ {big_drop_report.UTILISATION_TARGET} | "
        f"{_round(a.get('utilisation'), 2)} | {_ok(bool(met['utilisation']))} |",
        f"| webhook answer for a 50 MB result, p99 ≤ {big_drop_report.WEBHOOK_P99_TARGET} s | "
        f"{_round(big.get('p99_seconds'), 2)} s (p50 {_round(big.get('p50_seconds'), 2)} s) | "
        f"{_ok(bool(met['webhook p99']))} |",
    ]


def _round(value: float | None, digits: int) -> float | str:
    return "n/a" if value is None else round(value, digits)


def _big_drop() -> dict[str, Any]:
    from benchmarks import big_drop

    result, _ = big_drop.run(big_drop.Options(label="after"))
    return result


def notes(results: dict[str, Any]) -> None:
    """The explanations that go with the figures (why a target is missed, what would reach it)."""
    w = results.get("warm")
    if not w:
        return
    minimum = sum(n for _, _, n in DESIGN_MINIMUM)
    results["calls_note"] = (
        f"Why not ≤ {AWS_CALLS_TARGET}: the design's own minimum is {minimum} calls (with AKOOL "
        "pacing on, SubmitFunction also takes the job's AKOOL slot: one conditional write more). The "
        "inline design before it (S3 → SubmitFunction, the webhook finalising) needed 15, each there for a "
        "rule of the contract: the image event reads its sidecar because the waiting-for GSI is eventually "
        "consistent; the dedupe GetItem keeps a re-delivered event from re-checking inputs and rewriting "
        "the report of a finished job; every callback reads the job for its token hash first; status 1/2 "
        "moves the job to PROCESSING; the finalisation lease keeps duplicate callbacks from storing the "
        "result twice. The queued design added 6: the webhook verifies and enqueues (a SendMessage per "
        "callback), FinaliseFunction reads the job again for each message (GetItem ×2), and the AKOOL slot "
        "is released twice, by the webhook on status 3 and again by FinaliseFunction (an UpdateItem each, "
        "also with pacing off as here; FinaliseFunction's covers truths the reconciler enqueues, on the "
        "webhook's path it repeats the webhook's). The v2 contract's rules added 10 more: the input checks "
        "read each S3 input's first 64 KiB and last 4 KiB (4 ranged GETs) and pin a copy of each for AKOOL "
        "(2 CopyObject, which CloudTrail names PutObject); an image event also looks for its folder's "
        "manifest (1 GET); before writing the public names FinaliseFunction checks the job is still the "
        "photo's latest (2 HEADs); and each ending publishes its event (1 PutEvents). Issue 17's shared "
        "detections add 3 (a cache lookup and write for the face's version, the job's detections kept "
        "for its retries), issue 18's live states 7 (QUEUED and PROCESSING reports with their DELETEs, "
        "2 HEADs, the Job Submitted event), and the webhook token armed before the swap is sent 1. "
        "Reaching ≤ 10 would "
        "take contract changes: no dedupe read, no PROCESSING write, no token read before the first write, "
        "no queue hop, no live report, and no byte checks or pinned copies in S3."
        + _load_calls_note(w)
    )
    runs = w["throughput_runs"]
    t = min(runs, key=lambda r: r["wall_seconds"])
    cpu = t["cpu_seconds"]
    wall = t["wall_seconds"] or 1.0
    cores = results["machine"]["usable_cores"]
    more = max(runs, key=lambda r: r["submit_concurrency"])
    fewer = min(runs, key=lambda r: r["submit_concurrency"])
    helped = more["wall_seconds"] < 0.95 * fewer["wall_seconds"]
    results["throughput_note"] = (
        f"Where the time goes: during the faster run ({t['wall_seconds']} s, SubmitFunction concurrency "
        f"{t['submit_concurrency']}) the "
        "MiniStack server process (S3, DynamoDB, API Gateway, Lambda dispatch and the CloudTrail recording, "
        f"one interpreter) used {cpu['ministack']} s of CPU ({cpu['ministack'] / wall:.2f} of a core), the "
        f"function workers together {cpu['function_workers']} s and this process (driver and AKOOL emulator) "
        f"{cpu['driver_and_emulator']} s: {sum(cpu.values()) / wall:.2f} of the {cores} usable cores on "
        "average. "
        + (f"A SubmitFunction concurrency of {more['submit_concurrency']} shortened the run. " if helped
           else f"A SubmitFunction concurrency of {more['submit_concurrency']} did not shorten the run. ")
        + "How this differs from the report before the move to MiniStack: moto, the AKOOL emulator, a "
        "home-made API gateway and S3→SQS dispatcher then shared one interpreter (that process's CPU was "
        "the bottleneck), each function had a fixed pool of 2–3 workers, requests were plain HTTP without "
        "IAM, the floor was moto's raw rate, and the design was inline (S3 → SubmitFunction, the webhook "
        "finalising; 15 calls per job). Now the AWS side is its own process behind TLS, with IAM evaluated "
        "and CloudTrail recording on every request; the design is queued (S3 → SubmitQueue → "
        "SubmitFunction, webhook → FinaliseQueue → FinaliseFunction); the queue-fed functions run at their "
        "event source's MaximumConcurrency and the webhook at what the callbacks ask for, MiniStack "
        "starting a worker, with its cold start (imports, Secrets Manager read) inside the run, whenever "
        "all of a function's workers are busy; and the floor is MiniStack's raw rate. Neither wall time "
        "nor floor compares one to one with the old report."
    )
    if t["wall_over_floor"] > THROUGHPUT_TARGET:
        results["throughput_note"] += (
            " Why over the target: the floor counts only the functions' calls at MiniStack's raw rate, "
            "while on this machine the same cores also run the workers' cold starts and handlers, the "
            "emulator, and every other request of the run (the 'other AWS requests' row)."
        )


def _load_calls_note(w: dict[str, Any]) -> str:
    """What the jobs called under load beyond the one-at-a-time run, by operation."""
    one = w["single"]["aws_calls_by_operation_per_job"]
    parts = []
    for run in w["throughput_runs"]:
        ops = run["aws_calls_by_operation_per_job"]
        extra = {op: round(v - one.get(op, 0.0), 2) for op, v in ops.items()
                 if abs(v - one.get(op, 0.0)) >= 0.05 and not op.startswith("Reconcile")}
        parts.append(f"SubmitFunction concurrency {run['submit_concurrency']}: {run['aws_calls_per_job']} "
                     "per job, by operation "
                     f"{extra or 'as one at a time'}")
    return (" Under load the same job made more calls than one at a time (" + "; ".join(parts) + "). "
            "Why, from the code (Submitter.handle_object_created): the image event reads the image's "
            "sidecar and, when it is already there (under load the sidecar follows its image by "
            "milliseconds; one at a time it comes after the image's event is handled), looks the job up "
            "too (GetItem), and then has no folder manifest to look for (one GET fewer); when both "
            "events of a job are handled at the same moment, both run the checks (HeadObject) and one "
            "claim fails (UpdateItem). A worker MiniStack adds reads the secret once "
            "(GetSecretValue).")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    parser.add_argument("--jobs", type=int, default=THROUGHPUT_JOBS, help="jobs in the throughput run")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw figures here")
    args = parser.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}")
    results: dict[str, Any] = {"machine": pipeline.machine()}
    print(f"machine: {pipeline.machine_line(results['machine'])}", flush=True)
    steps = {
        "cold": cold_start.run,
        "warm": lambda: warm(load=args.jobs),
        "memory": _memory,
        "size": sizes,
        "engine": _engine,
        "bigdrop": _big_drop,
    }
    for name in only:
        print(f"\n== {name} ==", flush=True)
        started = time.monotonic()
        results[name] = steps[name]()
        print(json.dumps(results[name], indent=2, default=str), flush=True)
        print(f"({name}: {time.monotonic() - started:.0f} s)", flush=True)
    notes(results)
    text = render(results)
    old = pipeline.REPORT.read_text(encoding="utf-8") if pipeline.REPORT.exists() else ""
    # Sections this run did not measure stay as they were (the soak is `make soak`'s).
    kept = ([] if "warm" in only else [aws_cost.SECTION_TITLE]) + ([] if "bigdrop" in only else ["Big drop"])
    for title in [*kept, "Soak"]:
        old_section = pipeline.section(old, title)
        if old_section:
            text = text.rstrip("\n") + "\n\n" + old_section.rstrip("\n") + "\n"
    pipeline.REPORT.write_text(text, encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\nwrote {pipeline.REPORT.relative_to(ROOT)}")
    print(text.split("## Summary", 1)[1].split("\n## ", 1)[0])
    return 0


def _memory() -> dict[str, Any]:
    from benchmarks import stream_memory

    return stream_memory.run()


def _engine() -> dict[str, Any]:
    """engine_bench.run() in a fresh interpreter: its first detection then includes the model load."""
    code = "import json\nfrom benchmarks import engine_bench\nprint(json.dumps(engine_bench.run()))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "dropswap")]),
           "GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"engine benchmark failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    sys.exit(main())

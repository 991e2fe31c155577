"""`python -m benchmarks.big_drop`: the "big drop" (issue 10). N photos with sidecars are dropped into the
local stack as fast as the uploader can, against the AKOOL emulator's account limits; then the figures:

- jobs SUCCEEDED / FAILED / REJECTED / not finished; messages left in any DLQ or failure queue (target 0);
- AKOOL 1005 answers per accepted submission (target <= 0.05);
- AKOOL utilisation: the time the account's slots held a job ÷ (slots × wall time from the first to the
  last submission) (target >= 0.9);
- time from the first upload to the last result ÷ the theoretical minimum for that AKOOL capacity;
- the functions' concurrency (peak MiniStack worker processes, and peak overlapping invocations from the
  functions' REPORT log lines);
- the webhook's answer time p50/p99 for a 50 MB result (target p99 <= 1 s): a separate, small phase after
  the drop, with the account limits off, where the emulator pads a few results to 50 MB and times the POSTs
  it makes to the webhook.

Prints the numbers, writes benchmarks/big_drop_<label>.json and returns a markdown section (the lead puts it
into REPORT.md). Bounded: loopback only, a fixed photo count, every wait has a deadline, and a memory guard
stops the run before MiniStack's worker processes exhaust the machine.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.config import Config

from benchmarks import big_drop_metrics as m
from benchmarks.big_drop_report import markdown
from benchmarks.big_drop_watch import MIB, Monitor
from devkit import photos
from local.ministack import ADMIN_KEY, REGION
from local.stack import LocalStack, StackConfig

ROOT = Path(__file__).resolve().parent.parent
SUBMIT_PATHS = ("/api/open/v4/faceswap/faceswapByImage", "/api/open/v3/faceswap/highquality/specifyimage")
TERMINAL = ("SUCCEEDED", "FAILED", "REJECTED")
MANIFEST = {"version": 1, "swaps": [{"source": "../faces/face.jpg", "target": "largest"}]}
FAILURE_QUEUE_WORDS = ("fail", "dlq", "dead")


@dataclass
class Options:
    label: str = "run"
    photos: int = 1000
    upload_threads: int = 16
    concurrent_jobs: int = 4
    requests_per_second: int = 5
    wait_seconds: float | None = None  # after the last upload; None: 2 × the theoretical minimum + 600 s
    # Stop waiting when nothing moved for this long: three runs of the reconciler at the template's
    # default schedule (rate(5 minutes)), so a job it could still pick up is not cut short.
    stall_seconds: float = 900.0
    big_results: int = 10  # jobs in the 50 MB webhook phase (0 skips it)
    big_result_bytes: int = 50 * MIB
    big_wait_seconds: float = 600.0
    # MiniStack settings, passed through its environment:
    # LAMBDA_ACCOUNT_CONCURRENCY (0 = unbounded, None = MiniStack's default, sized to the RAM). 32: on a
    # 2-core machine an uncapped MiniStack collapsed under a 1000-photo drop (it kills a worker after every
    # function error and re-extracts the layer in its one server process for the next), and 32 held.
    lambda_concurrency: int | None = 32
    async_retry_base_seconds: float = 60.0  # AWS retries a failed async event ~1 min, then ~2 min later
    async_retry_max_seconds: float = 120.0
    min_available_mib: int = 4096  # stop the run when the machine has less memory available than this
    out_dir: Path = ROOT / "benchmarks"


def _ministack_env(opts: Options) -> dict[str, str]:
    env = {
        "LAMBDA_ASYNC_RETRY_BASE_SECONDS": str(opts.async_retry_base_seconds),
        "LAMBDA_ASYNC_RETRY_MAX_SECONDS": str(opts.async_retry_max_seconds),
    }
    if opts.lambda_concurrency is not None:
        env["LAMBDA_ACCOUNT_CONCURRENCY"] = str(opts.lambda_concurrency)
    return env


class Drop:
    """The user's and the operator's side of one run: uploads, job states, queues, logs, the emulator."""

    def __init__(self, stack: LocalStack, threads: int) -> None:
        self.stack = stack
        self.emu: Any = stack.emulator.emulator  # the in-process emulator (its jobs and request log)
        self.s3: Any = boto3.client(
            "s3", endpoint_url=stack.aws_endpoint, region_name=REGION, aws_access_key_id=ADMIN_KEY,
            aws_secret_access_key=ADMIN_KEY, verify=str(stack.tls.bundle),
            config=Config(max_pool_connections=threads + 4, retries={"max_attempts": 5, "mode": "standard"}),
        )
        self.threads = threads

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        resp = requests.request(method, f"{self.stack.akool_url}/_emulator/{path}", json=body, timeout=30,
                                verify=str(self.stack.tls.bundle))
        resp.raise_for_status()
        data: dict[str, Any] = resp.json()
        return data

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.s3.put_object(Bucket=self.stack.bucket, Key=key, Body=body, ContentType=content_type)

    def drop(self, prefix: str, count: int, monitor: Monitor) -> tuple[list[str], float, float]:
        """The shared face, then `count` photos each followed by its sidecar, from `threads` threads.
        Returns the image keys and when the photo uploads started and ended (epoch seconds)."""
        self.put(f"{prefix}faces/face.jpg", FACE, "image/jpeg")
        images = [f"{prefix}photos/{i:04d}.jpg" for i in range(count)]
        sidecar = json.dumps(MANIFEST).encode()
        done = itertools.count(1)

        def one(image: str) -> None:
            self.put(image, PHOTO, "image/jpeg")
            self.put(image + ".faceswap.json", sidecar, "application/json")
            n = next(done)
            if n % 100 == 0:
                print(f"  [{datetime.now():%H:%M:%S}] uploaded {n}/{count}; {monitor.line()}", flush=True)

        started = time.time()
        with ThreadPoolExecutor(self.threads) as pool:
            list(pool.map(one, images))
        return images, started, time.time()

    def jobs(self, prefix: str) -> dict[str, dict[str, Any]]:
        """The Jobs table's records for images under `prefix`, by image key."""
        ddb = self.stack.client("dynamodb")
        out: dict[str, dict[str, Any]] = {}
        pages = ddb.get_paginator("scan").paginate(
            TableName=self.stack.table,
            FilterExpression="begins_with(image_key, :p)",
            ExpressionAttributeValues={":p": {"S": prefix}},
        )
        for page in pages:
            for item in page["Items"]:
                flat = {k: next(iter(v.values())) for k, v in item.items()}
                out[str(flat["image_key"])] = flat
        return out

    def wait(self, prefix: str, images: list[str], deadline: float, monitor: Monitor, what: str,
             stall_seconds: float) -> str:
        """Until every image's job is terminal: "done"; or "deadline", "low memory", or "stalled" (no job
        changed state and AKOOL got no request for `stall_seconds`)."""
        last_print = 0.0
        last_change, seen = time.monotonic(), None
        while True:
            jobs = self.jobs(prefix)
            states = [jobs.get(i, {}).get("status", "none") for i in images]
            done = sum(s in TERMINAL for s in states)
            fingerprint = (states, max(monitor.requests, default=0))
            if fingerprint != seen:
                last_change, seen = time.monotonic(), fingerprint
            if time.monotonic() - last_print > 30 or done == len(images):
                last_print = time.monotonic()
                counts = {s: states.count(s) for s in sorted(set(states))}
                limits = self.admin("GET", "limits")
                print(f"  [{datetime.now():%H:%M:%S}] {what}: {done}/{len(images)} terminal {counts}; "
                      f"AKOOL in flight {limits['in_flight']}, 1005s {limits['refused']}; {monitor.line()}",
                      flush=True)
            if done == len(images):
                return "done"
            if monitor.low_memory.is_set():
                return "low memory"
            if time.monotonic() > deadline:
                return "deadline"
            if time.monotonic() - last_change > stall_seconds:
                return "stalled"
            time.sleep(5)

    def queues(self) -> list[dict[str, Any]]:
        """Every queue the stack's outputs name, with its depth; failure queues' messages classified."""
        sqs = self.stack.client("sqs")
        out = []
        for name, url in sorted(self.stack.outputs.items()):
            if "Queue" not in name or not name.endswith("Url"):
                continue
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            failure = any(w in name.lower() for w in FAILURE_QUEUE_WORDS)
            entry: dict[str, Any] = {
                "output": name,
                "failure_queue": failure,
                "visible": int(attrs.get("ApproximateNumberOfMessages", 0)),
                "in_flight": int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
            }
            if failure:
                entry["reasons"], entry["events"] = self._classify(sqs, url)
            out.append(entry)
        return out

    def _classify(self, sqs: Any, url: str) -> tuple[dict[str, int], dict[str, int]]:
        """Read every message once (hidden for 15 minutes; the stack stops before they come back)."""
        reasons: dict[str, int] = {}
        events: dict[str, int] = {}
        while True:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=900,
                                      WaitTimeSeconds=0).get("Messages", [])
            if not got:
                return reasons, events
            for msg in got:
                reason = m.failure_reason(msg["Body"])
                reasons[reason] = reasons.get(reason, 0) + 1
                kind = "sidecar" if ".faceswap.json" in msg["Body"] else "image"
                events[kind] = events.get(kind, 0) + 1

    def akool_jobs(self) -> list[dict[str, Any]]:
        """Every job the emulator accepted, as its admin API lists them (with the slot timeline)."""
        with self.emu.lock:
            return [j.admin_json() for j in self.emu.jobs.all()]

    def lambda_invocations(self, logical: str) -> list[tuple[float, float]]:
        """(start, end) epoch seconds of each invocation, from its REPORT log line (written at the end,
        with the duration)."""
        logs = self.stack.client("logs")
        kwargs: dict[str, Any] = {"logGroupName": f"/aws/lambda/{self.stack.functions[logical]}",
                                  "filterPattern": "REPORT"}
        out: list[tuple[float, float]] = []
        try:
            while True:
                page = logs.filter_log_events(**kwargs)
                for e in page.get("events", []):
                    msg = str(e["message"])
                    if msg.startswith("REPORT") and "Duration:" in msg:
                        duration = float(msg.split("Duration:", 1)[1].split("ms", 1)[0]) / 1000
                        end = int(e["timestamp"]) / 1000
                        out.append((end - duration, end))
                token = page.get("nextToken")
                if not token or token == kwargs.get("nextToken"):
                    return out
                kwargs["nextToken"] = token
        except logs.exceptions.ResourceNotFoundException:
            return out


PHOTO = photos.jpeg_bytes(photos.resize_long_side(photos.astronaut_bgr(), 256), quality=85)
FACE = photos.jpeg_bytes(photos.resize_long_side(photos.grace_hopper_bgr(), 256), quality=85)


def _epoch(iso: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(iso).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def measure_drop(drop: Drop, opts: Options, monitor: Monitor) -> dict[str, Any]:
    emu_config = drop.stack.emulator.config
    job_seconds = float(emu_config.queue_seconds + emu_config.processing_seconds)
    t_min = m.theoretical_minimum(opts.photos, opts.concurrent_jobs, job_seconds)
    drop.admin("PUT", "limits", {"concurrent_jobs": opts.concurrent_jobs,
                                 "requests_per_second": opts.requests_per_second})
    # Credits for every job of both phases: the emulator's default quota (1000) is one drop's worth, and
    # an empty quota answers "Your quota is not enough", a final refusal (the 50 MB phase then measures
    # nothing).
    drop.admin("POST", "credits", {"credits": 2 * (opts.photos + opts.big_results)})
    prefix = f"inbox/bigdrop-{opts.label}-{uuid.uuid4().hex[:6]}/"
    print(f"dropping {opts.photos} photos under {prefix} ({opts.upload_threads} uploader threads)…",
          flush=True)
    images, t0, uploaded = drop.drop(prefix, opts.photos, monitor)
    print(f"  uploaded in {uploaded - t0:.1f}s", flush=True)
    wait = opts.wait_seconds if opts.wait_seconds is not None else 2 * t_min + 600
    ended = drop.wait(prefix, images, time.monotonic() + wait, monitor, "big drop", opts.stall_seconds)
    phase_end = time.time()
    monitor.sample()  # the request log up to now

    jobs = drop.jobs(prefix)
    statuses = dict.fromkeys(TERMINAL, 0)
    finished = []
    for image in images:
        job = jobs.get(image)
        if job and job.get("status") in TERMINAL:
            statuses[str(job["status"])] += 1
            at = _epoch(job.get("finished_at") or job.get("updated_at"))
            if at is not None:
                finished.append(at)
    statuses["not finished"] = len(images) - sum(statuses.values())

    log = [e for e in monitor.request_log() if e["at"] < phase_end]
    submits = [e for e in log if e["path"] in SUBMIT_PATHS]
    accepted = [e for e in submits if e["code"] == 1000]
    throttled = [e for e in log if e["code"] == 1005]
    akool_jobs = [j for j in drop.akool_jobs() if j["accepted_at"] < phase_end]
    slots = [(j["accepted_at"], j["done_at"] or phase_end) for j in akool_jobs]
    released = [_final_callback_answered(j) for j in akool_jobs]
    window = (submits[0]["at"], submits[-1]["at"]) if submits else (0.0, 0.0)
    window_accepted = (accepted[0]["at"], accepted[-1]["at"]) if accepted else (0.0, 0.0)
    last = max(finished, default=None)
    invocations = drop.lambda_invocations("SubmitFunction")
    names = {v: k for k, v in drop.stack.functions.items()}
    return {
        "prefix": prefix,
        "ended": ended,
        "upload_seconds": uploaded - t0,
        "wait_limit_seconds": wait,
        "phase_seconds": phase_end - t0,
        "statuses": statuses,
        "job_seconds": job_seconds,
        "theoretical_minimum_seconds": t_min,
        "time_to_last_result_seconds": (last - t0) if last is not None else None,
        # Only meaningful once every job is finished.
        "time_to_last_result_ratio": (
            (last - t0) / t_min if last is not None and statuses["not finished"] == 0 else None
        ),
        "akool": {
            "submit_requests": len(submits),
            "accepted_submissions": len(accepted),
            "jobs_accepted": len(akool_jobs),
            "jobs_accepted_per_photo": len(akool_jobs) / opts.photos,
            "throttled_submits": sum(e["path"] in SUBMIT_PATHS for e in throttled),
            "throttled_all_routes": len(throttled),
            "throttled_by_limit": {k: sum(e["limit"] == k for e in throttled)
                                   for k in ("concurrent_jobs", "requests_per_second")},
            "throttled_submits_per_accepted": (
                sum(e["path"] in SUBMIT_PATHS for e in throttled) / len(accepted) if accepted else None
            ),
            "throttled_all_per_accepted": len(throttled) / len(accepted) if accepted else None,
            "throttled_submits_per_submit_request": (
                sum(e["path"] in SUBMIT_PATHS for e in throttled) / len(submits) if submits else None
            ),
            "requests_by_path": _count(_route(e["path"]) for e in log),
            "request_log_entries_lost": monitor.requests_lost,
            "window_seconds": window[1] - window[0],
            "busy_slot_seconds": m.busy_seconds(slots, window),
            "utilisation": m.utilisation(slots, window, opts.concurrent_jobs),
            "utilisation_accepted_window": m.utilisation(slots, window_accepted, opts.concurrent_jobs),
            "peak_in_flight": m.peak_overlap(slots),
            "handover": m.handovers(slots, opts.concurrent_jobs, released),
        },
        "queues": drop.queues(),
        "functions": {
            "submit_peak_overlapping_invocations": m.peak_overlap(invocations),
            "submit_invocations": len(invocations),
            "peak_workers": {names.get(k, k): v for k, v in monitor.peak_workers().items()},
            "peak_workers_rss_mib": round(monitor.peak_rss_mib(), 1),
            "min_available_mib": monitor.min_available(),
        },
    }


def measure_big_results(drop: Drop, opts: Options, monitor: Monitor) -> dict[str, Any]:
    """The webhook's answer time for 50 MB results: the emulator pads a few results and times its POSTs."""
    drop.admin("PUT", "limits", {"concurrent_jobs": 0, "requests_per_second": 0})
    drop.admin("POST", "faults", {"pad_results": {"bytes": opts.big_result_bytes, "count": opts.big_results}})
    prefix = f"inbox/bigresult-{opts.label}-{uuid.uuid4().hex[:6]}/"
    print(f"50 MB results: {opts.big_results} photos under {prefix}, account limits off…", flush=True)
    started = time.time()
    images, _, _ = drop.drop(prefix, opts.big_results, monitor)
    ended = drop.wait(prefix, images, time.monotonic() + opts.big_wait_seconds, monitor, "50 MB results",
                      opts.stall_seconds)
    jobs = drop.jobs(prefix)
    big = [j for j in drop.akool_jobs()
           if j["accepted_at"] >= started and (j["result_bytes"] or 0) >= opts.big_result_bytes]
    finals = [a for j in big for d in j["webhooks"] if d["status"] in (3, 4) for a in d["attempts"]]
    processing = [a for j in big for d in j["webhooks"] if d["status"] == 2 for a in d["attempts"]]
    seconds = [float(a["seconds"]) for a in finals if a["seconds"] is not None]
    small = [float(a["seconds"]) for a in processing if a["seconds"] is not None]
    return {
        "prefix": prefix,
        "ended": ended,
        "statuses": _count(str(jobs.get(i, {}).get("status", "none")) for i in images),
        "jobs_with_big_result": len(big),
        "result_bytes": sorted({int(j["result_bytes"]) for j in big}),
        "final_callback_attempts": len(finals),
        "final_callback_answers": _count(str(a["http_status"] or a["error"]) for a in finals),
        "final_callback_seconds": sorted(seconds),
        "p50_seconds": m.percentile(seconds, 0.5),
        "p99_seconds": m.percentile(seconds, 0.99),
        "processing_callback_p50_seconds": m.percentile(small, 0.5),
        "processing_callback_p99_seconds": m.percentile(small, 0.99),
    }


def _final_callback_answered(job: dict[str, Any]) -> float | None:
    """When the webhook first answered 200 to the job's final (status 3/4) callback: the slot was
    released just before that answer (flows/webhook.py)."""
    answers = [a["at"] for d in job["webhooks"] if d["status"] in (3, 4)
               for a in d["attempts"] if a["http_status"] == 200]
    return min(answers, default=None)


def _route(path: str) -> str:
    """A request path with the result or crop id taken out, so downloads count as one route."""
    for files in ("/results/", "/crops/"):
        if path.startswith(files):
            return files + "*"
    return path


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items()))


def _source_commit() -> str | None:
    """The commit measured: this checkout's HEAD, else $DROPSWAP_SOURCE_COMMIT (an exported tree)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             check=False, timeout=10)
    except OSError:
        out = None
    if out is not None and out.returncode == 0:
        return out.stdout.strip()
    return os.environ.get("DROPSWAP_SOURCE_COMMIT")


def run(opts: Options) -> tuple[dict[str, Any], str]:
    """One big-drop run; returns its figures and the markdown section, and writes the JSON file."""
    os.environ.update(_ministack_env(opts))  # MiniStack inherits this process's environment
    state = ROOT / ".dropswap" / f"big-drop-{opts.label}"
    started = time.monotonic()
    result: dict[str, Any] = {
        "label": opts.label,
        "commit": _source_commit(),
        "started": datetime.now().astimezone().isoformat(timespec="seconds"),
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(opts).items()},
        "machine": {"platform": platform.platform(), "cores": os.cpu_count(),
                    "ram_mib": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // MIB,
                    "load_average_start": round(os.getloadavg()[0], 1)},
    }
    print(f"big drop '{opts.label}': starting the local stack (realistic AKOOL, passthrough engine)…",
          flush=True)
    # No credit budget: the drop's photos would outrun the template's default.
    stack = LocalStack(StackConfig(mode="realistic", engine="passthrough", state_dir=state,
                                   credit_budget_per_day=0))
    monitor = Monitor(min_available_mib=opts.min_available_mib)
    try:
        stack.start()
        result["stack_seconds"] = time.monotonic() - started
        drop = Drop(stack, opts.upload_threads)
        monitor.emulator = drop.emu
        monitor.start()
        cfg = stack.emulator.config
        result["setup"] = {
            "emulator": {
                "mode": "realistic", "engine": "passthrough", "queue_seconds": cfg.queue_seconds,
                "processing_seconds": cfg.processing_seconds, "workers": cfg.workers,
                "concurrent_jobs": opts.concurrent_jobs, "requests_per_second": opts.requests_per_second,
            },
            "ministack_env": _ministack_env(opts),
            "template_parameters": "template defaults (ReconcileSchedule, ReconcileAfterSeconds, …)",
        }
        result["drop"] = measure_drop(drop, opts, monitor)
        if opts.big_results > 0 and result["drop"]["ended"] != "low memory":
            result["big_results"] = measure_big_results(drop, opts, monitor)
    finally:
        monitor.stop()
        stack.stop()
    result["memory_samples"] = [
        {"at": round(s.at, 1), "workers": sum(s.workers.values()),
         "workers_rss_mib": round(s.workers_rss_mib), "available_mib": s.available_mib,
         "ministack_cpu_seconds": round(s.server_cpu_seconds, 1)}
        for s in monitor.samples[::5]
    ]
    result["total_seconds"] = time.monotonic() - started
    # The machine may be shared: its load beside the figures (1-minute load average, start and end).
    result["machine"]["load_average_end"] = round(os.getloadavg()[0], 1)
    section = markdown(result)
    result["markdown"] = section
    out = opts.out_dir / f"big_drop_{opts.label}.json"
    out.write_text(json.dumps(result, indent=1, default=str) + "\n")
    print(section)
    print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out} "
          f"({result['total_seconds'] / 60:.1f} min)", flush=True)
    return result, section


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.big_drop", description=__doc__.split("\n")[0])
    d = Options()
    parser.add_argument("--label", default=d.label, help="names the output: benchmarks/big_drop_<label>.json")
    parser.add_argument("--photos", type=int, default=d.photos)
    parser.add_argument("--upload-threads", type=int, default=d.upload_threads)
    parser.add_argument("--concurrent-jobs", type=int, default=d.concurrent_jobs)
    parser.add_argument("--requests-per-second", type=int, default=d.requests_per_second)
    parser.add_argument("--wait-seconds", type=float, default=None,
                        help="after the last upload (default: 2 × the theoretical minimum + 600 s)")
    parser.add_argument("--stall-seconds", type=float, default=d.stall_seconds,
                        help="stop waiting when no job changed and AKOOL got no request for this long")
    parser.add_argument("--big-results", type=int, default=d.big_results,
                        help="jobs in the 50 MB phase; 0 skips it")
    parser.add_argument("--big-result-mib", type=int, default=d.big_result_bytes // MIB)
    parser.add_argument("--lambda-concurrency", type=int, default=d.lambda_concurrency,
                        help=f"MiniStack's LAMBDA_ACCOUNT_CONCURRENCY (default {d.lambda_concurrency}; "
                             "0 = unbounded, -1 = MiniStack's own default)")
    parser.add_argument("--min-available-mib", type=int, default=d.min_available_mib)
    args = parser.parse_args(argv)
    if not 1 <= args.photos <= 5000:
        parser.error("--photos must be 1..5000")
    opts = Options(
        label=args.label, photos=args.photos, upload_threads=args.upload_threads,
        concurrent_jobs=args.concurrent_jobs, requests_per_second=args.requests_per_second,
        wait_seconds=args.wait_seconds, stall_seconds=args.stall_seconds, big_results=args.big_results,
        big_result_bytes=args.big_result_mib * MIB,
        lambda_concurrency=None if args.lambda_concurrency < 0 else args.lambda_concurrency,
        min_available_mib=args.min_available_mib,
    )
    def _interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt  # so `run` stops the stack (MiniStack and its workers) on the way out

    signal.signal(signal.SIGTERM, _interrupt)
    run(opts)
    return 0


if __name__ == "__main__":
    sys.exit(main())

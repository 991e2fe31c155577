"""`make soak`: 200 jobs dropped at once into the local stack, faults injected, then every guarantee checked.

Bounded and loopback only: a fixed number of jobs, a fixed fault budget, every wait with a deadline. The
stack is template.yaml on MiniStack with its defaults (IAM enforced; the queues, event sources and their
concurrency, retries and dead-letter queues are MiniStack's; AKOOL pacing on). The AKOOL emulator runs in
instant mode with the passthrough engine (the pipeline is under test, not the face swap; face detection
stays real for the jobs that need it) and its assumed account limits, which the template's pacing matches.

Faults, injected at random through the emulator's admin API while the jobs run: 1005 throttling bursts,
jobs ending in status 4, dropped, duplicated and reordered webhooks, slow AKOOL answers and delayed
callbacks; plus duplicated S3 notifications (the notification delivered again where S3 delivers it, to
the SubmitQueue, and identical sidecars uploaded twice). The reconciler runs every
few seconds, so jobs whose callbacks were dropped still finish.

Checked at the end, per job:
- the right terminal state: FAILED for the jobs the emulator ended in status 4 (read from its job list,
  which names the dropswap job in each webhookUrl), SUCCEEDED for all others; report and DynamoDB agree;
- exactly one accepted AKOOL submission (request log; 1005-refused ones are retries and are counted apart);
- no result written twice (PutObject requests per results/ key, from MiniStack's CloudTrail recording),
  and exactly one report each;
- no input modified: every inbox object's ETag is the MD5 of what was uploaded.
Prints a table, writes the "## Soak" section of benchmarks/REPORT.md, exits non-zero if a check failed.
`--record-fuzz <junit.xml>` instead adds the result of `pytest tests/fuzz` (soak profile) to that section.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import aws_calls, pipeline
from benchmarks.aws_calls import AwsCall, CallRecorder
from benchmarks.fuzz_budgets import budgets_table, fuzz_budgets
from benchmarks.pipeline import ROOT, CallCounts, Driver, JobSpec, ReportWatcher
from dropswap.domain import keys
from dropswap.domain.jobs import job_id_for

JOBS = 200
FAIL_REASON = "soak: injected status 4"
DEADLINE_SECONDS = 420  # for all jobs to reach a terminal report
RECONCILE_EVERY = 2.0
JOBS_PER_ROUND = 5  # the injector's pace: a round per 5 jobs finished, 40 rounds over 200 jobs
UPLOAD_THREADS = 12
# Quiet time that counts as idle at the end (queues empty, no invocation ending, workers still).
FINAL_SETTLE = 2.5


@dataclass
class SoakJob(JobSpec):
    job_id: str = ""
    bodies: dict[str, bytes] = field(default_factory=dict)  # every key uploaded for this job → content


@dataclass
class FaultLog:
    injected: Counter[str] = field(default_factory=Counter)
    s3_redeliveries: int = 0
    identical_reuploads: int = 0
    image_redeliveries: int = 0
    reconcile_runs: int = 0
    reconcile_summary: Counter[str] = field(default_factory=Counter)


def _manifests() -> list[tuple[str, dict[str, Any], str]]:
    """(kind, manifest, which photo) in the mix the soak drops: mostly Pro on the largest face."""
    largest = {"version": 1, "swaps": [{"source": "faces/hopper.jpg", "target": "largest"}]}
    index = {"version": 1, "swaps": [{"source": "faces/hopper.jpg", "target": 0}]}
    duo = {"version": 1, "swaps": [{"source": "faces/hopper.jpg", "target": 0},
                                   {"source": "faces/astronaut.jpg", "target": 1}]}
    return [("pro-largest", largest, "astronaut")] * 16 + [("pro-index", index, "astronaut")] * 2 + [
        ("v3-two-faces", duo, "collage")]


def _md5(body: bytes) -> str:
    return '"' + hashlib.md5(body, usedforsecurity=False).hexdigest() + '"'


class Injector:
    """A round of random faults for every JOBS_PER_ROUND jobs finished (at most `rounds`): the jobs are
    paced through AKOOL, so faults spread over the whole run whatever its speed."""

    def __init__(self, d: Driver, rng: random.Random, log: FaultLog, finished: Callable[[], int],
                 rounds: int = 40) -> None:
        self.d, self.rng, self.log, self.rounds = d, rng, log, rounds
        self._finished = finished
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="fault-injector")

    def __enter__(self) -> Injector:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.d.admin("DELETE", "faults")

    def _wait_for_jobs(self, n: int) -> bool:
        """False once stopped before `n` jobs finished."""
        while self._finished() < n:
            if self._stop.wait(0.2):
                return False
        return True

    def _run(self) -> None:
        rng = self.rng
        self.d.admin("POST", "faults", {"fail_reason": FAIL_REASON})
        for i in range(self.rounds):
            if not self._wait_for_jobs(round((i + rng.uniform(0.0, 0.7)) * JOBS_PER_ROUND)):
                return
            faults: dict[str, Any] = {}
            if rng.random() < 0.4:
                # A throttling burst: AkoolClient retries 1005 with backoff (4 attempts); a burst of 4–5
                # can use them up, and then the submit event is retried by the async invocation.
                faults["submit_error"] = {"code": 1005, "count": rng.choice([1, 2, 3, 4, 5])}
                self.log.injected["1005 answers"] += faults["submit_error"]["count"]
            for name, label, p, hi in (("fail_jobs", "status 4 jobs", 0.3, 2),
                                       ("drop_webhooks", "dropped callbacks", 0.4, 3),
                                       ("duplicate_webhooks", "duplicated callbacks", 0.4, 3),
                                       ("reorder_webhooks", "reordered jobs (final callback first)", 0.3, 2)):
                if rng.random() < p:
                    faults[name] = rng.randint(1, hi)
                    self.log.injected[label] += faults[name]
            if rng.random() < 0.25:
                slow = rng.choice([0, 0, 150, 400, 900])
                faults["response_delay_ms"] = slow
                if slow:
                    self.log.injected["slow-answer periods (150–900 ms)"] += 1
            if rng.random() < 0.15:
                delay = rng.choice([0.0, 0.3, 1.0])
                faults["webhook_delay_seconds"] = delay
                if delay:
                    self.log.injected["delayed-callback periods (0.3–1 s)"] += 1
            if faults:
                self.d.admin("POST", "faults", faults)


class Reconciler:
    """Runs the scheduled ReconcileFunction every few seconds (stands in for EventBridge)."""

    def __init__(self, d: Driver, log: FaultLog) -> None:
        self.d, self.log = d, log
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="reconciler")

    def __enter__(self) -> Reconciler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=120)

    def _run(self) -> None:
        while not self._stop.wait(RECONCILE_EVERY):
            self.run_once()

    def run_once(self) -> None:
        summary = self.d.stack.run_schedule("ReconcileFunction")
        self.log.reconcile_runs += 1
        if isinstance(summary, dict):
            for k, v in summary.items():
                if isinstance(v, int) and not isinstance(v, bool):
                    self.log.reconcile_summary[k] += v


def soak(jobs: int = JOBS, seed: int | None = None) -> dict[str, Any]:
    from devkit import photos
    from local.stack import LocalStack, StackConfig

    seed = seed if seed is not None else random.SystemRandom().randrange(1 << 30)
    rng = random.Random(seed)
    pics = {
        "astronaut": photos.jpeg_bytes(photos.astronaut_bgr()),
        "hopper": photos.jpeg_bytes(photos.grace_hopper_bgr()),
        "collage": photos.jpeg_bytes(photos.collage_bgr()),
    }
    log = FaultLog()
    mix = _manifests()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dropswap-soak-") as state:
        # The reconciler is run by the soak itself, every RECONCILE_EVERY seconds (the template's schedule,
        # every 5 minutes, runs too).
        # No credit budget: the soak's hundreds of jobs would outrun the template's default.
        config = StackConfig(mode="instant", engine="passthrough", record_aws_requests=True,
                             reconcile_after_seconds=2, state_dir=Path(state), credit_budget_per_day=0)
        with LocalStack(config) as stack:
            d = Driver(stack)
            rec = CallRecorder(stack)
            prefix = pipeline.new_prefix("soak")
            faces = {f"inbox/{prefix}faces/hopper.jpg": pics["hopper"],
                     f"inbox/{prefix}faces/astronaut.jpg": pics["astronaut"]}
            for key, body in faces.items():
                d.put(key, body)
            d.wait_idle()
            d.admin("POST", "reset")  # the emulator's configured account limits stay on
            mark, since, load0 = rec.mark(), time.time(), os.getloadavg()[0]
            planned: list[SoakJob] = []
            kinds: dict[str, str] = {}
            for i in range(jobs):
                kind, manifest, photo = rng.choice(mix)
                job = SoakJob(f"inbox/{prefix}job-{i:03d}.jpg", manifest)
                job.bodies = {job.image_key: pics[photo], job.sidecar_key: json.dumps(manifest).encode()}
                # The job id the pipeline will derive: S3's ETag of a single-part upload is its MD5.
                etag = _md5(job.bodies[job.sidecar_key]).strip('"')
                photo_etag = _md5(job.bodies[job.image_key]).strip('"')
                job.job_id = job_id_for(stack.bucket, job.sidecar_key, etag, job.image_key, photo_etag)
                kinds[job.job_id] = kind
                planned.append(job)

            def drop(job: SoakJob) -> None:
                r = random.Random(f"{seed}-{job.image_key}")
                order = [job.image_key, job.sidecar_key]
                if r.random() < 0.2:  # some users upload the sidecar first
                    order.reverse()
                for key in order:
                    d.put(key, job.bodies[key], "application/json" if key.endswith(".json") else "image/jpeg")
                job.uploaded_at = time.monotonic()
                roll = r.random()
                if roll < 0.10:  # the identical sidecar again: a second real S3 event, same ETag
                    time.sleep(r.uniform(0, 1.5))
                    d.put(job.sidecar_key, job.bodies[job.sidecar_key], "application/json")
                    log.identical_reuploads += 1
                elif roll < 0.30:  # the recorded notification delivered again (S3 is at-least-once)
                    event = d.s3_event(job.sidecar_key)
                    for _ in range(r.choice([1, 1, 2])):
                        time.sleep(r.uniform(0, 2.0))
                        d.redeliver(event)
                        log.s3_redeliveries += 1
                elif roll < 0.40:
                    time.sleep(r.uniform(0, 1.0))
                    d.redeliver(d.s3_event(job.image_key))
                    log.image_redeliveries += 1

            reports = [j.report_key for j in planned]
            reconciler = Reconciler(d, log)
            with ReportWatcher(d, f"results/{prefix}job-", interval=0.5) as watcher, reconciler:
                with Injector(d, rng, log, lambda: len(watcher.seen)):
                    with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
                        list(pool.map(drop, planned))
                    uploaded = time.monotonic() - started
                    watcher.wait_for(reports, timeout=45)
                # Faults are off now; the reconciler keeps going until every job has its report.
                done = watcher.wait_for(reports, timeout=DEADLINE_SECONDS)
            d.wait_idle(timeout=120, settle=FINAL_SETTLE)
            reconciler.run_once()  # one last pass: nothing may be left open
            d.wait_idle(timeout=60, settle=FINAL_SETTLE)
            wall = time.monotonic() - started
            checks, table = _check(d, planned, kinds, prefix, faces, rec.calls(mark))
            errors = {k: v.errors for k, v in d.invocation_stats(since).items()}
            dead_letters = d.queue_depths(pipeline.DEAD_LETTER_QUEUES)
            workers = d.workers()
            load = [round(load0, 1), round(os.getloadavg()[0], 1)]
    return {
        "seed": seed, "jobs": jobs, "all_reports": done, "upload_seconds": round(uploaded, 1),
        "wall_seconds": round(wall, 1), "faults": dict(log.injected),
        "s3_redeliveries": log.s3_redeliveries, "identical_reuploads": log.identical_reuploads,
        "image_redeliveries": log.image_redeliveries, "reconcile_runs": log.reconcile_runs,
        "reconcile_summary": dict(log.reconcile_summary), "function_errors": errors,
        "dead_letters": dead_letters, "workers": workers, "load_average": load, "checks": checks,
        **table,
    }


def _check(d: Driver, planned: list[SoakJob], kinds: dict[str, str], prefix: str,
           faces: dict[str, bytes], aws: Counter[AwsCall]) -> tuple[dict[str, bool], dict[str, Any]]:
    ids = {j.job_id for j in planned}
    # Which jobs AKOOL (the emulator) ended in status 4: those must be FAILED.
    akool_jobs = d.akool_jobs()
    emu_by_job: dict[str, list[dict[str, Any]]] = {}
    for emu in akool_jobs:
        jid = pipeline.webhook_job_id({"body": emu.get("inputs") or {}})
        if jid:
            emu_by_job.setdefault(jid, []).append(emu)
    expected_failed = {jid for jid, js in emu_by_job.items() if any(j.get("status") == 4 for j in js)}
    webhook_states: Counter[str] = Counter()
    for emu in akool_jobs:
        for hook in emu.get("webhooks", []):
            copy = " (duplicate copy)" if hook.get("duplicate") else ""
            webhook_states[hook.get("state", "?") + copy] += 1

    ddb = d.stack.client("dynamodb")
    final: Counter[str] = Counter()
    wrong: list[str] = []
    mismatch_db = 0
    for job in planned:
        report = d.read_json(job.report_key) or {}
        status = str(report.get("status", "MISSING"))
        final[status] += 1
        want = "FAILED" if job.job_id in expected_failed else "SUCCEEDED"
        if status != want or report.get("job_id") != job.job_id:
            wrong.append(f"{job.image_key}: {status} (want {want}) {report.get('error')}")
        item = ddb.get_item(TableName=d.stack.table, Key={"job_id": {"S": job.job_id}},
                            ConsistentRead=True).get("Item", {})
        if item.get("status", {}).get("S") != status:
            mismatch_db += 1

    entries = d.akool_requests()
    accepted = Counter(pipeline.webhook_job_id(e) for e in entries
                       if e.get("path") in pipeline.SUBMIT_PATHS and e.get("code") == 1000)
    refused = Counter(str(e.get("code")) for e in entries
                      if e.get("path") in pipeline.SUBMIT_PATHS and e.get("code") != 1000)
    per_job_submissions = Counter(accepted.get(jid, 0) for jid in ids)
    stray = sorted(str(k) for k in accepted if k not in ids)

    writes = aws_calls.object_writes(aws, f"results/{prefix}")

    def result_key(job: SoakJob) -> str:
        return keys.result_image_key(job.image_key)

    result_writes = Counter(writes.get(result_key(j), 0) for j in planned)
    results_right = all(writes.get(result_key(j), 0) == (0 if j.job_id in expected_failed else 1)
                        for j in planned)
    report_writes = Counter(writes.get(j.report_key, 0) for j in planned)

    expected_inbox = {k: _md5(b) for k, b in faces.items()}
    for job in planned:
        expected_inbox.update({k: _md5(b) for k, b in job.bodies.items()})
    inbox = d.etags(f"inbox/{prefix}")
    inbox_ok = inbox == expected_inbox

    counts = CallCounts(aws, pipeline.akool_counts(entries))
    n = len(planned)
    checks = {
        "every job in the right terminal state": not wrong,
        "report status = DynamoDB status": mismatch_db == 0,
        "exactly one accepted AKOOL submission per job": set(per_job_submissions) == {1} and not stray,
        "no result written twice (1 per SUCCEEDED job, 0 per FAILED)": results_right,
        "exactly one report written per job": set(report_writes) == {1},
        "no input modified (inbox ETags = MD5 of the uploads)": inbox_ok,
    }
    table = {
        "expected": {"SUCCEEDED": n - len(expected_failed & ids), "FAILED": len(expected_failed & ids)},
        "final": dict(final),
        "wrong_states": wrong[:10],
        "by_kind": dict(Counter(kinds.values())),
        "accepted_submissions_per_job": {str(k): v for k, v in sorted(per_job_submissions.items())},
        "refused_submissions": dict(refused),
        "akool_calls": dict(sorted(counts.akool.items())),
        "result_writes_per_job": {str(k): v for k, v in sorted(result_writes.items())},
        "report_writes_per_job": {str(k): v for k, v in sorted(report_writes.items())},
        "inbox_objects": len(inbox),
        "webhook_deliveries": dict(webhook_states),
        "aws_calls_per_job": round(counts.function_total() / n, 2),
        "aws_calls_by_function_per_job": {k: round(v / n, 2) for k, v in counts.by_function().items()},
    }
    return checks, table


def render(r: dict[str, Any]) -> str:
    lines = [
        "## Soak", "",
        f"`make soak` (`python -m benchmarks.soak`), {r['machine']}. {r['jobs']} jobs dropped at once "
        f"({UPLOAD_THREADS} uploader threads) into the local stack (template.yaml on MiniStack with its "
        "defaults: SubmitFunction concurrency 2, AKOOL pacing at 4 jobs in flight and 5 requests/s; AKOOL "
        "emulator instant, passthrough engine, its assumed account limits on; MiniStack's CloudTrail "
        "recording on), "
        f"a round of faults injected at random through the emulator's admin API per {JOBS_PER_ROUND} jobs "
        "finished "
        f"(seed {r['seed']}), the reconciler run every {RECONCILE_EVERY:.0f} s. Job mix: {r['by_kind']}.", "",
        "| check | result |", "|---|---|",
    ]
    lines += [f"| {name} | {'pass' if ok else '**FAIL**'} |" for name, ok in r["checks"].items()]
    lines += ["", "| figure | value |", "|---|---|",
              f"| wall time (first upload → all checked) | {r['wall_seconds']} s "
              f"(last job dropped at {r['upload_seconds']} s) |",
              f"| expected final states | {r['expected']} |",
              f"| final states (reports) | {r['final']} |",
              f"| faults injected | {r['faults']} |",
              f"| S3 notifications delivered again / identical sidecars re-uploaded / image events again | "
              f"{r['s3_redeliveries']} / {r['identical_reuploads']} / {r['image_redeliveries']} |",
              f"| accepted AKOOL submissions per job (count → jobs) | {r['accepted_submissions_per_job']} |",
              f"| refused submissions (by code; retried) | {r['refused_submissions']} |",
              f"| AKOOL calls | {r['akool_calls']} |",
              f"| callbacks by outcome (emulator) | {r['webhook_deliveries']} |",
              f"| result image writes per job (count → jobs) | {r['result_writes_per_job']} |",
              f"| report writes per job (count → jobs) | {r['report_writes_per_job']} |",
              f"| reconciler runs / what they did | {r['reconcile_runs']} / {r['reconcile_summary']} |",
              f"| AWS calls per job (functions) | {r['aws_calls_per_job']} "
              f"{r['aws_calls_by_function_per_job']} |",
              f"| function errors (invocations that raised) | {r['function_errors']} |",
              f"| dead-letter queue messages (work given up) | {r['dead_letters']} |",
              f"| worker processes at the end (MiniStack starts one per invocation that finds the "
              f"function's workers busy) | {r['workers']} |",
              f"| inbox objects checked | {r['inbox_objects']} |",
              f"| machine load average (1 min) at start / end (shared machine) | {r['load_average'][0]} / "
              f"{r['load_average'][1]} |"]
    if r["wrong_states"]:
        lines += ["", "Jobs in the wrong state (first 10):", ""] + [f"- {w}" for w in r["wrong_states"]]
    return "\n".join(lines) + "\n"


def record_fuzz(junit: Path) -> str:
    root = ET.parse(junit).getroot()  # noqa: S314 - our own pytest's output
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert suite is not None
    tests, failures, errors = (int(suite.get(k, "0")) for k in ("tests", "failures", "errors"))
    seconds = float(suite.get("time", "0"))
    verdict = "pass" if failures == errors == 0 else f"**{failures} failed, {errors} errors**"
    return (f"Fuzzing (`HYPOTHESIS_PROFILE=soak pytest tests/fuzz`, run by `make soak`): {tests} tests, "
            f"{verdict}, {seconds:.0f} s.")


def _write_section(text: str) -> None:
    old = pipeline.REPORT.read_text(encoding="utf-8") if pipeline.REPORT.exists() else ""
    pipeline.REPORT.write_text(pipeline.replace_section(old, "Soak", text), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=JOBS)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--record-fuzz", type=Path, default=None, metavar="JUNIT_XML",
                        help="add a pytest junit result of tests/fuzz to the Soak section and exit")
    parser.add_argument("--fuzz-statistics", type=Path, default=None, metavar="TEXT",
                        help="with --record-fuzz: the run's --hypothesis-show-statistics output (budgets)")
    args = parser.parse_args(argv)
    if args.record_fuzz:
        line = record_fuzz(args.record_fuzz)
        if args.fuzz_statistics is not None:
            rows = fuzz_budgets(args.fuzz_statistics.read_text(encoding="utf-8"))
            line += (" Budgets: the soak profile's `max_examples` (tests/fuzz/profiles.py) scaled per test; "
                     "what each test generated:\n\n" + budgets_table(rows))
        old = pipeline.REPORT.read_text(encoding="utf-8") if pipeline.REPORT.exists() else ""
        current = pipeline.section(old, "Soak") or "## Soak\n"
        # The previous fuzz paragraph (its line and its budgets table) is replaced.
        kept_lines = current.rstrip("\n").split("\n\nFuzzing (", 1)[0]
        _write_section(kept_lines.rstrip("\n") + "\n\n" + line + "\n")
        print(line)
        return 0
    result = soak(args.jobs, args.seed)
    result["machine"] = pipeline.machine_line(pipeline.machine())
    print(json.dumps(result, indent=2, default=str))
    print()
    width = max(len(k) for k in result["checks"])
    for name, ok in result["checks"].items():
        print(f"{name:<{width}}  {'pass' if ok else 'FAIL'}")
    _write_section(render(result))
    print(f"\nwrote the Soak section of {pipeline.REPORT.relative_to(ROOT)}")
    return 0 if all(result["checks"].values()) and result["all_reports"] else 1


if __name__ == "__main__":
    sys.exit(main())

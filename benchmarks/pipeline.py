"""Shared by benchmarks.run and benchmarks.soak: the machine, the local stack as a user drives it, and
REPORT.md's sections.

Everything runs on 127.0.0.1 against the local stack (moto server + AKOOL emulator + one worker process
per function instance). Only the user's side and the emulator's admin API are used, plus two read-only
views of the stack: the moto request counter (`StackConfig(count_aws_requests=True)`) and the function
pools' invocation stats.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from dropswap import keys
from local.aws_requests import AwsCall
from local.stack import LocalStack, complete_s3_record

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "benchmarks" / "REPORT.md"
SUBMIT_PATHS = ("/api/open/v4/faceswap/faceswapByImage", "/api/open/v3/faceswap/highquality/specifyimage")
DETECT_PATH = "/interface/detect-api/detect_faces"
LIST_PATH = "/api/open/v3/faceswap/result/listbyids"
FUNCTIONS = ("SubmitFunction", "WebhookFunction", "ReconcileFunction")


# -- the machine ------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "cpu model", "hardware")):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) * 1024
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu,
        "arch": platform.machine(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "ram_gib": round(ram / 2**30, 1),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def machine_line(m: dict[str, Any]) -> str:
    return (f"{m['cpu']} ({m['arch']}), {m['cores']} cores ({m['usable_cores']} usable), "
            f"{m['ram_gib']} GiB RAM, Python {m['python']}, {m['os']}; {m['date']}")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


# -- REPORT.md ----------------------------------------------------------------------------------------
def replace_section(text: str, title: str, body: str) -> str:
    """`text` with its `## title` section (up to the next `## `) replaced by `body`, or `body` appended."""
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    section = body.rstrip("\n") + "\n\n"
    if pattern.search(text):
        return pattern.sub(lambda _: section, text, count=1)
    return text.rstrip("\n") + "\n\n" + section if text.strip() else section


def section(text: str, title: str) -> str | None:
    m = re.search(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", text, re.S | re.M)
    return m.group(0) if m else None


# -- the user's side of the local stack -----------------------------------------------------------------
@dataclass
class JobSpec:
    image_key: str
    manifest: dict[str, Any]
    uploaded_at: float = 0.0  # monotonic time the sidecar upload finished

    @property
    def sidecar_key(self) -> str:
        return keys.sidecar_key_for_image(self.image_key)

    @property
    def report_key(self) -> str:
        return keys.report_key(self.image_key)


def webhook_job_id(entry: dict[str, Any]) -> str | None:
    """The dropswap job id in a submission's webhookUrl (…/webhooks/akool/<job_id>?token=…)."""
    hook = str((entry.get("body") or {}).get("webhookUrl", ""))
    path = urlsplit(hook).path
    return path.rsplit("/", 1)[-1] if "/webhooks/akool/" in path else None


class Driver:
    """Acts as a user (boto3 on the stack's endpoint) and an operator (the emulator's admin API)."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.s3 = stack.client("s3")
        self.bucket = stack.bucket
        self.http = requests.Session()

    # S3 --------------------------------------------------------------------------------------------
    def put(self, key: str, body: bytes, content_type: str = "image/jpeg") -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def put_sidecar(self, job: JobSpec) -> None:
        self.put(job.sidecar_key, json.dumps(job.manifest).encode(), "application/json")
        job.uploaded_at = time.monotonic()

    def read_json(self, key: str) -> dict[str, Any] | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None
        data: dict[str, Any] = json.loads(body)
        return data

    def etags(self, prefix: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                out[obj["Key"]] = obj["ETag"]
        return out

    def s3_event(self, key: str) -> dict[str, Any]:
        """An S3 ObjectCreated notification for `key` as the stack's dispatcher builds it (to re-deliver)."""
        record = {"eventName": "ObjectCreated:Put",
                  "s3": {"bucket": {"name": self.bucket}, "object": {"key": quote(key, safe="/")}}}
        return {"Records": [complete_s3_record(record, self.s3)]}

    # the emulator's admin API ----------------------------------------------------------------------
    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        resp = self.http.request(method, f"{self.stack.akool_url}/_emulator/{path}", json=body, timeout=30)
        resp.raise_for_status()
        data: dict[str, Any] = resp.json()
        return data

    def akool_requests(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.admin("GET", "requests")["requests"]
        return entries

    def akool_jobs(self) -> list[dict[str, Any]]:
        jobs: list[dict[str, Any]] = self.admin("GET", "jobs")["jobs"]
        return jobs

    # the stack -------------------------------------------------------------------------------------
    def wait_idle(self, timeout: float = 60.0, settle: float = 0.3) -> None:
        """Until no S3 message is queued or being dispatched and the function pools are quiet."""
        sqs = self.stack.client("sqs")
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        last = self.invocations()
        while time.monotonic() < deadline:
            queued = 0
            for url in self.stack.s3_queues.values():
                attrs = sqs.get_queue_attributes(
                    QueueUrl=url,
                    AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
                )["Attributes"]
                queued += int(attrs["ApproximateNumberOfMessages"]) + int(
                    attrs["ApproximateNumberOfMessagesNotVisible"])
            now = self.invocations()
            busy = queued or self.stack.inflight or now != last
            last = now
            if busy:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= settle:
                return
            time.sleep(0.1)
        raise TimeoutError("the local stack did not go idle")

    def invocations(self) -> dict[str, int]:
        return {name: pool.stats.invocations for name, pool in self.stack.pools.items()}

    def handler_ms(self) -> dict[str, float]:
        return {name: pool.stats.total_ms for name, pool in self.stack.pools.items()}

    def errors(self) -> dict[str, int]:
        return {name: pool.stats.errors for name, pool in self.stack.pools.items()}

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time so far of this process (moto server, emulator, gateway, dispatcher and the driver
        share it) and of the function workers (Linux /proc; 0 where unavailable)."""
        tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        workers = 0.0
        for pool in self.stack.pools.values():
            for worker in pool._workers:  # read-only: each worker's pid
                try:
                    fields = Path(f"/proc/{worker.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
                    workers += (int(fields[11]) + int(fields[12])) / tick
                except (OSError, IndexError, ValueError):
                    pass
        return {"stack_process": time.process_time(), "function_workers": workers}


class ReportWatcher:
    """Polls results/<prefix> with one LIST per tick and records when each report first appears."""

    def __init__(self, driver: Driver, prefix: str, interval: float = 0.2) -> None:
        self.driver = driver
        self.prefix = prefix
        self.interval = interval
        self.seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="report-watcher")
        self.s3 = driver.stack.client("s3")

    def __enter__(self) -> ReportWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll()
            self._stop.wait(self.interval)

    def poll(self) -> None:
        try:
            pages = self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.driver.bucket, Prefix=self.prefix)
            now = time.monotonic()
            for page in pages:
                for obj in page.get("Contents", []):
                    if obj["Key"].endswith(".result.json"):
                        self.seen.setdefault(obj["Key"], now)
        except Exception:  # noqa: S110 - a failed LIST (e.g. at shutdown) is retried on the next tick
            pass

    def wait_for(self, keys: Iterable[str], timeout: float) -> bool:
        wanted = set(keys)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if wanted <= self.seen.keys():
                return True
            time.sleep(0.05)
        return wanted <= self.seen.keys()


# -- counting ------------------------------------------------------------------------------------------
@dataclass
class CallCounts:
    """AWS calls the functions made (from the moto request counter), and AKOOL calls (emulator log)."""

    aws: Counter[AwsCall] = field(default_factory=Counter)
    akool: Counter[str] = field(default_factory=Counter)

    def by_function(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for call, n in self.aws.items():
            if call.caller in FUNCTIONS:
                out[call.caller] = out.get(call.caller, 0) + n
        return out

    def function_total(self) -> int:
        return sum(self.by_function().values())

    def plumbing_total(self) -> int:
        return sum(n for c, n in self.aws.items() if c.caller not in FUNCTIONS)

    def akool_total(self) -> int:
        return sum(self.akool.values())


def akool_kind(entry: dict[str, Any]) -> str:
    path = str(entry.get("path", ""))
    if path in SUBMIT_PATHS:
        return "submit" if entry.get("code") == 1000 else f"submit (refused {entry.get('code')})"
    if path == DETECT_PATH:
        return "detect_faces"
    if path == LIST_PATH:
        return "listbyids"
    if path.startswith("/results/"):
        return "result download"
    return path


def akool_counts(entries: list[dict[str, Any]]) -> Counter[str]:
    return Counter(akool_kind(e) for e in entries)


def diff_counter(after: Counter[AwsCall], before: Counter[AwsCall]) -> Counter[AwsCall]:
    out = Counter(after)
    out.subtract(before)
    return Counter({k: v for k, v in out.items() if v > 0})


def new_prefix(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:6]}/"

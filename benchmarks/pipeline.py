"""Shared by benchmarks.run and benchmarks.soak: the machine, the local stack as a user drives it, and
REPORT.md's sections.

Everything runs on 127.0.0.1 against the local stack: template.yaml deployed to MiniStack (its own
process; each function a warm python3.13 worker process under its own role, as many as the events in
flight need) plus the AKOOL emulator (threads in this process). Only the user's side and the emulator's
admin API are used, plus read-only views of the stack: MiniStack's CloudTrail recording
(benchmarks/aws_calls.py), the functions' CloudWatch logs (one stream per invocation, with its REPORT
line), and /proc for the processes' CPU time and the function workers alive.
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
from urllib.parse import quote_plus, urlsplit

import requests

from benchmarks.aws_calls import ADMIN, AwsCall, by_function
from dropswap.domain import keys
from dropswap.domain.jobs import TERMINAL
from local.ministack import REGION
from local.stack import LocalStack

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "benchmarks" / "REPORT.md"
SUBMIT_PATHS = ("/api/open/v4/faceswap/faceswapByImage", "/api/open/v3/faceswap/highquality/specifyimage")
DETECT_PATH = "/interface/detect-api/detect_faces"
LIST_PATH = "/api/open/v3/faceswap/result/listbyids"
FUNCTIONS = ("SubmitFunction", "WebhookFunction", "FinaliseFunction", "ReconcileFunction")
# The template's queues (output names): work waiting, and what was given up on.
WORK_QUEUES = ("SubmitQueueUrl", "FinaliseQueueUrl")
DEAD_LETTER_QUEUES = ("SubmitDLQUrl", "FinaliseDLQUrl")
_DURATION = re.compile(r"\tDuration: ([0-9.]+) ms")
_LOG_LIMIT = 10000  # FilterLogEvents' maximum


@dataclass(frozen=True)
class Invocations:
    count: int
    errors: int  # invocations whose handler raised
    duration_ms: float  # MiniStack's Duration, summed: the invocation with the round trip to its worker


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
        # Per request: a session's own `verify` loses to REQUESTS_CA_BUNDLE in the environment.
        self._ca = str(stack.tls.bundle)
        self._logs = stack.client("logs")
        self._sqs = stack.client("sqs")
        self._lambda = stack.client("lambda")

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
        """An S3 ObjectCreated notification for `key` as S3 (and MiniStack) sends it, to deliver again."""
        head = self.s3.head_object(Bucket=self.bucket, Key=key)
        obj: dict[str, Any] = {"key": quote_plus(key, safe="/"), "size": int(head["ContentLength"]),
                               "eTag": str(head["ETag"]).strip('"'), "sequencer": f"{time.time_ns():X}"}
        if head.get("VersionId"):
            obj["versionId"] = head["VersionId"]
        record = {
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
            "eventTime": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "eventName": "ObjectCreated:Put", "userIdentity": {"principalId": "AWS:LOCAL"},
            "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper(), "x-amz-id-2": "LOCAL"},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "redelivery",
                   "bucket": {"name": self.bucket, "ownerIdentity": {"principalId": "LOCAL"},
                              "arn": f"arn:aws:s3:::{self.bucket}"},
                   "object": obj},
        }
        return {"Records": [record]}

    def redeliver(self, event: dict[str, Any]) -> None:
        """An S3 notification (`s3_event`) delivered again, where S3 delivers it: to the SubmitQueue."""
        self._sqs.send_message(QueueUrl=self.stack.outputs["SubmitQueueUrl"], MessageBody=json.dumps(event))

    def queue_depths(self, outputs: Iterable[str]) -> dict[str, int]:
        """Messages on each queue (visible, in flight or delayed), by output name without "Url"."""
        kinds = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                 "ApproximateNumberOfMessagesDelayed"]
        out: dict[str, int] = {}
        for name in outputs:
            attrs = self._sqs.get_queue_attributes(QueueUrl=self.stack.outputs[name],
                                                   AttributeNames=kinds)["Attributes"]
            out[name.removesuffix("Url")] = sum(int(attrs.get(k, 0)) for k in kinds)
        return out

    # the emulator's admin API ----------------------------------------------------------------------
    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        resp = self.http.request(method, f"{self.stack.akool_url}/_emulator/{path}", json=body, timeout=30,
                                 verify=self._ca)
        resp.raise_for_status()
        data: dict[str, Any] = resp.json()
        return data

    def reset_emulator(self) -> None:
        """Clear the emulator's log, jobs and faults, with AKOOL's account limits off (its defaults are
        assumptions; benchmarks/big_drop.py measures them): these runs measure the pipeline."""
        self.admin("POST", "reset")
        self.admin("PUT", "limits", {"concurrent_jobs": 0, "requests_per_second": 0})

    def akool_requests(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.admin("GET", "requests")["requests"]
        return entries

    def akool_jobs(self) -> list[dict[str, Any]]:
        jobs: list[dict[str, Any]] = self.admin("GET", "jobs")["jobs"]
        return jobs

    # the stack: each invocation's CloudWatch log --------------------------------------------------
    def invocation_stats(self, since: float = 0.0) -> dict[str, Invocations]:
        """Invocations that ended since `since` (epoch s), per function, from their CloudWatch logs.

        MiniStack writes each invocation (event sources included; its AWS/Lambda metrics cover only the
        Invoke API) to its own log stream, START to REPORT, at its end; a handler that raised has its
        traceback there, at the start of a line (a logged exception is inside a JSON line instead).
        """
        out: dict[str, Invocations] = {}
        for logical, name in self.stack.functions.items():
            reports = self._log_lines(name, since, "REPORT Billed", "REPORT RequestId:")
            raised = self._log_lines(name, since, "Traceback", "Traceback (most recent call last):")
            durations = [float(m.group(1)) for _, line in reports
                         if (m := _DURATION.search(line)) is not None]
            out[logical] = Invocations(len(reports), len({stream for stream, _ in raised}), sum(durations))
        return out

    def _log_lines(self, function_name: str, since: float, pattern: str,
                   prefix: str) -> list[tuple[str, str]]:
        events = self._logs.filter_log_events(
            logGroupName=f"/aws/lambda/{function_name}", startTime=int(since * 1000), filterPattern=pattern,
            limit=_LOG_LIMIT,
        )["events"]
        if len(events) >= _LOG_LIMIT:  # MiniStack's FilterLogEvents has no next page
            raise RuntimeError(f"more than {_LOG_LIMIT} log lines match {pattern!r}: use a shorter window")
        return [(str(e["logStreamName"]), str(e["message"])) for e in events
                if str(e["message"]).startswith(prefix)]

    def invocations(self, since: float = 0.0) -> dict[str, int]:
        return {k: v.count for k, v in self.invocation_stats(since).items()}

    def wait_invocations(self, function: str, at_least: int, since: float, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while self.invocations(since)[function] < at_least:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{function} was not invoked {at_least} times within {timeout:.0f}s")
            time.sleep(0.05)

    def wait_idle(self, timeout: float = 60.0, settle: float = 0.3) -> None:
        """Until the work queues are empty and no invocation ends and no function worker uses CPU or
        starts for `settle` seconds.

        MiniStack shows no invocations in flight, so this is a heuristic: a handler blocked on a
        network answer longer than `settle` looks idle (callers that know what to expect wait for it).
        """
        since = time.time() - 1.0
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        last: Any = None
        while time.monotonic() < deadline:
            queued = sum(self.queue_depths(WORK_QUEUES).values())
            now = (sum(self.invocations(since).values()), sorted(self.workers().items()),
                   self.cpu_seconds()["function_workers"], queued)
            if now != last or queued:
                quiet_since, last = time.monotonic(), now
            elif time.monotonic() - (quiet_since or 0.0) >= settle:
                return
            time.sleep(0.1)
        raise TimeoutError("the local stack did not go idle")

    # the stack's processes (Linux /proc) ------------------------------------------------------------
    def _worker_pids(self) -> dict[int, str]:
        """Function worker processes alive -> their function's logical id (MiniStack's children, each
        running in a folder named after the function)."""
        ministack = self.stack.ministack
        parent = ministack.pid if ministack is not None else None
        names = {name: logical for logical, name in self.stack.functions.items()}
        out: dict[int, str] = {}
        if parent is None:
            return out
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if int(_stat_fields(proc)[1]) != parent:
                    continue
                cwd = os.readlink(proc / "cwd")
            except (OSError, IndexError, ValueError):
                continue
            for name, logical in names.items():
                if f"ministack-lambda-{name}-" in cwd:
                    out[int(proc.name)] = logical
        return out

    def workers(self) -> dict[str, int]:
        """Function worker processes alive per function. MiniStack starts one when an invocation finds
        every existing one busy and keeps idle ones for minutes, so within a run this is the peak
        concurrency the function reached."""
        alive = Counter(self._worker_pids().values())
        return {name: alive.get(name, 0) for name in FUNCTIONS}

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time so far: MiniStack's server process, the function workers alive, and this process
        (the driver and the AKOOL emulator share it)."""
        tick = os.sysconf("SC_CLK_TCK")

        def cpu(pid: int) -> float:
            try:
                fields = _stat_fields(Path(f"/proc/{pid}"))
                return (int(fields[11]) + int(fields[12])) / tick
            except (OSError, IndexError, ValueError):
                return 0.0

        ministack = self.stack.ministack
        server = cpu(ministack.pid) if ministack is not None and ministack.pid is not None else 0.0
        workers = sum(cpu(pid) for pid in self._worker_pids())
        return {"ministack": server, "function_workers": workers, "driver_and_emulator": time.process_time()}

    def account_concurrency(self) -> int:
        """The account's concurrency limit as MiniStack enforces it (throttles beyond it)."""
        limit: int = self._lambda.get_account_settings()["AccountLimit"]["ConcurrentExecutions"]
        return limit


def _stat_fields(proc: Path) -> list[str]:
    """/proc/<pid>/stat after the command name: [state, ppid, ..., utime (11), stime (12), ...]."""
    return (proc / "stat").read_text().rsplit(")", 1)[1].split()


class ReportWatcher:
    """Polls results/<prefix> with one LIST per tick and records when each report is first seen terminal.

    A report exists from the job's first moment (QUEUED, then WAITING or PROCESSING: live states), so its
    appearance is not its end: a report whose ETag changed since the last tick is read (one GET) for its
    status."""

    def __init__(self, driver: Driver, prefix: str, interval: float = 0.2) -> None:
        self.driver = driver
        self.prefix = prefix
        self.interval = interval
        self.seen: dict[str, float] = {}
        self._etags: dict[str, str] = {}  # the ETag of each report as last read, not yet terminal
        # Waiters sleep until a poll finds something: many waiting users cost no CPU of their own.
        self._changed = threading.Condition()
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
                    key = obj["Key"]
                    if (not key.endswith(".result.json") or key in self.seen
                            or self._etags.get(key) == obj["ETag"]):
                        continue
                    report = self.driver.read_json(key) or {}
                    self._etags[key] = obj["ETag"]  # only once read: a failed read is tried again
                    if report.get("status") in TERMINAL:  # Status is a StrEnum
                        with self._changed:
                            self.seen.setdefault(key, now)
        except Exception:  # noqa: S110 - a failed LIST (e.g. at shutdown) is retried on the next tick
            pass
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, keys: Iterable[str], timeout: float) -> bool:
        wanted = set(keys)
        with self._changed:
            return self._changed.wait_for(lambda: wanted <= self.seen.keys(), timeout)


# -- counting ------------------------------------------------------------------------------------------
@dataclass
class CallCounts:
    """AWS calls (MiniStack's CloudTrail, by caller) and AKOOL calls (the emulator's request log)."""

    aws: Counter[AwsCall] = field(default_factory=Counter)
    akool: Counter[str] = field(default_factory=Counter)

    def by_function(self) -> dict[str, int]:
        return by_function(self.aws, FUNCTIONS)

    def function_total(self) -> int:
        return sum(self.by_function().values())

    def other_total(self) -> int:
        """The driver's and the stack's own requests, and the functions' presigned URLs used by AKOOL."""
        return sum(n for c, n in self.aws.items() if c.caller not in FUNCTIONS)

    def admin_total(self) -> int:
        return sum(n for c, n in self.aws.items() if c.caller == ADMIN)

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


def new_prefix(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:6]}/"

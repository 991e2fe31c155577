"""What a user (or a pipeline) does against the local stack: boto3 on the local endpoint, the emulator's
admin API for faults and its request log, and the functions' logs as `sam logs` shows them. No access to
the stack's internals; the reconciler is invoked by hand (as an operator may) instead of waiting for its
schedule."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from devkit import photos
from dropswap.adapters.slot_store import SLOTS_ITEM_ID
from dropswap.domain.credits import credits_item_id, utc_day
from dropswap.domain.job_events import SUBMITTED_DETAIL_TYPE
from dropswap.domain.jobs import TERMINAL
from local import events_feed
from local.stack import LocalStack

# The stack's AkoolMaxJobsInFlight parameter in the integration tests (conftest.py).
AKOOL_MAX_JOBS_IN_FLIGHT = 2
DETECT_PATH = "/interface/detect-api/detect_faces"
SUBMIT_PATHS = ("/api/open/v4/faceswap/faceswapByImage", "/api/open/v3/faceswap/highquality/specifyimage")

HOPPER = photos.jpeg_bytes(photos.grace_hopper_bgr())
ASTRONAUT = photos.jpeg_bytes(photos.astronaut_bgr())
COLLAGE = photos.jpeg_bytes(photos.collage_bgr())


def results_base(image_key: str) -> str:
    return "results/" + image_key[len("inbox/"):]


class User:
    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.s3 = stack.client("s3")
        self.bucket = stack.bucket
        self.prefix = f"inbox/t-{uuid.uuid4().hex[:8]}/"

    # -- S3 ------------------------------------------------------------------------------------
    def put(self, key: str, body: bytes, content_type: str = "image/jpeg") -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def put_sidecar(self, image_key: str, manifest: dict[str, Any]) -> None:
        self.put(image_key + ".faceswap.json", json.dumps(manifest).encode(), "application/json")

    def report(self, image_key: str) -> dict[str, Any] | None:
        try:
            key = results_base(image_key) + ".result.json"
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        except self.s3.exceptions.NoSuchKey:
            return None
        data: dict[str, Any] = json.loads(body.read())
        return data

    def wait_report(
        self, image_key: str, timeout: float = 120.0, status: str | None = None
    ) -> dict[str, Any]:
        # Generous: the first job of a session pays every worker's cold start on a 2-core machine.
        deadline = time.monotonic() + timeout
        last: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            last = self.report(image_key)
            if last and last.get("status") in TERMINAL and (status is None or last["status"] == status):
                return last
            time.sleep(0.2)
        raise AssertionError(f"no terminal report for {image_key} within {timeout}s; last: {last}")

    def result_bytes(self, report: dict[str, Any]) -> bytes:
        key = str(report["result"]).split("/", 3)[3]
        data: bytes = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return data

    def inbox_snapshot(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix="inbox/"):
            for obj in page.get("Contents", []):
                out[obj["Key"]] = obj["ETag"]
        return out

    def result_keys(self, prefix: str) -> list[str]:
        resp = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return [o["Key"] for o in resp.get("Contents", [])]

    # -- DynamoDB (read-only, as an operator would look) --------------------------------------
    def jobs_for(self, image_key: str) -> list[dict[str, Any]]:
        ddb = self.stack.client("dynamodb")
        items: list[dict[str, Any]] = []
        for page in ddb.get_paginator("scan").paginate(TableName=self.stack.table):
            for item in page["Items"]:
                if item.get("image_key", {}).get("S") == image_key:
                    items.append({k: next(iter(v.values())) for k, v in item.items()})
        return items

    # -- completion events (the local stack routes DropswapEventBus to .dropswap/events.jsonl) ----
    def events_for(self, image_key: str) -> list[dict[str, Any]]:
        """The completion events published so far for a photo, oldest first (not its progress events:
        `Job Submitted`; all_events_for has every one)."""
        return [e for e in self.all_events_for(image_key) if e["detail-type"] != SUBMITTED_DETAIL_TYPE]

    def all_events_for(self, image_key: str) -> list[dict[str, Any]]:
        """Every event published so far for a photo, oldest first."""
        feed = Path(self.stack.config.state_dir) / "events.jsonl"
        lines = feed.read_text(encoding="utf-8").splitlines() if feed.exists() else []
        return [e for e in map(json.loads, lines) if e["detail"]["data"]["image"]["key"] == image_key]

    # -- AKOOL emulator ------------------------------------------------------------------------
    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        resp = requests.request(method, f"{self.stack.akool_url}/_emulator/{path}", json=body, timeout=10,
                                verify=str(self.stack.tls.bundle))
        resp.raise_for_status()
        data: dict[str, Any] = resp.json()
        return data

    def detections(self) -> list[dict[str, Any]]:
        """AKOOL detect_faces requests the emulator received, oldest first."""
        return [e for e in self.admin("GET", "requests")["requests"] if e.get("path") == DETECT_PATH]

    def submissions(self) -> list[dict[str, Any]]:
        """AKOOL submissions the emulator accepted or refused, with the job id from their webhook URL."""
        out = []
        for entry in self.admin("GET", "requests")["requests"]:
            if entry.get("path") in SUBMIT_PATHS:
                body = entry.get("body") or {}
                hook = urlsplit(str(body.get("webhookUrl", ""))).path
                out.append({"job_id": hook.rsplit("/", 1)[-1], "entry": entry})
        return out

    def reconcile(self) -> Any:
        return self.stack.run_schedule("ReconcileFunction")

    # -- the functions' logs (the local stack copies each function's CloudWatch log every second) --
    def log_records(self, function: str) -> list[dict[str, Any]]:
        """The JSON records a function (logical id) has logged so far; START/END lines are skipped."""
        path = Path(self.stack.config.state_dir) / "logs" / f"{function}.log"
        records = []
        text = path.read_text("utf-8", errors="replace") if path.exists() else ""
        for line in text.splitlines():
            if line.startswith("{"):
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue  # a line still being written
        return records

    def wait_submit_outcomes(self, key: str, after: datetime, timeout: float = 60.0) -> list[dict[str, Any]]:
        """The outcomes SubmitFunction logged for `key` in the invocations that received an S3 event for it
        after `after` (so: the handling of an upload made then), once those invocations have finished."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            records = self.log_records("SubmitFunction")
            invocations = {
                r.get("function_request_id") for r in records
                if r.get("message") == "object created" and r.get("key") == key and _logged_at(r) >= after
            }
            outcomes = [
                r for r in records
                if r.get("message") == "outcome" and r.get("key") == key
                and r.get("function_request_id") in invocations
            ]
            if outcomes:
                return outcomes
            time.sleep(0.5)
        raise AssertionError(f"no SubmitFunction outcome for {key} received after {after} within {timeout}s")

    def function_log(self, logical: str) -> list[str]:
        """Every line a function wrote to its CloudWatch log group (its EMF metric records included)."""
        logs = self.stack.client("logs")
        kwargs: dict[str, Any] = {"logGroupName": f"/aws/lambda/{self.stack.functions[logical]}"}
        lines: list[str] = []
        try:
            while True:
                page = logs.filter_log_events(**kwargs)
                lines.extend(str(e["message"]) for e in page.get("events", []))
                token = page.get("nextToken")
                if not token or token == kwargs.get("nextToken"):
                    return lines
                kwargs["nextToken"] = token
        except logs.exceptions.ResourceNotFoundException:
            return lines

    def metric_count(self, logical: str, name: str) -> float:
        """The sum of a Powertools metric over a function's log (EMF records: {"_aws": …, name: [values]})."""
        total = 0.0
        for line in self.function_log(logical):
            start = line.find('{"_aws"')
            if start >= 0 and f'"{name}"' in line:
                total += sum(json.loads(line[start:]).get(name, []))
        return total

    # -- AKOOL slots (pacing) -----------------------------------------------------------------
    def slot_holders(self) -> list[str]:
        """The jobs holding one of the account's AKOOL slots (the pacing item in the Jobs table)."""
        item = self.stack.client("dynamodb").get_item(
            TableName=self.stack.table, Key={"job_id": {"S": SLOTS_ITEM_ID}}, ConsistentRead=True
        ).get("Item") or {}
        return sorted(item.get("holders", {}).get("SS", []))

    def credits_spent_today(self) -> int:
        """The AKOOL credits the stack has counted on today's UTC day (its credit budget's item)."""
        item = self.stack.client("dynamodb").get_item(
            TableName=self.stack.table, Key={"job_id": {"S": credits_item_id(utc_day(time.time()))}},
            ConsistentRead=True,
        ).get("Item") or {}
        return int(item.get("spent", {}).get("N", "0"))

    def settle(self, timeout: float = 120.0) -> None:
        """Wait until no job holds an AKOOL slot, running the reconciler as its schedule would: a test
        that ends with a job still at AKOOL (its webhook lost or not yet sent) must not leave that slot to
        the next test, whose emulator reset forgets the job. A slot still held at the end is a leak."""
        deadline = time.monotonic() + timeout
        while holders := self.slot_holders():
            if time.monotonic() > deadline:
                raise AssertionError(f"AKOOL slots still held after {timeout}s: {holders}")
            self.reconcile()
            time.sleep(1.0)

    # -- queues --------------------------------------------------------------------------------
    def queue_depth(self, output: str) -> int:
        """Messages in the queue a stack output names (e.g. SubmitDLQUrl), visible, in flight or delayed."""
        return self._depth(self.stack.outputs[output])

    def _depth(self, queue_url: str) -> int:
        attrs = self.stack.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ])["Attributes"]
        return sum(int(attrs.get(name, "0")) for name in (
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ))

    def wait_at_rest(self, timeout: float = 180.0) -> None:
        """Wait until the pipeline has finished with everything handed to it so far, stage by stage as each
        feeds the next: the SubmitQueue drained (each message handled and deleted), the AKOOL emulator quiet
        (no job unfinished, no callback scheduled or being sent: GET /_emulator/activity; WebhookFunction
        queues AKOOL's word before it answers), the FinaliseQueue drained, then the queue of the local
        events feed drained (each event written to events.jsonl before it is deleted). Wait for this, not a
        fixed time, before asserting that something did NOT happen. The reconciler is not waited for: the
        tests run it themselves."""
        events_queue = self.stack.client("sqs").get_queue_url(QueueName=events_feed.QUEUE)["QueueUrl"]
        stages: list[tuple[str, Callable[[], bool]]] = [
            ("SubmitQueue drained", lambda: self.queue_depth("SubmitQueueUrl") == 0),
            ("AKOOL emulator quiet", lambda: bool(self.admin("GET", "activity")["quiet"])),
            ("FinaliseQueue drained", lambda: self.queue_depth("FinaliseQueueUrl") == 0),
            ("events queue drained", lambda: self._depth(events_queue) == 0),
        ]
        deadline = time.monotonic() + timeout
        for what, done in stages:
            while not done():
                if time.monotonic() > deadline:
                    raise AssertionError(f"pipeline not at rest within {timeout}s: waiting for {what}")
                time.sleep(0.3)


def _logged_at(record: dict[str, Any]) -> datetime:
    # Powertools' format: "2026-12-01 05:11:02,590+0000" (milliseconds, UTC offset)
    return datetime.strptime(str(record.get("timestamp")), "%Y-%m-%d %H:%M:%S,%f%z")

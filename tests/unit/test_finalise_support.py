"""Helpers shared by the finalise, webhook and reconcile tests (this module holds no tests)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3

from dropswap.adapters.job_store import JobStore
from dropswap.adapters.object_store import ObjectStore
from dropswap.adapters.result_fetch import HttpResultFetcher
from dropswap.domain.akool import AkoolError, AkoolJobInfo, FetchedResult
from dropswap.domain.jobs import Job, Status
from dropswap.domain.tokens import hash_token
from dropswap.flows.common.finaliser import Finaliser
from events.generate import AKOOL_ID, IMAGE_KEY, JOB_ID, TOKEN
from tests.conftest import BUCKET, REGION, TABLE

JPEG = b"\xff\xd8\xff\xe0" + b"swapped-pixels" * 64 + b"\xff\xd9"
RESULT_KEY = "results/party/team.swapped.jpg"
REPORT_KEY = "results/party/team.jpg.result.json"


def store(clock: Callable[[], float] = time.time) -> JobStore:
    return JobStore(boto3.client("dynamodb", region_name=REGION), TABLE, clock=clock)


def objects() -> ObjectStore:
    return ObjectStore(boto3.client("s3", region_name=REGION), BUCKET)


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat(timespec="milliseconds")


def make_job(
    job_id: str = JOB_ID,
    *,
    akool_id: str = AKOOL_ID,
    token: str = TOKEN,
    image_key: str = IMAGE_KEY,
    status: Status = Status.SUBMITTED,
    at: float | None = None,
) -> Job:
    """A job as the submitter leaves it (SUBMITTED, or PROCESSING), created `at` (epoch seconds)."""
    when = time.time() if at is None else at
    s = store(clock=lambda: when)
    res = s.transition(
        job_id,
        Status.SUBMITTED,
        set_fields={
            "bucket": BUCKET,
            "image_key": image_key,
            "sidecar_key": image_key + ".faceswap.json",
            "sidecar_etag": "etag-1",
            "engine": "pro",
            "akool_id": akool_id,
            "akool_job_id": "20240102082900592-5653",
            "token_hash": hash_token(token),
            "submitted_at": iso(when),
        },
    )
    assert res.applied and res.job
    if status is Status.PROCESSING:
        res = s.transition(job_id, Status.PROCESSING, set_fields={"akool_status": 2})
    assert res.applied and res.job
    return res.job


def make_waiting_job(job_id: str, *, waiting_for: str, at: float) -> Job:
    res = store(clock=lambda: at).transition(
        job_id,
        Status.WAITING,
        set_fields={
            "bucket": BUCKET,
            "image_key": f"inbox/w/{job_id}.jpg",
            "sidecar_key": f"inbox/w/{job_id}.jpg.faceswap.json",
            "sidecar_etag": "etag-w",
            "waiting_for": waiting_for,
        },
    )
    assert res.applied and res.job
    return res.job


def get_job(job_id: str = JOB_ID) -> Job:
    job = store().get(job_id)
    assert job is not None
    return job


def s3_keys() -> list[str]:
    resp = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET, Prefix="results/")
    return sorted(o["Key"] for o in resp.get("Contents", []))


def s3_bytes(key: str) -> bytes:
    body: bytes = boto3.client("s3", region_name=REGION).get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return body


def s3_json(key: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(s3_bytes(key))
    return data


class CountingFetcher:
    """Wraps the real fetcher and counts downloads (the idempotency tests assert on it)."""

    def __init__(self, inner: HttpResultFetcher) -> None:
        self.inner = inner
        self.calls = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def fetch(self, url: str) -> Iterator[FetchedResult]:
        with self._lock:
            self.calls += 1
        with self.inner.fetch(url) as result:
            yield result


def finaliser(
    *, https_only: bool = True, max_bytes: int = 10 * 1024 * 1024
) -> tuple[Finaliser, CountingFetcher]:
    fetcher = CountingFetcher(
        HttpResultFetcher(https_only=https_only, max_bytes=max_bytes, timeout_seconds=5, attempts=1)
    )
    return Finaliser(store(), objects(), fetcher, lease_seconds=600), fetcher


@dataclass
class FakeAkool:
    """listbyids as AKOOL answers it: ids it knows, in AkoolJobInfo form; unknown ids are absent."""

    jobs: dict[str, tuple[int, str | None]] = field(default_factory=dict)
    fail: bool = False
    calls: list[list[str]] = field(default_factory=list)

    def list_by_ids(self, ids: Sequence[str]) -> list[AkoolJobInfo]:
        self.calls.append(list(ids))
        if self.fail:
            raise AkoolError("listbyids: cannot reach AKOOL (ConnectionError)", retryable=True)
        out = []
        for i in ids:
            if i in self.jobs:
                status, url = self.jobs[i]
                raw = {"_id": i, "faceswap_status": status, "url": url}
                out.append(AkoolJobInfo(akool_id=i, status=status, url=url, raw=raw))
        return out


class FakeContext:
    """The parts of a Lambda context the handlers and Powertools read."""

    function_name = "dropswap-test"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:dropswap-test"
    memory_limit_in_mb = 512
    aws_request_id = "req-1"
    log_group_name = "/aws/lambda/dropswap-test"
    log_stream_name = "stream"

    def __init__(self, remaining_ms: int = 120_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms

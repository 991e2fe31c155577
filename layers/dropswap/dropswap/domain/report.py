"""The status report of a photo's job: results/<path>/<name>.<ext>.result.json.

It exists from the job's first moment and follows it (ARCHITECTURE §4 "Live states"): QUEUED (taken by the
submit flow, waiting for its turn), WAITING (`waiting_for` "input" | "AKOOL slot" | "credit budget", and
`expires_at`: when the job gives up, or null when nothing ends the wait), PROCESSING (at AKOOL since
`timings.submitted_at`), then SUCCEEDED/FAILED/REJECTED. A live report is written on a state change only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from dropswap.domain.jobs import Job, Status, iso_time

# The report's status while the submit flow has the job but nothing else is known yet (not a record status).
QUEUED = "QUEUED"
# `waiting_for` of a WAITING report (what the job waits for). The record's own `waiting_for` says it apart:
# an input's key, credits.CREDIT_BUDGET, or jobs.AKOOL_SLOT.
WAITING_INPUT = "input"


def build_report(
    job: Job,
    *,
    status: Status | None = None,
    error: dict[str, str] | None = None,
    result_key: str | None = None,
    akool: dict[str, Any] | None = None,
    timings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The contract's shape: job_id, status, image, manifest, result, faces, error, metadata, akool,
    timings.

    `status`, `error` and `result_key` override what the job record holds (the report is usually
    written just before the final transition, so the record does not have them yet).
    """
    final = status or job.status
    err = error if error is not None else job.error
    result = result_key if result_key is not None else job.result_key
    akool_info = {
        k: v
        for k, v in {
            "_id": job.akool_id,
            "job_id": job.akool_job_id,
            "engine": job.engine,
            "status": job.akool_status,
        }.items()
        if v is not None
    }
    # Detection's cost (AKOOL documents credits for swaps only): kept with the request summary.
    detect_calls = (job.request_summary or {}).get("detect_calls")
    if detect_calls is not None:
        akool_info["detect_calls"] = int(detect_calls)  # a Decimal when read back from DynamoDB
    akool_info.update(akool or {})
    times = {"created_at": job.created_at, "submitted_at": job.submitted_at, "finished_at": job.finished_at}
    times.update(timings or {})
    return {
        "job_id": job.job_id,
        "status": final.value,
        "image": f"s3://{job.bucket}/{job.image_key}" if job.bucket else job.image_key,
        "manifest": f"s3://{job.bucket}/{job.sidecar_key}" if job.bucket else job.sidecar_key,
        "result": f"s3://{job.bucket}/{result}" if result and job.bucket else result,
        "faces": faces_of(job) if final is Status.SUCCEEDED else None,
        "error": err if final in (Status.FAILED, Status.REJECTED) else None,
        "metadata": job.metadata,
        "akool": akool_info,
        "timings": {k: v for k, v in times.items() if v is not None},
    }


def queued_report(job: Job, *, at: str) -> dict[str, Any]:
    """QUEUED: the submit flow took the job at `at` (accepted, waiting for its turn)."""
    report = build_report(job, status=Status.WAITING, timings={"queued_at": at})
    report["status"] = QUEUED
    return report


def waiting_report(
    job: Job, waiting_for: str, *, expires_at: str | None, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """WAITING for `waiting_for` ("input" | "AKOOL slot" | "credit budget") until `expires_at` (None: no
    deadline); `extra`: what the kind adds (`missing` for an input, `budget` for the credit budget)."""
    report = build_report(job, status=Status.WAITING)
    report["waiting_for"] = waiting_for
    report["expires_at"] = expires_at
    report.update(extra or {})
    return report


def processing_report(job: Job, *, submitted_at: str) -> dict[str, Any]:
    """PROCESSING: AKOOL accepted the swap at `submitted_at` (the record's SUBMITTED and PROCESSING both)."""
    return build_report(replace(job, submitted_at=submitted_at), status=Status.PROCESSING)


def expires_at(created_at: str, max_age_seconds: int) -> str | None:
    """When a wait that ends `max_age_seconds` after the job's record was created gives up (None: the
    record's time is unreadable)."""
    try:
        start = datetime.fromisoformat(created_at)
    except ValueError:
        return None
    return iso_time((start + timedelta(seconds=max_age_seconds)).timestamp())


def faces_of(job: Job) -> list[dict[str, Any]] | None:
    """A SUCCEEDED job's faces, from what its record keeps of the request: for a swap, each face
    replaced (index and box in the photo, as a manifest's target numbers them, and its source); for a
    `"mode": "faces"` job, each face found. (Numbers read back from DynamoDB are Decimals: int() them.)"""
    summary = job.request_summary or {}
    if summary.get("mode") == "faces":
        return [{"index": int(f["index"]), "box": _box(f["box"])} for f in summary.get("faces", [])]
    pairs = summary.get("pairs")
    if pairs is None:
        return None
    # Records written before detection always ran kept "largest" and no box for a Pro shortcut: None.
    return [
        {
            "index": None if isinstance(p.get("face"), str) else int(p["face"]),
            "box": _box(p["region"]) if p.get("region") is not None else None,
            "source": p.get("source"),
        }
        for p in pairs
    ]


def _box(values: Any) -> list[int]:
    return [int(v) for v in values]

"""The events of a job (ARCHITECTURE §9; schema: schemas/events/job-event.schema.json).

One completion event per terminal job, published after its report is written: `source` "dropswap", a
`detail-type` per terminal status, and a `detail` whose `metadata.id` depends on the job alone, so the retry
of an ending that crashed after publishing sends the same id and a consumer can drop the repeat.
`Job Waiting` (v3): a job held back by the credit budget (credits.py), once per job, in the same envelope,
with what it waits for and the budget as it stood; its id is the job's too, another than its ending's.
`Job Submitted` (v3): AKOOL accepted the job's swap (its report turns PROCESSING), once per job, in the same
envelope; optional for subscribers (the terminal three say how a job ended without it).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from dropswap.domain import keys
from dropswap.domain.jobs import Job, Status

SOURCE = "dropswap"
DETAIL_TYPES: dict[Status, str] = {
    Status.SUCCEEDED: "Job Succeeded",
    Status.FAILED: "Job Failed",
    Status.REJECTED: "Job Rejected",
}
WAITING_DETAIL_TYPE = "Job Waiting"
SUBMITTED_DETAIL_TYPE = "Job Submitted"
# Fixed namespace: the same job id gives the same event id in every deployment and every retry.
_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/dropswap/events/job")


def event_id(job_id: str) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, job_id))


def waiting_event_id(job_id: str) -> str:
    """The id of a job's `Job Waiting` event: the same at every publication, never its ending's id."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{job_id}/waiting"))


def submitted_event_id(job_id: str) -> str:
    """The id of a job's `Job Submitted` event: the same at every publication, never another event's."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{job_id}/submitted"))


def completion_event(
    job: Job,
    status: Status,
    *,
    finished_at: str,
    error: dict[str, str] | None,
    result_key: str | None,
) -> tuple[str, dict[str, Any]]:
    """(detail-type, detail) of `job` ending in the terminal `status`."""
    result = result_key if result_key is not None else job.result_key
    return DETAIL_TYPES[status], {
        "metadata": {"version": "1", "id": event_id(job.job_id), "time": finished_at},
        "data": {
            "job_id": job.job_id,
            "status": status.value,
            "image": {"bucket": job.bucket, "key": job.image_key},
            "result": {"key": result} if status is Status.SUCCEEDED and result else None,
            "report": {"key": keys.report_key(job.image_key)},
            "error": error if status is not Status.SUCCEEDED else None,
            "metadata": job.metadata,
        },
    }


def waiting_event(
    job: Job, *, at: str, waiting_for: str, budget: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    """(detail-type, detail) of `job` waiting (for the credit budget: `waiting_for`), since `at`. `budget`:
    credits_per_day, day, spent, needed, resets_at (credits.BudgetState)."""
    return WAITING_DETAIL_TYPE, {
        "metadata": {"version": "1", "id": waiting_event_id(job.job_id), "time": at},
        "data": {
            "job_id": job.job_id,
            "status": Status.WAITING.value,
            "image": {"bucket": job.bucket, "key": job.image_key},
            "result": None,
            "report": {"key": keys.report_key(job.image_key)},
            "error": None,
            "metadata": job.metadata,
            "waiting_for": waiting_for,
            "budget": {k: budget[k] for k in ("credits_per_day", "day", "spent", "needed", "resets_at")},
        },
    }


def submitted_event(job: Job, *, at: str) -> tuple[str, dict[str, Any]]:
    """(detail-type, detail) of `job` accepted by AKOOL at `at`: status PROCESSING, as its report shows it."""
    return SUBMITTED_DETAIL_TYPE, {
        "metadata": {"version": "1", "id": submitted_event_id(job.job_id), "time": at},
        "data": {
            "job_id": job.job_id,
            "status": Status.PROCESSING.value,
            "image": {"bucket": job.bucket, "key": job.image_key},
            "result": None,
            "report": {"key": keys.report_key(job.image_key)},
            "error": None,
            "metadata": job.metadata,
        },
    }

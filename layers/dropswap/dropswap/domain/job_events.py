"""The completion event of a job (ARCHITECTURE §9; schema: schemas/events/job-event.schema.json).

One per terminal job, published after its report is written: `source` "dropswap", a `detail-type` per
terminal status, and a `detail` whose `metadata.id` depends on the job alone, so the retry of an ending
that crashed after publishing sends the same id and a consumer can drop the repeat.
"""

from __future__ import annotations

import uuid
from typing import Any

from dropswap.domain import keys
from dropswap.domain.jobs import Job, Status

SOURCE = "dropswap"
DETAIL_TYPES: dict[Status, str] = {
    Status.SUCCEEDED: "Job Succeeded",
    Status.FAILED: "Job Failed",
    Status.REJECTED: "Job Rejected",
}
# Fixed namespace: the same job id gives the same event id in every deployment and every retry.
_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/dropswap/events/job")


def event_id(job_id: str) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, job_id))


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

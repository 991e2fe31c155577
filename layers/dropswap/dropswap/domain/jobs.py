"""The job: its record, statuses, legal transitions and deterministic id.

Pure rules, no AWS: the job store (job_store.py) turns these into conditional DynamoDB writes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from dropswap.domain import keys


class Status(StrEnum):
    WAITING = "WAITING"  # sidecar seen, an input it names is not in S3 yet
    SUBMITTED = "SUBMITTED"  # AKOOL accepted the swap
    PROCESSING = "PROCESSING"  # AKOOL said it is queued/processing (status 1/2)
    SUCCEEDED = "SUCCEEDED"  # result stored under results/
    FAILED = "FAILED"  # AKOOL or we failed after the input was accepted
    REJECTED = "REJECTED"  # bad input, never sent to AKOOL


# The record's `waiting_for` of a job that found every AKOOL slot in use (pacing.py) and went back to the
# queue. Not an S3 key (those start with inbox/ or s3://), so no upload event finds it in the waiting-for
# index; its report shows WAITING for it once, not at every retry.
AKOOL_SLOT = "AKOOL slot"

TERMINAL: frozenset[Status] = frozenset({Status.SUCCEEDED, Status.FAILED, Status.REJECTED})
OPEN: frozenset[Status] = frozenset({Status.SUBMITTED, Status.PROCESSING})

# Which statuses a job may be in for a write that moves it to the key status.
# None stands for "no record yet". Terminal states have no way out.
ALLOWED_FROM: dict[Status, frozenset[Status | None]] = {
    Status.WAITING: frozenset({None, Status.WAITING}),
    Status.SUBMITTED: frozenset({None, Status.WAITING}),
    Status.PROCESSING: frozenset({Status.SUBMITTED, Status.PROCESSING}),
    # A "mode": "faces" job (detection only, nothing sent to swap) succeeds from WAITING, under its claim.
    Status.SUCCEEDED: frozenset({Status.WAITING, Status.SUBMITTED, Status.PROCESSING}),
    # A submit that AKOOL refuses for good (quota, auth) fails a job that never reached SUBMITTED.
    Status.FAILED: frozenset({None, Status.WAITING, Status.SUBMITTED, Status.PROCESSING}),
    Status.REJECTED: frozenset({None, Status.WAITING}),
}


def iso_time(epoch: float) -> str:
    """A job record's time format (created_at, updated_at, finished_at, ...): ISO 8601 UTC, in ms."""
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat(timespec="milliseconds")


def job_id_for(
    bucket: str, sidecar_key: str, sidecar_version: str, image_key: str, image_version: str
) -> str:
    """Same bucket + manifest key and version + photo key and version → same job; a changed manifest or
    a replaced photo → a new job. `image_version` is "" while the photo is not there yet (submitter.py)."""
    parts = (bucket, sidecar_key, sidecar_version, image_key, image_version)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


@dataclass
class Job:
    """A job record as the store holds it."""

    job_id: str
    status: Status
    bucket: str = ""
    image_key: str = ""
    sidecar_key: str = ""
    sidecar_etag: str = ""
    image_etag: str = ""  # the photo's version the job is for; "" while it was not there yet
    engine: str | None = None
    akool_id: str | None = None
    akool_job_id: str | None = None
    token_hash: str | None = None
    result_key: str | None = None
    report_key: str | None = None
    error: dict[str, str] | None = None
    attempts: int = 0
    waiting_for: str | None = None
    akool_status: int | None = None
    result_url: str | None = None
    created_at: str = ""
    updated_at: str = ""
    submitted_at: str | None = None
    finished_at: str | None = None
    request_summary: dict[str, Any] | None = None
    # The manifest's `metadata` as JSON text: DynamoDB cannot hold the floats a user's object may have.
    metadata_json: str | None = None
    # What AKOOL's detector found in the job's images, as JSON (detections.Detections): a retry of the
    # job asks it nothing again.
    detections_json: str | None = None
    # The store's own attributes (claim and lease holders, index keys, ttl), as they were read.
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def claim_live(self, now: float) -> bool:
        """A submitter holds the job's submission claim at `now` (its lease has not lapsed)."""
        until = self.extra.get("claim_until")
        return until is not None and float(until) >= now

    @property
    def metadata(self) -> Any:
        """The user's metadata as the manifest gave it (None: none given)."""
        return None if self.metadata_json is None else json.loads(self.metadata_json)


@dataclass(frozen=True)
class TransitionResult:
    """The answer to a conditional write: a refusal is an answer, not an error."""

    applied: bool
    job: Job | None  # the job after the write if applied, else as it stands (None: no record)


@dataclass(frozen=True)
class JobRef:
    """What identifies a job of the submit path; `fields()` is written with every transition, so a
    record created by any of them names its inputs and report."""

    bucket: str
    job_id: str
    sidecar_key: str
    sidecar_version: str
    image_version: str  # "" while the photo is not there yet
    # The photo: "" means the sidecar's own (the sidecar key without .faceswap.json); a folder
    # manifest's job names its photo (`sidecar_key` is then the folder manifest's key).
    image_key: str = ""

    def __post_init__(self) -> None:
        if not self.image_key:
            object.__setattr__(self, "image_key", keys.image_key_for_sidecar(self.sidecar_key))

    @classmethod
    def of(
        cls, bucket: str, sidecar_key: str, sidecar_version: str, image_version: str, image_key: str = ""
    ) -> JobRef:
        image_key = image_key or keys.image_key_for_sidecar(sidecar_key)
        job_id = job_id_for(bucket, sidecar_key, sidecar_version, image_key, image_version)
        return cls(bucket, job_id, sidecar_key, sidecar_version, image_version, image_key)

    @classmethod
    def of_job(cls, job: Job) -> JobRef:
        return cls(job.bucket, job.job_id, job.sidecar_key, job.sidecar_etag, job.image_etag, job.image_key)

    @property
    def report_key(self) -> str:
        return keys.report_key(self.image_key)

    def fields(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "image_key": self.image_key,
            "sidecar_key": self.sidecar_key,
            "sidecar_etag": self.sidecar_version,
            "image_etag": self.image_version or None,
            "report_key": self.report_key,
        }

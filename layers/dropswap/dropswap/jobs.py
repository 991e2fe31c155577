"""The job state machine: statuses, legal transitions and the deterministic job id.

Pure rules, no AWS: the job store turns these into conditional DynamoDB writes.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum


class Status(StrEnum):
    WAITING = "WAITING"  # sidecar seen, an input it names is not in S3 yet
    SUBMITTED = "SUBMITTED"  # AKOOL accepted the swap
    PROCESSING = "PROCESSING"  # AKOOL said it is queued/processing (status 1/2)
    SUCCEEDED = "SUCCEEDED"  # result stored under results/
    FAILED = "FAILED"  # AKOOL or we failed after the input was accepted
    REJECTED = "REJECTED"  # bad input, never sent to AKOOL


TERMINAL: frozenset[Status] = frozenset({Status.SUCCEEDED, Status.FAILED, Status.REJECTED})
OPEN: frozenset[Status] = frozenset({Status.SUBMITTED, Status.PROCESSING})

# Which statuses a job may be in for a write that moves it to the key status.
# None stands for "no record yet". Terminal states have no way out.
ALLOWED_FROM: dict[Status, frozenset[Status | None]] = {
    Status.WAITING: frozenset({None, Status.WAITING}),
    Status.SUBMITTED: frozenset({None, Status.WAITING}),
    Status.PROCESSING: frozenset({Status.SUBMITTED, Status.PROCESSING}),
    Status.SUCCEEDED: frozenset({Status.SUBMITTED, Status.PROCESSING}),
    # A submit that AKOOL refuses for good (quota, auth) fails a job that never reached SUBMITTED.
    Status.FAILED: frozenset({None, Status.WAITING, Status.SUBMITTED, Status.PROCESSING}),
    Status.REJECTED: frozenset({None, Status.WAITING}),
}


def can_transition(current: Status | None, new: Status) -> bool:
    return current in ALLOWED_FROM[new]


def job_id_for(bucket: str, sidecar_key: str, sidecar_version: str) -> str:
    """Same bucket + sidecar key + sidecar ETag/version → same job; a changed sidecar → a new job."""
    digest = hashlib.sha256(f"{bucket}\n{sidecar_key}\n{sidecar_version}".encode()).hexdigest()
    return digest[:32]


# AKOOL's faceswap_status codes (akool-api.md §4) and the job status each one leads to.
AKOOL_STATUS_TO_JOB: dict[int, Status] = {
    1: Status.PROCESSING,
    2: Status.PROCESSING,
    3: Status.SUCCEEDED,
    4: Status.FAILED,
}

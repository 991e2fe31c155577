"""Face-swap jobs: AKOOL-shaped ids, the job record, and the store behind listbyids and the admin API.

Job fields are only read or written while holding the emulator's state lock (JobStore.lock).
"""

from __future__ import annotations

import itertools
import os
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from local.emulator.validation import SwapRequest
from local.emulator.webhooks import Delivery

QUEUED, PROCESSING, SUCCEEDED, FAILED = 1, 2, 3, 4  # faceswap_status (akool-api.md §4)
FINAL = frozenset({SUCCEEDED, FAILED})

_counter = itertools.count(random.randrange(1 << 24))
_process_bytes = os.urandom(5)


def new_object_id() -> str:
    """A 24-hex MongoDB ObjectId: 4-byte seconds, 5 process bytes, 3-byte counter (as AKOOL's _id)."""
    seconds = int(time.time()).to_bytes(4, "big")
    count = (next(_counter) % (1 << 24)).to_bytes(3, "big")
    return (seconds + _process_bytes + count).hex()


def new_job_id(now: float) -> str:
    """AKOOL's job_id shape: YYYYMMDDhhmmssSSS-NNNN."""
    stamp = datetime.fromtimestamp(now, UTC)
    return f"{stamp:%Y%m%d%H%M%S}{stamp.microsecond // 1000:03d}-{random.randrange(10000):04d}"


def iso_ms(ts: float) -> str:
    stamp = datetime.fromtimestamp(ts, UTC)
    return f"{stamp:%Y-%m-%dT%H:%M:%S}.{stamp.microsecond // 1000:03d}Z"


@dataclass(eq=False)
class Job:
    id: str  # AKOOL's _id: poll with this
    job_id: str
    request: SwapRequest
    inputs: dict[str, Any]  # the submitted JSON body, for the admin API
    result_url: str  # where the result is (or will be) served
    created_at: float
    updated_at: float
    status: int = QUEUED
    reason: str | None = None  # why it failed; admin API only (listbyids has no such field)
    result: bytes | None = None
    result_type: str = "image/jpeg"
    deleted: bool = False  # delbyids or reset: hidden from the API, no more callbacks
    deleted_at: float | None = None
    reorder: bool = False  # fault: deliver the final callback before the processing one
    held: Delivery | None = None  # the processing callback held back by `reorder`
    history: list[dict[str, Any]] = field(default_factory=list)
    webhooks: list[Delivery] = field(default_factory=list)

    @property
    def visible_url(self) -> str:
        # v3 hands out its result URL at submit (pre-allocated); Pro only has one once it succeeded.
        if self.request.api == "v3" or self.status == SUCCEEDED:
            return self.result_url
        return ""

    def set_status(self, status: int, now: float) -> None:
        self.status = status
        self.updated_at = now
        self.history.append({"status": status, "at": now})

    def listbyids_entry(self, user_id: str, uid: int) -> dict[str, Any]:
        return {
            "faceswap_type": 1,
            "faceswap_quality": 2,
            "faceswap_status": self.status,
            "deduction_status": 1,
            "image": 1,
            "video_duration": 0,
            "deduction_duration": 0,
            "update_time": int(self.updated_at * 1000),
            "_id": self.id,
            "userId": user_id,
            "uid": uid,
            "url": self.visible_url,
            "createdAt": iso_ms(self.created_at),
        }

    def first_at(self, statuses: frozenset[int]) -> float | None:
        return next((h["at"] for h in self.history if h["status"] in statuses), None)

    @property
    def done_at(self) -> float | None:
        """When the job stopped holding an account slot: its final status, or its deletion before that."""
        final = self.first_at(FINAL)
        return final if final is not None else self.deleted_at

    def admin_json(self) -> dict[str, Any]:
        return {
            "_id": self.id,
            "job_id": self.job_id,
            "api": self.request.api,
            "status": self.status,
            "url": self.visible_url,
            "result_url": self.result_url,
            "result_ready": self.result is not None,
            "result_bytes": len(self.result) if self.result is not None else None,
            "reason": self.reason,
            "deleted": self.deleted,
            "inputs": self.inputs,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            # The account-slot timeline (concurrent_jobs): accepted -> processing -> done.
            "accepted_at": self.created_at,
            "processing_at": self.first_at(frozenset({PROCESSING})),
            "done_at": self.done_at,
            "history": list(self.history),
            "webhooks": [d.to_json() for d in self.webhooks],
        }


class JobStore:
    def __init__(self, lock: threading.RLock) -> None:
        self.lock = lock
        self._jobs: dict[str, Job] = {}

    def add(self, job: Job) -> None:
        with self.lock:
            self._jobs[job.id] = job

    def get(self, job_id: str, include_deleted: bool = False) -> Job | None:
        with self.lock:
            job = self._jobs.get(job_id)
            if job is None or (job.deleted and not include_deleted):
                return None
            return job

    def all(self) -> list[Job]:
        with self.lock:
            return list(self._jobs.values())

    def live(self, job_id: str) -> bool:
        with self.lock:
            job = self._jobs.get(job_id)
            return job is not None and not job.deleted

    def delete(self, ids: list[str]) -> None:
        with self.lock:
            for job_id in ids:
                job = self._jobs.get(job_id)
                if job is not None and not job.deleted:
                    job.deleted = True
                    job.deleted_at = time.time()
                    job.result = None  # "the deletion is irreversible"

    def clear(self) -> None:
        with self.lock:
            for job in self._jobs.values():
                job.deleted = True  # a worker still holding the job stops calling back
            self._jobs.clear()

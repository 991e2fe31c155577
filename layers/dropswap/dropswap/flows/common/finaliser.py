"""Finalisation: move a job to where AKOOL says it is. FinaliseFunction runs it for each FinaliseQueue
message (the webhook's and the reconciler's); the reconciler also uses it to expire jobs.

Given a job and AKOOL's truth about it (faceswap_status 1–4, result URL, reason), from whichever
channel it came (a verified callback or listbyids):
- 1/2 → PROCESSING;
- 3   → stream the result into results/…swapped.<ext>, write the .result.json report, SUCCEEDED;
        a result that cannot be fetched (not https, too big, not an image, HTTP error) → report + FAILED;
- 4   → report + FAILED with AKOOL's reason, if it gave one.
A terminal job is left alone: no download, no write.

Superseded jobs. Only the latest job of a photo writes its public names (the swapped image, the report):
under the lease, before any download, a job whose sidecar or photo is now in inbox/ in a newer version
(latest.py) ends FAILED with SUPERSEDED, without a report or a download, whatever AKOOL said: the newer
job owns those names, and a late finish (the webhook, the reconciler) must not overwrite them.

Duplicates. Every terminal finalisation first takes a lease on the job (`claim_finalisation`, one
conditional write) and only the holder downloads, uploads, writes the report and makes the final
transition (conditional on still holding the lease), the way job_end.py ends every job. A second
status-3 callback racing the first finds the lease taken and does nothing, instead of downloading and
storing the result again. A lease rather than an extra status because it expires by itself: if its
holder dies mid-download (Lambda timeout), AKOOL's retry or the reconciler can finish the job once it
lapses, and the state machine of the contract stays as it is. On an error the holder gives the lease
back at once.

No boto3 or requests here: the job store, the object store and the result download are adapters.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

from dropswap.domain import keys
from dropswap.domain.akool import AkoolJobInfoLike, AkoolLookup, AkoolTruth, FetchedResult, ResultFetchError
from dropswap.domain.error_codes import ErrorCode, job_error
from dropswap.domain.jobs import OPEN, Job, Status, TransitionResult, iso_time
from dropswap.domain.latest import superseded_by
from dropswap.domain.ports import AkoolSlots, FinaliseLeases, JobEvents, JobTransitions, ResultsFolder
from dropswap.flows.common.job_end import Hold, Refused, end_job, under_lease

__all__ = ["Action", "AkoolJobInfoLike", "AkoolLookup", "AkoolTruth", "FinaliseStore", "Finaliser", "Outcome"]

log = logging.getLogger(__name__)

# -- ports ------------------------------------------------------------------------------------------
class FinaliseStore(JobTransitions, FinaliseLeases, Protocol): ...


class ResultSink(ResultsFolder, Protocol):
    def put_file(self, key: str, path: str, content_type: str) -> None: ...


class ResultSource(Protocol):
    def fetch(self, url: str) -> AbstractContextManager[FetchedResult]: ...


class Action(StrEnum):
    ALREADY_FINAL = "already_final"  # the job was terminal: nothing done
    NOT_OPEN = "not_open"  # the job is not SUBMITTED/PROCESSING (not submitted yet): nothing done
    PROCESSING = "processing"  # moved to / refreshed as PROCESSING
    UNCHANGED = "unchanged"  # already PROCESSING at this AKOOL status: nothing written
    BUSY = "busy"  # another finaliser holds the lease: nothing done
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SUPERSEDED = "superseded"  # FAILED without a report: a newer job of the photo owns its names


@dataclass(frozen=True)
class Outcome:
    action: Action
    job: Job | None
    error: dict[str, str] | None = None


# -- the logic --------------------------------------------------------------------------------------
class Finaliser:
    def __init__(
        self,
        store: FinaliseStore,
        objects: ResultSink,
        results: ResultSource,
        *,
        lease_seconds: int,
        slots: AkoolSlots | None = None,
        clock: Callable[[], float] = time.time,
        new_owner: Callable[[], str] = lambda: uuid.uuid4().hex,
        events: JobEvents | None = None,
    ) -> None:
        self._store = store
        self._events = events
        self._slots = slots
        self._objects = objects
        self._results = results
        self._lease = lease_seconds
        self._clock = clock
        self._new_owner = new_owner

    def apply(self, job: Job, truth: AkoolTruth, *, touch: bool = False) -> Outcome:
        """Move `job` to where `truth` says it is. `touch` rewrites PROCESSING even if unchanged
        (the reconciler uses it so a job it has just polled goes to the back of its queue)."""
        if truth.status in (3, 4):
            # Done at AKOOL: its slot is free now, before our download (pacing.py; idempotent).
            self._release_slot(job.job_id)
        if job.terminal:
            return Outcome(Action.ALREADY_FINAL, job)
        if job.status not in OPEN:
            return Outcome(Action.NOT_OPEN, job)
        if truth.status in (1, 2):
            return self._processing(job, truth, touch=touch)
        if truth.status == 3:
            return self._leased(job, lambda held, hold: self._succeed(held, truth, hold))
        error = job_error(
            ErrorCode.AKOOL_FAILED,
            f"AKOOL reported the face swap failed: {truth.reason}"
            if truth.reason
            else "AKOOL reported the face swap failed (status 4) and gave no reason",
        )
        return self._leased(
            job, lambda held, hold: self._fail(held, error, hold, akool_status=4, source=truth.source)
        )

    def fail(self, job: Job, error: dict[str, str]) -> Outcome:
        """Fail an open job for a reason of ours (e.g. too old), with its report, under the lease."""
        self._release_slot(job.job_id)
        if job.terminal:
            return Outcome(Action.ALREADY_FINAL, job)
        if job.status not in OPEN:
            return Outcome(Action.NOT_OPEN, job)
        return self._leased(
            job, lambda held, hold: self._fail(held, error, hold, akool_status=None, source=None)
        )

    # -- steps ------------------------------------------------------------------------------------
    def _release_slot(self, job_id: str) -> None:
        if self._slots is not None:
            self._slots.release(job_id)

    def _processing(self, job: Job, truth: AkoolTruth, *, touch: bool) -> Outcome:
        known = job.akool_status
        if not touch and job.status is Status.PROCESSING and known is not None and truth.status <= known:
            return Outcome(Action.UNCHANGED, job)  # a duplicate, or a 1 after a 2: nothing to write
        res = self._store.transition(job.job_id, Status.PROCESSING, set_fields={"akool_status": truth.status})
        if res.applied:
            return Outcome(Action.PROCESSING, res.job)
        # Refused: it went terminal meanwhile (a late or out-of-order 1/2 after 3/4).
        return Outcome(Action.ALREADY_FINAL, res.job)

    def _leased(self, job: Job, work: Callable[[Job, Hold], Outcome]) -> Outcome:
        outcome = under_lease(
            self._store, job.job_id, self._new_owner(), self._lease,
            lambda held, hold: self._latest_only(held, hold, work),
        )
        if not isinstance(outcome, Refused):
            return outcome
        current = outcome.job
        if current is None or current.terminal:
            return Outcome(Action.ALREADY_FINAL, current)
        return Outcome(Action.BUSY, current)

    def _latest_only(self, job: Job, hold: Hold, work: Callable[[Job, Hold], Outcome]) -> Outcome:
        newer = superseded_by(self._objects, job)
        if newer is None:
            return work(job, hold)
        error = job_error(
            ErrorCode.SUPERSEDED,
            f"a newer version of {newer} has a job of its own; this job's result was not stored",
        )
        res = end_job(
            self._store, self._objects, job, Status.FAILED, hold, finished_at=iso_time(self._clock()),
            error=error, report=False,
        )
        log.info("superseded job ended without writing results", extra={"job_id": job.job_id})
        return self._final(res, Action.SUPERSEDED, error)

    def _succeed(self, job: Job, truth: AkoolTruth, hold: Hold) -> Outcome:
        if not truth.url:
            error = job_error(ErrorCode.RESULT_URL_MISSING, "AKOOL reported success (status 3) without a URL")
            return self._fail(job, error, hold, akool_status=3, source=truth.source)
        result_key = keys.result_image_key(job.image_key)
        try:
            with self._results.fetch(truth.url) as fetched:
                self._objects.put_file(result_key, fetched.path, fetched.content_type)
        except ResultFetchError as exc:
            error = job_error(exc.code, exc.message)
            return self._fail(job, error, hold, akool_status=3, source=truth.source)
        res = end_job(
            self._store, self._objects, replace(job, akool_status=3), Status.SUCCEEDED, hold,
            finished_at=iso_time(self._clock()), result_key=result_key, akool={"source": truth.source},
            fields={"akool_status": 3}, events=self._events,
        )
        return self._final(res, Action.SUCCEEDED, None)

    def _fail(
        self, job: Job, error: dict[str, str], hold: Hold, *, akool_status: int | None, source: str | None
    ) -> Outcome:
        res = end_job(
            self._store, self._objects, replace(job, akool_status=akool_status or job.akool_status),
            Status.FAILED, hold, finished_at=iso_time(self._clock()), error=error,
            akool={"source": source} if source else None,
            fields={"akool_status": akool_status} if akool_status is not None else None,
            events=self._events,
        )
        return self._final(res, Action.FAILED, error)

    def _final(self, res: TransitionResult, action: Action, error: dict[str, str] | None) -> Outcome:
        if res.applied:
            return Outcome(action, res.job, error)
        # Only if the lease lapsed under us and another finaliser took over: theirs is the word.
        log.warning("finalisation lease lost", extra={"job_id": res.job.job_id if res.job else None})
        if res.job is not None and res.job.terminal:
            return Outcome(Action.ALREADY_FINAL, res.job)
        return Outcome(Action.BUSY, res.job)

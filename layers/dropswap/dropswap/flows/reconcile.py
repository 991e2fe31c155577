"""The reconciler: catch up on jobs whose webhook never came, and on inputs that never arrived.

Run on a schedule. Each run, oldest first, within its time budget:
- SUBMITTED/PROCESSING jobs not updated for `reconcile_after_seconds` (from the sparse `open-jobs`
  GSI, never a scan): ask AKOOL's listbyids in batches and put its word on the FinaliseQueue, as the
  webhook would (FinaliseFunction finalises); jobs open longer than `max_job_age_seconds` that AKOOL has
  not finished are FAILED here (JOB_TOO_OLD, under the finalisation lease): AKOOL keeps results 7 days,
  so waiting longer cannot end well;
- WAITING jobs not updated for `waiting_recheck_seconds`: a recheck message on the SubmitQueue (an input
  may have arrived without an event, e.g. in another bucket), so there is one path to AKOOL's submit;
  WAITING jobs older than `max_waiting_age_seconds` are REJECTED here (INPUT_NEVER_ARRIVED, under the
  submission claim) with a report naming the missing input, or (JOB_TOO_OLD) saying no AKOOL slot came
  free; their WAITING reports' `expires_at` is that deadline;
- WAITING jobs the credit budget holds back (credit_budget.py): while the day's budget is spent, nothing
  (they cost no message, no write, and never expire: the budget resets every UTC day); once it has room
  (a new day, or a redeploy that raised it), a recheck message for as many of them as it admits, the
  longest waiting first;
- AKOOL slots (pacing.py) held by a job that can no longer be at AKOOL (ended, or WAITING with no live
  claim: its holder crashed between taking the slot and recording the submission) are given back.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from dropswap.domain import credits, messages
from dropswap.domain.akool import AkoolError, AkoolLookup, AkoolTruth
from dropswap.domain.error_codes import ErrorCode, job_error
from dropswap.domain.jobs import AKOOL_SLOT, Job, Status, iso_time
from dropswap.domain.latest import superseded_by
from dropswap.domain.ports import AkoolSlots, JobEvents, JobReader, MessageSink, ResultsFolder, SubmitClaims
from dropswap.flows.common.credit_budget import CreditBudget
from dropswap.flows.common.finaliser import Action, Finaliser, FinaliseStore, Outcome
from dropswap.flows.common.job_end import Hold, Refused, end_job, under_claim
from dropswap.settings import Settings

log = logging.getLogger(__name__)

class ReconcileStore(FinaliseStore, SubmitClaims, JobReader, Protocol):
    """What the reconciler needs of the job store: the finaliser's port plus queries and claims."""

    def open_jobs(self, status: Status, updated_before: str, limit: int = 500) -> Iterator[Job]: ...

    def jobs_waiting_for_credit(self, limit: int) -> Iterator[Job]: ...


@dataclass(frozen=True)
class Queues:
    """Where the reconciler hands work on: rechecks to the SubmitQueue, AKOOL's word to the FinaliseQueue."""

    submit: MessageSink
    finalise: MessageSink


@dataclass(frozen=True)
class ReconcileLimits:
    reconcile_after_seconds: int
    max_job_age_seconds: int
    waiting_recheck_seconds: int
    max_waiting_age_seconds: int
    batch_size: int = 20
    max_jobs: int = 200
    claim_lease_seconds: int = 300
    # Stop starting new work when less than this is left: one finalisation may download a large result.
    reserve_seconds: float = 45.0

    @classmethod
    def from_settings(cls, s: Settings) -> ReconcileLimits:
        return cls(
            reconcile_after_seconds=s.reconcile_after_seconds,
            max_job_age_seconds=s.max_job_age_seconds,
            waiting_recheck_seconds=s.waiting_recheck_seconds,
            max_waiting_age_seconds=s.max_waiting_age_seconds,
            batch_size=s.reconcile_batch_size,
            max_jobs=s.reconcile_max_jobs,
        )


@dataclass
class Summary:
    counts: dict[str, int] = field(default_factory=dict)
    stopped_early: bool = False

    def add(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def as_dict(self) -> dict[str, Any]:
        return {**self.counts, "stopped_early": self.stopped_early}


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return None


def _age_hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


def _may_hold_slot(job: Job, now: float) -> bool:
    """Whether a job may be at AKOOL: open and not finished there, or WAITING under a live claim (its
    holder took the slot and is sending the swap)."""
    if job.status in (Status.SUBMITTED, Status.PROCESSING):
        return job.akool_status not in (3, 4)
    if job.status is Status.WAITING:
        return job.claim_live(now)
    return False


_OUTCOME_COUNTER = {
    Action.SUCCEEDED: "succeeded",
    Action.FAILED: "failed",
    Action.SUPERSEDED: "superseded",
    Action.PROCESSING: "still_processing",
    Action.UNCHANGED: "still_processing",
    Action.BUSY: "busy",
    Action.ALREADY_FINAL: "already_final",
    Action.NOT_OPEN: "already_final",
}


class Reconciler:
    def __init__(
        self,
        store: ReconcileStore,
        finaliser: Finaliser,
        objects: ResultsFolder,  # reports only (results: FinaliseFunction), and HEADs (latest.py)
        akool: Callable[[], AkoolLookup],
        queues: Queues,
        limits: ReconcileLimits,
        *,
        slots: AkoolSlots | None = None,
        budget: CreditBudget | None = None,
        clock: Callable[[], float] = time.time,
        remaining_seconds: Callable[[], float] | None = None,
        new_owner: Callable[[], str] = lambda: uuid.uuid4().hex,
        events: JobEvents | None = None,
    ) -> None:
        self._store = store
        self._events = events
        self._finaliser = finaliser
        self._objects = objects
        self._akool_factory = akool
        self._akool: AkoolLookup | None = None
        self._queues = queues
        self._slots = slots
        self._budget = budget or CreditBudget.uncounted()
        self._limits = limits
        self._clock = clock
        self._remaining = remaining_seconds
        self._new_owner = new_owner

    def run(self) -> Summary:
        summary = Summary()
        now = self._clock()
        budget = self._limits.max_jobs
        for status in (Status.SUBMITTED, Status.PROCESSING):
            cutoff = iso_time(now - self._limits.reconcile_after_seconds)
            jobs = list(self._store.open_jobs(status, cutoff, limit=budget)) if budget > 0 else []
            budget -= len(jobs)
            self._reconcile_open(jobs, now, summary)
        if budget > 0 and not summary.stopped_early:
            cutoff = iso_time(now - self._limits.waiting_recheck_seconds)
            for job in self._store.open_jobs(Status.WAITING, cutoff, limit=budget):
                if self._out_of_time(summary):
                    break
                budget -= 1
                self._guarded(summary, job, self._reconcile_waiting, job, now, summary)
        if budget > 0 and not summary.stopped_early:
            self._resume_credit_waits(budget, summary)
        if not summary.stopped_early:
            self._repair_slots(now, summary)
        return summary

    # -- SUBMITTED / PROCESSING ---------------------------------------------------------------------
    def _reconcile_open(self, jobs: list[Job], now: float, summary: Summary) -> None:
        size = max(1, self._limits.batch_size)
        for start in range(0, len(jobs), size):
            if self._out_of_time(summary):
                return
            batch = jobs[start : start + size]
            summary.add("checked", len(batch))
            truths = self._ask_akool(batch, summary)
            for job in batch:
                if self._out_of_time(summary):
                    return
                self._guarded(summary, job, self._settle, job, truths, now, summary)

    def _ask_akool(self, batch: list[Job], summary: Summary) -> dict[str, AkoolTruth] | None:
        ids = [j.akool_id for j in batch if j.akool_id]
        if not ids:
            return {}
        try:
            if self._akool is None:
                self._akool = self._akool_factory()
            infos = self._akool.list_by_ids(ids)
        except AkoolError as exc:
            # Too-old jobs are still expired below; the others wait for the next run.
            log.warning("listbyids failed", extra={"error": str(exc), "jobs": len(ids)})
            summary.add("akool_errors")
            return None
        truths: dict[str, AkoolTruth] = {}
        for info in infos:
            truth = AkoolTruth.from_job_info(info)
            if truth is not None:
                truths[truth.akool_id] = truth
        return truths

    def _settle(self, job: Job, truths: dict[str, AkoolTruth] | None, now: float, summary: Summary) -> None:
        truth = truths.get(job.akool_id) if truths is not None and job.akool_id else None
        if truth is not None and truth.status in (3, 4):
            # Finished at AKOOL: take the result (or the failure) even if the job is old.
            self._queues.finalise.send(messages.finalise_body(job.job_id, truth))
            summary.add("queued_final")
            return
        started = _epoch(job.submitted_at) or _epoch(job.created_at)
        age = now - started if started is not None else 0.0
        if age > self._limits.max_job_age_seconds:
            said = f"AKOOL last said status {truth.status}" if truth else "AKOOL gave no status"
            limit = _age_hours(self._limits.max_job_age_seconds)
            error = job_error(
                ErrorCode.JOB_TOO_OLD,
                f"no result after {_age_hours(age)} (limit {limit}; {said});"
                " AKOOL keeps results for 7 days only, so the job was given up",
            )
            outcome = self._finaliser.fail(job, error)
            self._count(summary, outcome, expired=outcome.action is Action.FAILED)
            return
        if truth is None:
            # Not (yet) known to listbyids, or AKOOL could not be asked: try again next run.
            summary.add("unknown" if truths is not None else "deferred")
            return
        # Still running at AKOOL: the finaliser rewrites it (touch), so it goes to the back of our queue.
        self._queues.finalise.send(messages.finalise_body(job.job_id, truth, touch=True))
        summary.add("still_processing")

    def _count(self, summary: Summary, outcome: Outcome, *, expired: bool = False) -> None:
        summary.add("expired" if expired else _OUTCOME_COUNTER[outcome.action])

    # -- WAITING --------------------------------------------------------------------------------------
    def _reconcile_waiting(self, job: Job, now: float, summary: Summary) -> None:
        if job.waiting_for == credits.CREDIT_BUDGET:
            # Held back by the budget, its holder stopped mid-recheck: no input is missing, so it never
            # expires; its recheck puts it back with the budget's waits (or submits it).
            self._queues.submit.send(messages.recheck_body(job.job_id))
            summary.add("rechecked")
            return
        created = _epoch(job.created_at)
        age = now - created if created is not None else 0.0
        if age > self._limits.max_waiting_age_seconds:
            summary.add("rejected" if self._reject_waiting(job, age) else "busy")
            return
        self._queues.submit.send(messages.recheck_body(job.job_id))
        summary.add("rechecked")

    def _reject_waiting(self, job: Job, age: float) -> bool:
        # Under the submission claim, so a submit running right now cannot send this job to AKOOL
        # while we reject it (and our REJECTED cannot overwrite a job it just submitted).
        def reject(current: Job, hold: Hold) -> bool:
            missing = current.waiting_for or job.waiting_for
            where = (
                missing if missing and missing.startswith("s3://")
                else f"s3://{current.bucket}/{missing}" if missing
                else "an input the manifest names"
            )
            error = job_error(
                ErrorCode.INPUT_NEVER_ARRIVED,
                f"{where} never arrived: gave up after waiting {_age_hours(age)}. Upload it, then upload"
                " the sidecar again (a changed sidecar starts a new job)",
            )
            if missing == AKOOL_SLOT:
                # Its inputs were all there; AKOOL's slots stayed full (the report's `expires_at` said when).
                error = job_error(
                    ErrorCode.JOB_TOO_OLD,
                    f"no AKOOL slot came free: gave up after waiting {_age_hours(age)}. Upload the sidecar"
                    " again to start a new job",
                )
            # A newer sidecar or photo has its own job, which owns the report's name (latest.py).
            newer = superseded_by(self._objects, current)
            if newer is not None:
                error = job_error(ErrorCode.SUPERSEDED, f"a newer version of {newer} has a job of its own")
            return end_job(
                self._store, self._objects, current, Status.REJECTED, hold,
                finished_at=iso_time(self._clock()), error=error, report=newer is None,
                events=self._events,
            ).applied

        done = under_claim(
            self._store, job.job_id, self._new_owner(), self._limits.claim_lease_seconds, reject,
            create_fields={},
        )
        return done if not isinstance(done, Refused) else False

    def _resume_credit_waits(self, limit: int, summary: Summary) -> None:
        """Recheck as many jobs held back by the credit budget as it now admits (none while it is spent).
        A recheck that finds the budget spent again (another job took the credit first) waits again."""
        room = self._budget.remaining()  # None: unlimited (the budget was raised to 0)
        if room == 0:
            return
        for job in self._store.jobs_waiting_for_credit(limit if room is None else min(room, limit)):
            if self._out_of_time(summary):
                return
            self._guarded(summary, job, self._recheck_credit_wait, job, summary)

    def _recheck_credit_wait(self, job: Job, summary: Summary) -> None:
        self._queues.submit.send(messages.recheck_body(job.job_id))
        summary.add("credit_rechecked")

    # -- AKOOL slots ----------------------------------------------------------------------------------
    def _repair_slots(self, now: float, summary: Summary) -> None:
        if self._slots is None:
            return
        for job_id in sorted(self._slots.holders()):
            job = self._store.get(job_id)
            if job is None or not _may_hold_slot(job, now):
                self._slots.release(job_id)
                log.warning("AKOOL slot given back by the reconciler", extra={"job_id": job_id})
                summary.add("slots_repaired")

    # -- budget and isolation -------------------------------------------------------------------------
    def _out_of_time(self, summary: Summary) -> bool:
        if self._remaining is not None and self._remaining() < self._limits.reserve_seconds:
            summary.stopped_early = True
        return summary.stopped_early

    def _guarded(self, summary: Summary, job: Job, work: Callable[..., None], *args: Any) -> None:
        # One job failing (S3 hiccup, a bug on odd data) must not starve the rest of the run.
        try:
            work(*args)
        except Exception:
            log.exception("reconciling a job failed", extra={"job_id": job.job_id})
            summary.add("errors")

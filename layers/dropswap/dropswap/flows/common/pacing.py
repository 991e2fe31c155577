"""Pacing submissions to AKOOL's account limits (docs/akool.md §6, issue 10), and handing a freed slot to
the next job without an idle gap (issue 20).

AKOOL limits an account's jobs in flight (accepted, not finished; they run for minutes after our Lambda
returns) and its request rate; Lambda concurrency bounds neither. So:
- `Pacer`: a submission takes one of `AkoolMaxJobsInFlight` slots (slot_store.py, a conditional write)
  right before AKOOL's swap submit, and the slot is released as soon as AKOOL's word says the job is over
  (webhook, finaliser), or the submit failed, or the reconciler finds it leaked. 1005 stays the backstop.
  Our own count never overshoots the limit (the take is atomic). What AKOOL holds can exceed it by one
  per submit that timed out after AKOOL accepted it (we give that slot back and retry later), until AKOOL
  finishes that job; a lost webhook makes us under-use a slot until the reconciler's listbyids.
- `RequestSpacer`: this process's AKOOL requests at least `interval` apart, so that SubmitConcurrency
  submitters together stay under AKOOL's request rate (detect_faces counts too).

The hand-over (issue 20). Measured in the big drop (benchmarks/REPORT.md), a freed slot stayed empty
~0.8 s: the callback reached the webhook and released the slot within ~0.1 s, but the waiting submitter
had waited *before* preparing (claim, input checks, staging, AKOOL's detect, then its request spacing), so
all of that ran after the slot was free. Now a submission prepares first and waits with its swap ready:
`room_to_prepare` lets the first submission of an invocation go ahead without waiting (it only refuses,
after one look, once a wait in this invocation has already ended without a slot, so the rest of a batch
goes back to the queue unprepared), and `take` waits for the slot with everything else done, looking at
the slot item (one consistent GetItem) every `poll_seconds` and writing only when a look shows room. What
is left between AKOOL's end of a job and the next submit is the callback's trip, half a look interval, the
take, the credit count and the submit request. A submission that finds no slot keeps its detections on
the job (submission.py), so its retry asks AKOOL's detector nothing again.

Why polling a read rather than signalling the waiter: the releasers are many (webhook, finaliser,
reconciler, a failed or refused submit, the claim's own error path), and a look at the item sees a slot
freed by any of them, with no new queue, item or IAM grant. A message from the releaser to a
waiting-list queue adds a hop (send, the event source's poll, an invocation) longer than the look
interval, and wakes an unprepared job. A conditional hand-off to a named waiter (the releaser moves the
slot to it) still needs the waiter to look to learn it has one, adds a read to every release path, and
leaves a slot held by a waiter that timed out meanwhile until someone repairs it. The cost of the looks:
at most SubmitConcurrency × 1/poll_seconds consistent reads a second, only while every slot is busy (about
$0.04 an hour at 2 submitters and 0.05 s, on-demand prices of 2026-12-01).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from dropswap.domain.ports import AkoolSlots


class NoRoom(Exception):
    """No AKOOL slot came free within the wait: try this submission again a little later."""


class Pacer:
    def __init__(
        self,
        slots: AkoolSlots,
        limit: int,
        *,
        wait_seconds: float,
        poll_seconds: float,
        remaining_seconds: Callable[[], float] | None = None,
        reserve_seconds: float = 20.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._slots = slots
        self._limit = limit
        self._wait = wait_seconds
        self._poll = max(0.01, poll_seconds)
        self._remaining = remaining_seconds
        # Time kept for the submit and the record after the wait, and for the messages' hand-back.
        self._reserve = reserve_seconds
        self._clock = clock
        self._sleep = sleep
        # Once one wait in this invocation ended without a slot, the next ones look only once: the
        # rest of the batch goes back to the queue instead of waiting in turn.
        self._saturated = False

    @classmethod
    def unlimited(cls) -> Pacer:
        """No pacing (AkoolMaxJobsInFlight 0): never asks for a slot."""
        return cls(_NoSlots(), 0, wait_seconds=0.0, poll_seconds=1.0)

    @property
    def enabled(self) -> bool:
        return self._limit > 0

    def room_to_prepare(self) -> None:
        """Before a submission prepares its swap: go ahead (no look), unless a wait in this invocation has
        already ended without a slot; then one look, and NoRoom if every slot is still held."""
        if self.enabled and self._saturated:
            self._until(lambda: self._room_for(None))

    def take(self, job_id: str) -> None:
        """Take a slot for `job_id` (its swap ready), waiting for one within the budget; else NoRoom.
        Looks are reads; the conditional write is made only when a look shows room (or the job's own
        slot), and a write lost to another submitter goes back to looking."""
        if self.enabled:
            self._until(lambda: self._room_for(job_id) and self._slots.take(job_id, self._limit))

    def release(self, job_id: str) -> None:
        if self.enabled:
            self._slots.release(job_id)

    def _room_for(self, job_id: str | None) -> bool:
        held = self._slots.holders()
        return len(held) < self._limit or (job_id is not None and job_id in held)

    def _until(self, ready: Callable[[], bool]) -> None:
        budget = 0.0 if self._saturated else self._wait
        if self._remaining is not None:
            budget = min(budget, self._remaining() - self._reserve)
        deadline = self._clock() + budget
        while True:
            if ready():
                self._saturated = False
                return
            if self._clock() + self._poll > deadline:
                self._saturated = True
                raise NoRoom(f"all {self._limit} AKOOL slots are in use")
            self._sleep(self._poll)


class _NoSlots:
    def holders(self) -> frozenset[str]:
        return frozenset()

    def take(self, job_id: str, limit: int) -> bool:
        return True

    def release(self, job_id: str) -> None:
        return None


class RequestSpacer:
    """Requests of this process at least `interval` seconds apart (thread-safe; 0 = no spacing)."""

    def __init__(
        self,
        interval: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._interval = max(0.0, interval)
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    @classmethod
    def for_account(cls, requests_per_second: int, submitters: int) -> RequestSpacer:
        """Each of `submitters` processes gets an equal share of the rate, less one request a second
        kept for the webhook's and the reconciler's listbyids. 0 requests per second: unlimited."""
        if requests_per_second <= 0:
            return cls(0.0)
        share = max(1, requests_per_second - 1) if requests_per_second > 1 else requests_per_second
        return cls(max(1, submitters) / share)

    def wait(self) -> None:
        if self._interval <= 0:
            return
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self._interval
        if start > now:
            self._sleep(start - now)

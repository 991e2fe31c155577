"""Pacing submissions to AKOOL's account limits (docs/akool.md §6, issue 10).

AKOOL limits an account's jobs in flight (accepted, not finished; they run for minutes after our Lambda
returns) and its request rate; Lambda concurrency bounds neither. So:
- `Pacer`: a submission takes one of `AkoolMaxJobsInFlight` slots (slot_store.py, a conditional write)
  right before AKOOL's swap submit, and the slot is released as soon as AKOOL's word says the job is over
  (webhook, finaliser), or the submit failed. With no slot free, the submission waits inside its
  invocation for a bounded time (it has a plan ready, so a freed slot is used at once), then raises
  NoRoom: its message goes back to the queue with a short delay. 1005 stays the backstop.
  Our own count never overshoots the limit (the take is atomic). What AKOOL holds can exceed it by one
  per submit that timed out after AKOOL accepted it (we give that slot back and retry later), until AKOOL
  finishes that job; a lost webhook makes us under-use a slot until the reconciler's listbyids.
- `RequestSpacer`: this process's AKOOL requests at least `interval` apart, so that SubmitConcurrency
  submitters together stay under AKOOL's request rate (detect_faces counts too).
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

    def wait_for_room(self) -> None:
        """Return once fewer than `limit` slots are held (a read: nothing is taken), else NoRoom."""
        if self.enabled:
            self._until(lambda: len(self._slots.holders()) < self._limit)

    def take(self, job_id: str) -> None:
        """Take a slot for `job_id`, waiting for one within the budget; else NoRoom."""
        if self.enabled:
            self._until(lambda: self._slots.take(job_id, self._limit))

    def release(self, job_id: str) -> None:
        if self.enabled:
            self._slots.release(job_id)

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

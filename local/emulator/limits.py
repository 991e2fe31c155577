"""AKOOL's account limits as the emulator models them (AKOOL publishes no numbers; ADMIN.md states the
assumed defaults): at most `concurrent_jobs` face-swap jobs in flight (accepted, not yet finished) and at
most `requests_per_second` API requests in any one-second window, per account. Past either, AKOOL answers
1005 "Operation is too frequent". 0 means unlimited.

The request window is a sliding log of the requests it let through: a refused request does not count, so a
client that backs off gets in again within a second, as with a token bucket refilled at R per second.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Literal

LimitKind = Literal["concurrent_jobs", "requests_per_second"]
KINDS: tuple[LimitKind, ...] = ("concurrent_jobs", "requests_per_second")
_WINDOW_SECONDS = 1.0
_MAX_LIMIT = 1_000_000  # a typo guard, far above anything an account gets


class LimitError(ValueError):
    """An admin request asked for impossible limits; the message says which field."""


def check_limit(name: str, value: Any) -> int:
    """`value` as a limit (an integer 0..1e6, 0 = unlimited) or LimitError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_LIMIT:
        raise LimitError(f"{name} must be an integer from 0 (unlimited) to {_MAX_LIMIT}")
    return value


class AccountLimits:
    """Thread-safe limit settings, the request window and counts of the 1005s each limit caused."""

    def __init__(self, concurrent_jobs: int, requests_per_second: int) -> None:
        self._lock = threading.Lock()
        self._configured = (
            check_limit("concurrent_jobs", concurrent_jobs),
            check_limit("requests_per_second", requests_per_second),
        )
        self._concurrent_jobs, self._requests_per_second = self._configured
        self._window: deque[float] = deque()
        self._refused: dict[LimitKind, int] = dict.fromkeys(KINDS, 0)

    @property
    def concurrent_jobs(self) -> int:
        with self._lock:
            return self._concurrent_jobs

    @property
    def requests_per_second(self) -> int:
        with self._lock:
            return self._requests_per_second

    def update(self, body: dict[str, Any]) -> None:
        """Set the limits given in `body` (others unchanged); checks all of them before changing any."""
        unknown = sorted(set(body) - set(KINDS))
        if unknown:
            raise LimitError(f"unknown limit(s) {unknown}; known: {list(KINDS)}")
        if not body:
            raise LimitError(f"give at least one of {list(KINDS)}")
        values = {name: check_limit(name, body[name]) for name in body}
        with self._lock:
            self._concurrent_jobs = values.get("concurrent_jobs", self._concurrent_jobs)
            self._requests_per_second = values.get("requests_per_second", self._requests_per_second)

    def reset(self) -> None:
        """The configured limits again, an empty request window, no refusals counted."""
        with self._lock:
            self._concurrent_jobs, self._requests_per_second = self._configured
            self._window.clear()
            self._refused = dict.fromkeys(KINDS, 0)

    def admit_request(self, now: float | None = None) -> bool:
        """Count one API request; False (and counted as refused) when the last second is full."""
        now = time.monotonic() if now is None else now
        with self._lock:
            while self._window and self._window[0] <= now - _WINDOW_SECONDS:
                self._window.popleft()
            limit = self._requests_per_second
            if limit and len(self._window) >= limit:
                self._refused["requests_per_second"] += 1
                return False
            self._window.append(now)
            return True

    def admit_job(self, in_flight: int) -> bool:
        """Whether one more job may start with `in_flight` already open; a refusal is counted."""
        with self._lock:
            limit = self._concurrent_jobs
            if limit and in_flight >= limit:
                self._refused["concurrent_jobs"] += 1
                return False
            return True

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "concurrent_jobs": self._concurrent_jobs,
                "requests_per_second": self._requests_per_second,
                "refused": dict(self._refused),
            }

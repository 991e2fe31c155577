"""Webhook delivery as AKOOL does it: POST JSON, retried with exponential backoff until the receiver answers
200 (akool-api.md §5), at most 1 + config.webhook_retries attempts.

A small pool of sender threads works from a time-ordered heap, so a delayed or retrying callback never
blocks the others. Each callback body is built once (signature, timestamp, nonce) and re-sent unchanged on
retries, as a queue that redelivers a stored message would.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from local.emulator.config import EmulatorConfig, Mode, host_allowed, route_url

_INSTANT_BACKOFF_CAP = 0.5  # seconds; instant mode keeps retries tiny


@dataclass
class Attempt:
    at: float  # epoch seconds, when the answer (or the error) came
    http_status: int | None
    error: str | None
    seconds: float | None = None  # how long the receiver took to answer (None: never sent)

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "http_status": self.http_status, "error": self.error, "seconds": self.seconds}


@dataclass(eq=False)  # identity semantics: deliveries are compared with `in`
class Delivery:
    """One callback (and its retries). `state`: pending, delivered, failed, dropped, blocked, cancelled."""

    job: str  # the job's _id
    url: str
    status: int  # the faceswap status the payload announces
    body: dict[str, Any]
    duplicate: bool = False  # the second copy of a duplicated callback
    state: str = "pending"
    attempts: list[Attempt] = field(default_factory=list)
    then: Delivery | None = None  # sent after this one's first attempt: keeps a job's callbacks in order
    not_before: float = 0.0  # time.monotonic() before which the first attempt must not happen

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "url": self.url,
            "state": self.state,
            "duplicate": self.duplicate,
            "attempts": [a.to_json() for a in self.attempts],
        }


class WebhookDispatcher:
    def __init__(
        self,
        config: EmulatorConfig,
        state_lock: threading.RLock,
        mode: Callable[[], Mode],
        job_live: Callable[[str], bool],
    ) -> None:
        self._config = config
        self._state_lock = state_lock  # guards Delivery.state/attempts, which the admin API reads
        self._mode = mode
        self._job_live = job_live
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Delivery]] = []
        self._seq = itertools.count()
        self._sending = 0  # attempts popped from the heap and not finished (retries already rescheduled)
        self._stopping = False
        self._threads = [
            threading.Thread(target=self._loop, name=f"akool-emu-webhook-{i}", daemon=True)
            for i in range(config.webhook_senders)
        ]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._heap.clear()
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout=self._config.webhook_timeout_seconds + 2)

    def clear(self) -> None:
        with self._cond:
            self._heap.clear()

    def pending(self) -> int:
        """Attempts scheduled (delayed and retries included) or being sent: 0 when nothing more will go out
        unless a job's status changes."""
        with self._cond:
            return len(self._heap) + self._sending

    def senders_alive(self) -> int:
        """Sender threads still running (0 once stop() has ended them all)."""
        return sum(t.is_alive() for t in self._threads)

    def schedule(self, delivery: Delivery, delay: float | None = None) -> None:
        """Queue an attempt after `delay` seconds, or (first attempts) at the delivery's not_before."""
        if not host_allowed(route_url(delivery.url, self._config.execute_api_endpoint),
                            self._config.allowed_hosts):
            with self._state_lock:
                delivery.state = "blocked"
                delivery.attempts.append(Attempt(time.time(), None, "host not allowed (emulator allow-list)"))
                follow, delivery.then = delivery.then, None
            if follow is not None:
                self.schedule(follow)
            return
        due = time.monotonic() + delay if delay is not None else max(time.monotonic(), delivery.not_before)
        with self._cond:
            if self._stopping:
                return
            heapq.heappush(self._heap, (due, next(self._seq), delivery))
            self._cond.notify()

    def _next(self) -> Delivery | None:
        with self._cond:
            while not self._stopping:
                if self._heap:
                    due = self._heap[0][0]
                    now = time.monotonic()
                    if due <= now:
                        self._sending += 1
                        return heapq.heappop(self._heap)[2]
                    self._cond.wait(due - now)
                else:
                    self._cond.wait()
            return None

    def _loop(self) -> None:
        while (delivery := self._next()) is not None:
            try:
                self._attempt(delivery)  # a retry or the next chained callback is scheduled in here
            finally:
                with self._cond:
                    self._sending -= 1

    def _backoff(self, attempts: int) -> float:
        if self._mode() == "instant":
            return min(self._config.instant_backoff_seconds * 2.0 ** (attempts - 1), _INSTANT_BACKOFF_CAP)
        return min(
            self._config.webhook_backoff_seconds * 2.0 ** (attempts - 1),
            self._config.webhook_backoff_max_seconds,
        )

    def _attempt(self, delivery: Delivery) -> None:
        if not self._job_live(delivery.job):
            with self._state_lock:
                delivery.state = "cancelled"  # the job was deleted or the emulator reset
            return
        status: int | None = None
        error: str | None = None
        started = time.monotonic()
        try:
            with requests.Session() as session:
                session.trust_env = False
                session.verify = self._config.ca_bundle or True
                resp = session.post(
                    route_url(delivery.url, self._config.execute_api_endpoint),
                    json=delivery.body,
                    timeout=self._config.webhook_timeout_seconds,
                    allow_redirects=False,
                )
                status = resp.status_code
                resp.close()
        except requests.RequestException as exc:
            error = type(exc).__name__
        with self._state_lock:
            delivery.attempts.append(Attempt(time.time(), status, error, time.monotonic() - started))
            n = len(delivery.attempts)
            follow, delivery.then = delivery.then, None
            if status == 200:  # AKOOL retries on anything but 200, 2xx included
                delivery.state = "delivered"
                retry = False
            elif n > self._config.webhook_retries:
                delivery.state = "failed"
                retry = False
            else:
                retry = True
        if follow is not None:
            self.schedule(follow)
        if retry:
            self.schedule(delivery, self._backoff(n))

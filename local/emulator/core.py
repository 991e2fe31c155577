"""The emulator's state and machinery, independent of HTTP: jobs, the worker pool, webhooks, faults,
credits, crops and the request log. server.py exposes it over HTTP.

Locking: one re-entrant state lock guards jobs, deliveries, credits, mode and engine; Faults, CropStore,
the webhook heap and the account limits have their own small locks (the limits' is taken inside the state
lock, never around it). No lock is held across network I/O or engine work.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import random
import re
import threading
import time
from collections import deque
from typing import Any
from urllib.parse import urlsplit

from dropswap.domain.webhook_crypto import build_callback
from local.emulator.auth import Authenticator
from local.emulator.codes import QUOTA, TOO_FREQUENT, BusinessError
from local.emulator.config import EmulatorConfig, EngineKind, Mode
from local.emulator.faults import Faults
from local.emulator.fetch import Fetched, Fetcher
from local.emulator.jobs import FAILED, FINAL, PROCESSING, SUCCEEDED, Job, JobStore, new_job_id, new_object_id
from local.emulator.limits import AccountLimits, LimitKind
from local.emulator.media import CropStore, pad_jpeg
from local.emulator.swapper import JobFailed, Swapper
from local.emulator.validation import SwapRequest
from local.emulator.webhooks import Delivery, WebhookDispatcher

log = logging.getLogger("local.emulator")

_RESULT_PATH = re.compile(r"/results/([0-9a-f]{24})\.jpg")
_REQUEST_LOG_MAX = 10_000
_LONG_STRING = 512  # longer strings (base64 images) are summarised in the request log
_SECRET_FIELDS = frozenset({"clientsecret", "apikey", "api_key", "x-api-key", "token", "authorization"})


class Throttled(BusinessError):
    """1005 "Operation is too frequent" because of an account limit; `limit` says which (request log)."""

    def __init__(self, limit: LimitKind) -> None:
        super().__init__(TOO_FREQUENT)
        self.limit = limit


def _redact(value: Any) -> Any:
    """A JSON value safe to keep in the request log: credentials masked, huge strings summarised."""
    if isinstance(value, dict):
        return {k: "***" if k.lower() in _SECRET_FIELDS else _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    if isinstance(value, str) and len(value) > _LONG_STRING:
        return f"<{len(value)} characters>"
    return value


class Emulator:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self._mode: Mode = config.mode
        self._engine: EngineKind = config.engine
        self._credits = config.credits
        self.base_url = (config.public_url or "").rstrip("/")  # else set by the server once bound
        self._netlocs: set[str] = set()
        digest = hashlib.sha256(config.client_id.encode()).hexdigest()
        self.user_id = digest[:24]
        self.uid = int(digest[24:32], 16) % 1_000_000
        self.auth = Authenticator(config.client_id, config.api_key, self.user_id, self.uid)
        self.faults = Faults()
        self.limits = AccountLimits(config.concurrent_jobs, config.requests_per_second)
        self.crops = CropStore()
        self.jobs = JobStore(self.lock)
        self._requests: deque[dict[str, Any]] = deque(maxlen=_REQUEST_LOG_MAX)
        self._request_seq = 0
        self.fetcher = Fetcher(
            config.allowed_hosts,
            config.download_timeout_seconds,
            config.max_download_bytes,
            config.max_redirects,
            self._resolve_own,
            verify=config.ca_bundle or True,
        )
        self.swapper = Swapper(self.fetcher, self.own_netlocs, self.crops.get, config.max_faces)
        self.webhooks = WebhookDispatcher(config, self.lock, lambda: self.mode, self.jobs.live)
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._unfinished = 0  # submitted jobs a worker has not finished with (under self.lock)
        self._held = 0  # jobs a worker holds for realistic mode's queue or processing time (under self.lock)
        self._stop = threading.Event()
        self._workers = [
            threading.Thread(target=self._work, name=f"akool-emu-worker-{i}", daemon=True)
            for i in range(config.workers)
        ]

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, server_url: str) -> None:
        if not self.base_url:
            self.base_url = server_url.rstrip("/")
        for url in (server_url, self.base_url):
            parts = urlsplit(url)
            self._netlocs.add(parts.netloc)
            if parts.hostname in ("127.0.0.1", "localhost") and parts.port:
                # The same server under either loopback name.
                self._netlocs.update({f"127.0.0.1:{parts.port}", f"localhost:{parts.port}"})
        self.webhooks.start()
        for t in self._workers:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for _ in self._workers:
            self._queue.put(None)
        self.webhooks.stop()
        for t in self._workers:
            # A worker in the middle of a swap finishes it; engine calls are bounded.
            t.join(timeout=30)

    def own_netlocs(self) -> set[str]:
        return self._netlocs

    # -- runtime switches --------------------------------------------------------------------------
    @property
    def mode(self) -> Mode:
        with self.lock:
            return self._mode

    @mode.setter
    def mode(self, value: Mode) -> None:
        with self.lock:
            self._mode = value

    @property
    def engine(self) -> EngineKind:
        with self.lock:
            return self._engine

    @engine.setter
    def engine(self, value: EngineKind) -> None:
        with self.lock:
            self._engine = value

    @property
    def credits(self) -> int:
        with self.lock:
            return self._credits

    @credits.setter
    def credits(self, value: int) -> None:
        with self.lock:
            self._credits = value

    def reset(self) -> None:
        """Back to the configured start: no requests, jobs (results, pending callbacks), crops or faults;
        the configured credits, mode and engine. Issued tokens stay valid."""
        self.webhooks.clear()
        self.jobs.clear()
        self.crops.clear()
        self.faults.clear()
        self.limits.reset()
        with self.lock:
            self._requests.clear()
            self._credits = self.config.credits
            self._mode = self.config.mode
            self._engine = self.config.engine

    # -- request log -------------------------------------------------------------------------------
    def log_request(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self._request_seq += 1
            entry["seq"] = self._request_seq
            entry["body"] = _redact(entry.get("body"))
            self._requests.append(entry)

    def requests(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(e) for e in self._requests]

    # -- jobs --------------------------------------------------------------------------------------
    def in_flight(self) -> int:
        """The account's jobs AKOOL has accepted and not finished (what concurrent_jobs limits)."""
        with self.lock:
            return sum(1 for job in self.jobs.all() if not job.deleted and job.status not in FINAL)

    def submit(self, request: SwapRequest, inputs: dict[str, Any]) -> Job:
        """Charge the quota and queue the job. Throttled (1005) when the account already has
        concurrent_jobs in flight; BusinessError(1006) when credits run out."""
        now = time.time()
        job_oid = new_object_id()
        job = Job(
            id=job_oid,
            job_id=new_job_id(now),
            request=request,
            inputs=inputs,
            result_url=f"{self.base_url}/results/{job_oid}.jpg",
            created_at=now,
            updated_at=now,
        )
        job.history.append({"status": job.status, "at": now})
        with self.lock:
            # Checked and added under one lock, so two racing submissions cannot both take the last slot.
            if not self.limits.admit_job(self.in_flight()):
                raise Throttled("concurrent_jobs")
            # Credits are deducted at submit time (akool-api.md §4).
            if self._credits < self.config.credits_per_job:
                raise BusinessError(QUOTA)
            self._credits -= self.config.credits_per_job
            job.reorder = self.faults.take_reorder()
            self.jobs.add(job)
            self._unfinished += 1
        self._queue.put(job.id)
        return job

    def result(self, job_id: str) -> tuple[bytes, str] | None:
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None or job.status != SUCCEEDED or job.result is None:
                return None
            return job.result, job.result_type

    def _resolve_own(self, url: str) -> Fetched | None:
        """Our own crop and result URLs, served from memory instead of over HTTP."""
        crop = self.swapper.own_crop(url)
        if crop is not None:
            return Fetched(crop.png, "image/png")
        parts = urlsplit(url)
        match = _RESULT_PATH.fullmatch(parts.path)
        if parts.netloc in self._netlocs and match is not None:
            found = self.result(match.group(1))
            if found is not None:
                return Fetched(*found)
        return None

    def activity(self) -> dict[str, Any]:
        """What the emulator still has to do on its own: `quiet` when no job is queued or being worked on
        and no callback is scheduled or being sent, so nothing more happens until it is asked."""
        with self.lock:
            unfinished, held = self._unfinished, self._held
        pending = self.webhooks.pending()
        return {
            "quiet": unfinished == 0 and pending == 0,
            "jobs_unfinished": unfinished,
            "jobs_held": held,
            "webhooks_pending": pending,
        }

    def _realistic_wait(self, deadline: float) -> bool:
        """Wait until `deadline` (time.monotonic()) while in realistic mode; switching to instant mode ends
        the wait early. False when the emulator is stopping."""
        holding = False
        try:
            while self.mode == "realistic" and (left := deadline - time.monotonic()) > 0:
                if not holding:
                    holding = True
                    with self.lock:
                        self._held += 1
                if self._stop.wait(min(left, 0.1)):
                    return False
            return not self._stop.is_set()
        finally:
            if holding:
                with self.lock:
                    self._held -= 1

    def _work(self) -> None:
        while (job_id := self._queue.get()) is not None:
            try:
                job = self.jobs.get(job_id)
                if job is None:
                    continue
                try:
                    self._process(job)  # its callbacks are queued before this returns
                except Exception:  # a worker must survive anything a job does
                    log.exception("emulator job %s crashed", job_id)
                    self._finish(job, FAILED, "internal emulator error (see the emulator log)", None)
            finally:
                with self.lock:
                    self._unfinished -= 1

    def _process(self, job: Job) -> None:
        queued_for = time.time() - job.created_at
        if not self._realistic_wait(time.monotonic() + self.config.queue_seconds - queued_for):
            return
        with self.lock:
            if job.deleted:
                return
            job.set_status(PROCESSING, time.time())
        self._notify(job, PROCESSING)
        started = time.monotonic()
        reason = self.faults.take_fail_job()
        result: tuple[bytes, str] | None = None
        if reason is None:
            try:
                result = self.swapper.run(job.request, passthrough=self.engine == "passthrough")
            except JobFailed as exc:
                reason = str(exc)
        if not self._realistic_wait(started + self.config.processing_seconds):
            return
        self._finish(job, FAILED if result is None else SUCCEEDED, reason, result)

    def _finish(self, job: Job, status: int, reason: str | None, result: tuple[bytes, str] | None) -> None:
        if result is not None and result[1] == "image/jpeg" and (pad_to := self.faults.take_pad_result()):
            result = pad_jpeg(result[0], pad_to), result[1]  # outside the lock: it may copy 50 MB
        with self.lock:
            if job.deleted or job.status in FINAL:
                return
            if result is not None:
                job.result, job.result_type = result
            job.reason = reason
            job.set_status(status, time.time())
        self._notify(job, status)

    # -- webhooks ----------------------------------------------------------------------------------
    def _callback(self, job: Job, status: int, duplicate_of: Delivery | None = None) -> Delivery:
        url = job.request.webhook_url or ""
        if duplicate_of is not None:
            return Delivery(job.id, url, status, duplicate_of.body, duplicate=True)
        with self.lock:
            payload = {"_id": job.id, "status": status, "type": "faceswap", "url": job.visible_url}
        body = build_callback(
            payload,
            self.config.client_id,
            self.config.api_key,
            timestamp=int(time.time() * 1000),
            nonce=str(random.randrange(1000, 10000)),
        )
        return Delivery(job.id, url, status, body)

    def _notify(self, job: Job, status: int) -> None:
        """Queue the callback for `status`, applying the drop/duplicate/delay/reorder faults.

        A job's callbacks go out in order: one that is created while an earlier one has not had its first
        attempt yet is chained behind it (Delivery.then) instead of racing it on another sender thread.
        """
        if not job.request.webhook_url:
            return
        delivery = self._callback(job, status)
        delivery.not_before = time.monotonic() + self.faults.webhook_delay_seconds
        with self.lock:
            if job.deleted:
                return
            held = _chain(job.held)  # waits for the final callback: never queue behind it
            unsent = [d for d in job.webhooks if d.state == "pending" and not d.attempts and d not in held]
            job.webhooks.append(delivery)
            if self.faults.take_drop_webhook():
                delivery.state = "dropped"
                return
            if self.faults.take_duplicate_webhook():
                copy = self._callback(job, status, duplicate_of=delivery)
                copy.not_before = delivery.not_before
                job.webhooks.append(copy)
                delivery.then = copy
            if status == PROCESSING and job.reorder:
                job.held = delivery  # sent right after the final callback's first attempt
                return
            if status in FINAL and job.held is not None:
                _tail(delivery).then, job.held = job.held, None
            if unsent:
                _tail(unsent[-1]).then = delivery
                return
        self.webhooks.schedule(delivery)


def _chain(delivery: Delivery | None) -> list[Delivery]:
    chain: list[Delivery] = []
    while delivery is not None:
        chain.append(delivery)
        delivery = delivery.then
    return chain


def _tail(delivery: Delivery) -> Delivery:
    return _chain(delivery)[-1]

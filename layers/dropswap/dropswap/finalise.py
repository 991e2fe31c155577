"""Finalisation: move a job to where AKOOL says it is. Shared by the webhook and the reconciler.

Given a job and AKOOL's truth about it (faceswap_status 1–4, result URL, reason), from whichever
channel it came (a verified callback or listbyids):
- 1/2 → PROCESSING;
- 3   → stream the result into results/…swapped.<ext>, write the .result.json report, SUCCEEDED;
        a result that cannot be fetched (not https, too big, not an image, HTTP error) → report + FAILED;
- 4   → report + FAILED with AKOOL's reason, if it gave one.
A terminal job is left alone: no download, no write.

Duplicates. Every terminal finalisation first takes a lease on the job (`claim_finalisation`, one
conditional write) and only the holder downloads, uploads, writes the report and makes the final
transition (conditional on still holding the lease). A second status-3 callback racing the first
finds the lease taken and does nothing, instead of downloading and storing the result again. A lease
rather than an extra status because it expires by itself: if its holder dies mid-download (Lambda
timeout), AKOOL's retry or the reconciler can finish the job once it lapses, and the state machine
of the contract stays as it is. On an error the holder gives the lease back at once.

No boto3 or requests here: the job store, the object store and the result download are adapters.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from dropswap import keys
from dropswap.error_codes import ErrorCode, job_error
from dropswap.jobs import OPEN, Job, Status, TransitionResult
from dropswap.report import build_report
from dropswap.result_fetch import FetchedResult, ResultFetchError

log = logging.getLogger(__name__)

# Keys under which a failure reason might come with a status-4 payload (none is documented).
_REASON_KEYS = ("reason", "error", "error_msg", "errorMsg", "fail_reason", "failReason", "msg", "message")


# -- ports ------------------------------------------------------------------------------------------
class FinaliseStore(Protocol):
    def transition(
        self,
        job_id: str,
        new_status: Status,
        *,
        set_fields: Mapping[str, Any] | None = None,
        remove_fields: tuple[str, ...] = (),
        expect_owner: str | None = None,
        expect_finaliser: str | None = None,
    ) -> TransitionResult: ...

    def claim_finalisation(self, job_id: str, owner: str, lease_seconds: int) -> TransitionResult: ...

    def release_finalisation(self, job_id: str, owner: str) -> None: ...


class ResultSink(Protocol):
    def put_file(self, key: str, path: str, content_type: str) -> None: ...

    def put_json(self, key: str, document: Any) -> None: ...


class ResultSource(Protocol):
    def fetch(self, url: str) -> AbstractContextManager[FetchedResult]: ...


class AkoolJobInfoLike(Protocol):
    """What listbyids tells about one job (akool_client.AkoolJobInfo has this shape)."""

    @property
    def akool_id(self) -> str: ...

    @property
    def status(self) -> int: ...

    @property
    def url(self) -> str | None: ...

    @property
    def raw(self) -> dict[str, Any]: ...


class AkoolLookup(Protocol):
    """The part of the AKOOL client the webhook and the reconciler use (tests pass a fake)."""

    def list_by_ids(self, ids: list[str]) -> Sequence[AkoolJobInfoLike]: ...


# -- values -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AkoolTruth:
    """AKOOL's word on a job, from a verified callback or from listbyids."""

    akool_id: str
    status: int  # faceswap_status: 1 queued, 2 processing, 3 done, 4 failed
    url: str | None = None
    reason: str | None = None
    source: str = "webhook"  # or "listbyids"

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], source: str = "webhook") -> AkoolTruth | None:
        """From a decrypted callback `{_id, status, type, url}`; None if it does not say a status 1–4."""
        akool_id = payload.get("_id")
        status = _status(payload.get("status"))
        if not isinstance(akool_id, str) or status is None:
            return None
        url = payload.get("url")
        return cls(
            akool_id=akool_id,
            status=status,
            url=url if isinstance(url, str) and url else None,
            reason=_reason(payload),
            source=source,
        )

    @classmethod
    def from_job_info(cls, info: AkoolJobInfoLike) -> AkoolTruth | None:
        status = _status(info.status)
        if status is None:
            return None
        return cls(
            akool_id=info.akool_id, status=status, url=info.url or None, reason=_reason(info.raw),
            source="listbyids",
        )


def _status(value: Any) -> int | None:
    # AKOOL documents a number; a third party saw strings ("3") now and then.
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    return value if isinstance(value, int) and 1 <= value <= 4 else None


def _reason(payload: Mapping[str, Any]) -> str | None:
    for key in _REASON_KEYS:
        value = payload.get(key)
        if isinstance(value, str) and value.strip() and value.strip().upper() not in {"OK", "SUCCESS"}:
            return value.strip()[:500]
    return None


class Action(StrEnum):
    ALREADY_FINAL = "already_final"  # the job was terminal: nothing done
    NOT_OPEN = "not_open"  # the job is not SUBMITTED/PROCESSING (not submitted yet): nothing done
    PROCESSING = "processing"  # moved to / refreshed as PROCESSING
    UNCHANGED = "unchanged"  # already PROCESSING at this AKOOL status: nothing written
    BUSY = "busy"  # another finaliser holds the lease: nothing done
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    action: Action
    job: Job | None
    error: dict[str, str] | None = None


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat(timespec="milliseconds")


# -- the logic --------------------------------------------------------------------------------------
class Finaliser:
    def __init__(
        self,
        store: FinaliseStore,
        objects: ResultSink,
        results: ResultSource,
        *,
        lease_seconds: int,
        clock: Callable[[], float] = time.time,
        new_owner: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self._store = store
        self._objects = objects
        self._results = results
        self._lease = lease_seconds
        self._clock = clock
        self._new_owner = new_owner

    def apply(self, job: Job, truth: AkoolTruth, *, touch: bool = False) -> Outcome:
        """Move `job` to where `truth` says it is. `touch` rewrites PROCESSING even if unchanged
        (the reconciler uses it so a job it has just polled goes to the back of its queue)."""
        if job.terminal:
            return Outcome(Action.ALREADY_FINAL, job)
        if job.status not in OPEN:
            return Outcome(Action.NOT_OPEN, job)
        if truth.status in (1, 2):
            return self._processing(job, truth, touch=touch)
        if truth.status == 3:
            return self._leased(job, lambda held, owner: self._succeed(held, truth, owner))
        error = job_error(
            ErrorCode.AKOOL_FAILED,
            f"AKOOL reported the face swap failed: {truth.reason}"
            if truth.reason
            else "AKOOL reported the face swap failed (status 4) and gave no reason",
        )
        return self._leased(
            job, lambda held, owner: self._fail(held, error, owner, akool_status=4, source=truth.source)
        )

    def fail(self, job: Job, error: dict[str, str]) -> Outcome:
        """Fail an open job for a reason of ours (e.g. too old), with its report, under the lease."""
        if job.terminal:
            return Outcome(Action.ALREADY_FINAL, job)
        if job.status not in OPEN:
            return Outcome(Action.NOT_OPEN, job)
        return self._leased(
            job, lambda held, owner: self._fail(held, error, owner, akool_status=None, source=None)
        )

    # -- steps ------------------------------------------------------------------------------------
    def _processing(self, job: Job, truth: AkoolTruth, *, touch: bool) -> Outcome:
        known = job.akool_status
        if not touch and job.status is Status.PROCESSING and known is not None and truth.status <= known:
            return Outcome(Action.UNCHANGED, job)  # a duplicate, or a 1 after a 2: nothing to write
        res = self._store.transition(job.job_id, Status.PROCESSING, set_fields={"akool_status": truth.status})
        if res.applied:
            return Outcome(Action.PROCESSING, res.job)
        # Refused: it went terminal meanwhile (a late or out-of-order 1/2 after 3/4).
        return Outcome(Action.ALREADY_FINAL, res.job)

    def _leased(self, job: Job, work: Callable[[Job, str], Outcome]) -> Outcome:
        owner = self._new_owner()
        claim = self._store.claim_finalisation(job.job_id, owner, self._lease)
        if not claim.applied or claim.job is None:
            current = claim.job
            if current is None or current.terminal:
                return Outcome(Action.ALREADY_FINAL, current)
            return Outcome(Action.BUSY, current)
        try:
            return work(claim.job, owner)
        except BaseException:
            # Let the next attempt (AKOOL's retry, the reconciler) start now rather than at expiry.
            with contextlib.suppress(Exception):
                self._store.release_finalisation(job.job_id, owner)
            raise

    def _succeed(self, job: Job, truth: AkoolTruth, owner: str) -> Outcome:
        if not truth.url:
            error = job_error(ErrorCode.RESULT_URL_MISSING, "AKOOL reported success (status 3) without a URL")
            return self._fail(job, error, owner, akool_status=3, source=truth.source)
        result_key = keys.result_image_key(job.image_key)
        try:
            with self._results.fetch(truth.url) as fetched:
                self._objects.put_file(result_key, fetched.path, fetched.content_type)
        except ResultFetchError as exc:
            error = job_error(exc.code, exc.message)
            return self._fail(job, error, owner, akool_status=3, source=truth.source)
        now = self._clock()
        done = replace(job, finished_at=_iso(now), akool_status=3)
        report_key = keys.report_key(job.image_key)
        report = build_report(
            done,
            status=Status.SUCCEEDED,
            result_key=result_key,
            akool={"source": truth.source},
        )
        self._objects.put_json(report_key, report)
        res = self._store.transition(
            job.job_id,
            Status.SUCCEEDED,
            set_fields={
                "result_key": result_key,
                "report_key": report_key,
                "finished_at": done.finished_at,
                "akool_status": 3,
                "error": None,
            },
            expect_finaliser=owner,
        )
        return self._final(res, Action.SUCCEEDED, None)

    def _fail(
        self, job: Job, error: dict[str, str], owner: str, *, akool_status: int | None, source: str | None
    ) -> Outcome:
        now = self._clock()
        done = replace(job, finished_at=_iso(now), akool_status=akool_status or job.akool_status)
        report_key = keys.report_key(job.image_key)
        report = build_report(
            done, status=Status.FAILED, error=error, akool={"source": source} if source else None
        )
        self._objects.put_json(report_key, report)
        fields: dict[str, Any] = {"error": error, "report_key": report_key, "finished_at": done.finished_at}
        if akool_status is not None:
            fields["akool_status"] = akool_status
        res = self._store.transition(job.job_id, Status.FAILED, set_fields=fields, expect_finaliser=owner)
        return self._final(res, Action.FAILED, error)

    def _final(self, res: TransitionResult, action: Action, error: dict[str, str] | None) -> Outcome:
        if res.applied:
            return Outcome(action, res.job, error)
        # Only if the lease lapsed under us and another finaliser took over: theirs is the word.
        log.warning("finalisation lease lost", extra={"job_id": res.job.job_id if res.job else None})
        if res.job is not None and res.job.terminal:
            return Outcome(Action.ALREADY_FINAL, res.job)
        return Outcome(Action.BUSY, res.job)

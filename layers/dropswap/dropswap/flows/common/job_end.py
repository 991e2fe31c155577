"""Ending a job: the one way every path does it (submit, finalise, reconcile; README: Results and job states).

1. Hold the job: its submission claim while it is WAITING, its finalisation lease once it is open
   (SUBMITTED/PROCESSING). One holder at a time, so two deliveries can never both end a job, and one that
   finds the job held does nothing (not even a report).
2. Write the report, then make the terminal transition, conditional on still holding the job. The report
   comes first so that a crash in between is repaired by the retry (the report is an idempotent overwrite).
   A report that is not SUCCEEDED first removes the swapped image beside it (`publish_report`): it was an
   older job's, and next to the newer job's report it would look current (README: Results and job states).
   A superseded job (latest.py) writes no report at all: the caller passes report=False.
On an error the holder gives the claim or lease back at once, so the retry need not wait for it to lapse.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from dropswap.domain import keys
from dropswap.domain.job_events import completion_event
from dropswap.domain.jobs import Job, Status, TransitionResult
from dropswap.domain.ports import FinaliseLeases, JobEvents, JobTransitions, ResultsFolder, SubmitClaims
from dropswap.domain.report import build_report

T = TypeVar("T")


@dataclass(frozen=True)
class Hold:
    """The right to end a job: the submission claim, or (lease=True) the finalisation lease."""

    owner: str
    lease: bool = False


@dataclass(frozen=True)
class Refused:
    """Someone else holds the job, or it is past the state the hold is for; `job` is as it stands."""

    job: Job | None


def under_claim(
    store: SubmitClaims,
    job_id: str,
    owner: str,
    lease_seconds: int,
    work: Callable[[Job, Hold], T],
    *,
    create_fields: Mapping[str, Any],
) -> T | Refused:
    """Run `work` holding the job's submission claim (creating the record as WAITING if there is none)."""
    res = store.claim(job_id, owner, lease_seconds, create_fields=create_fields)
    if not res.applied or res.job is None:
        return Refused(res.job)
    try:
        return work(res.job, Hold(owner))
    except BaseException:
        # A terminal job has no claim left to release; this is for a retryable or unexpected error.
        store.release(job_id, owner)
        raise


def under_lease(
    store: FinaliseLeases, job_id: str, owner: str, lease_seconds: int, work: Callable[[Job, Hold], T]
) -> T | Refused:
    """Run `work` holding the job's finalisation lease."""
    res = store.claim_finalisation(job_id, owner, lease_seconds)
    if not res.applied or res.job is None:
        return Refused(res.job)
    try:
        return work(res.job, Hold(owner, lease=True))
    except BaseException:
        with contextlib.suppress(Exception):
            store.release_finalisation(job_id, owner)
        raise


def end_job(
    store: JobTransitions,
    reports: ResultsFolder,
    job: Job,
    status: Status,
    hold: Hold,
    *,
    finished_at: str,
    error: dict[str, str] | None = None,
    result_key: str | None = None,
    akool: dict[str, Any] | None = None,
    fields: Mapping[str, Any] | None = None,
    report: bool = True,
    events: JobEvents | None = None,
) -> TransitionResult:
    """Report (unless `report` is False), publish the completion event on `events` (with the report:
    a job without one, superseded, has no event either), then move `job` to the terminal `status` if
    `hold` still holds. A crash before the transition is repaired by the retry, which reports and
    publishes again under the same event id (job_events.py), so consumers can drop the repeat.

    `job` is the record as the report should show it; `fields` are written with the status besides the
    error, the report's key, the result's key and the finishing time. A refusal (the hold lapsed and
    another holder took over) is returned, not raised: the other holder's word stands.
    """
    report_key = keys.report_key(job.image_key)
    if report:
        done = replace(job, finished_at=finished_at)
        publish_report(
            reports, job.image_key, status,
            build_report(done, status=status, error=error, result_key=result_key, akool=akool),
        )
        if events is not None:
            events.publish(*completion_event(
                job, status, finished_at=finished_at, error=error, result_key=result_key
            ))
    set_fields: dict[str, Any] = {
        "metadata_json": job.metadata_json, **(fields or {}), "error": error, "finished_at": finished_at,
    }
    if report:
        set_fields["report_key"] = report_key
    if result_key is not None:
        set_fields["result_key"] = result_key
    return store.transition(
        job.job_id,
        status,
        set_fields=set_fields,
        expect_owner=None if hold.lease else hold.owner,
        expect_finaliser=hold.owner if hold.lease else None,
    )


def publish_report(folder: ResultsFolder, image_key: str, status: Status, report: Mapping[str, Any]) -> None:
    """Write a photo's report; one that is not SUCCEEDED first removes the swapped image beside it, an
    older job's (a SUCCEEDED job has just written its own)."""
    if status is not Status.SUCCEEDED:
        folder.delete(keys.result_image_key(image_key))
    folder.put_json(keys.report_key(image_key), report)

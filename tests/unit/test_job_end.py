"""job_end: a job is ended only by the holder of its claim or lease, report first, then the transition."""

from __future__ import annotations

import time

import pytest

from dropswap.domain.jobs import Job, Status
from dropswap.flows.common.job_end import Hold, Refused, end_job, under_claim
from tests.unit.test_finalise_support import get_job, make_job, make_waiting_job, objects, s3_json, store

ERROR = {"code": "INPUT_NEVER_ARRIVED", "message": "inbox/w/a.jpg never arrived"}
FINISHED = "2026-01-01T00:00:00.000+00:00"


def _never(job: Job, hold: Hold) -> str:
    raise AssertionError("work ran without the claim")


def test_given_claim_held_by_another_delivery_when_asked_to_end_the_job_then_nothing_done(resources) -> None:
    # Given a WAITING job whose claim another delivery holds
    make_waiting_job("w1", waiting_for="inbox/w/a.jpg", at=time.time())
    assert store().claim("w1", "other", 600, create_fields={}).applied
    # When this delivery tries to end it, Then its work never runs and the job is as it was
    refused = under_claim(store(), "w1", "me", 600, _never, create_fields={})
    assert isinstance(refused, Refused) and refused.job and refused.job.extra["claim_owner"] == "other"
    assert get_job("w1").status is Status.WAITING


def test_given_work_failing_under_the_claim_then_claim_released_and_error_raised(resources) -> None:
    make_waiting_job("w1", waiting_for="inbox/w/a.jpg", at=time.time())

    def boom(job: Job, hold: Hold) -> str:
        raise RuntimeError("S3 is down")

    with pytest.raises(RuntimeError):
        under_claim(store(), "w1", "me", 600, boom, create_fields={})
    assert "claim_owner" not in get_job("w1").extra
    assert under_claim(store(), "w1", "next", 600, lambda job, hold: hold.owner, create_fields={}) == "next"


def test_given_claim_when_job_ended_then_report_then_terminal_status_and_claim_gone(resources) -> None:
    make_waiting_job("w1", waiting_for="inbox/w/a.jpg", at=time.time())

    def reject(job: Job, hold: Hold) -> bool:
        return end_job(
            store(), objects(), job, Status.REJECTED, hold, finished_at=FINISHED, error=ERROR
        ).applied

    assert under_claim(store(), "w1", "me", 600, reject, create_fields={}) is True
    job = get_job("w1")
    assert job.status is Status.REJECTED and job.error == ERROR
    assert job.report_key == "results/w/w1.jpg.result.json"
    assert not {"claim_owner", "open_state", "waiting_for"} & set(job.extra)
    report = s3_json("results/w/w1.jpg.result.json")
    assert report["status"] == "REJECTED" and report["error"] == ERROR
    assert report["timings"]["finished_at"] == FINISHED


def test_given_lease_taken_over_when_stale_holder_ends_the_job_then_refused_and_new_holder_decides(
    resources,
) -> None:
    # Given a finaliser whose lease lapsed (taken long ago) and a new holder that took the job over
    job = make_job("j1", image_key="inbox/l/x.jpg")
    assert store(clock=lambda: time.time() - 3600).claim_finalisation("j1", "stale", 600).applied
    assert store().claim_finalisation("j1", "new", 600).applied
    # When the stale holder ends the job, Then the transition is refused, not raised, and the job stays open
    stale = Hold("stale", lease=True)
    res = end_job(store(), objects(), job, Status.FAILED, stale, finished_at=FINISHED, error=ERROR)
    assert not res.applied and res.job and res.job.status is Status.SUBMITTED
    assert get_job("j1").extra["finaliser"] == "new"

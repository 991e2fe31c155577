"""Reconciler: hands AKOOL's word on jobs whose webhook never came to the FinaliseQueue, expires the
hopeless, sends stale WAITING jobs to the SubmitQueue, and gives back AKOOL slots nobody can hold."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
import responses

from dropswap.adapters.queues import SqsQueue
from dropswap.adapters.slot_store import SlotStore
from dropswap.domain.jobs import AKOOL_SLOT, Status
from dropswap.flows.finalise import finalise_message
from dropswap.flows.reconcile import Queues, ReconcileLimits, Reconciler
from events.generate import AKOOL_ID, JOB_ID, RESULT_URL
from tests.conftest import BUCKET, REGION, TABLE, load_event, load_handler
from tests.unit.queue_support import drain
from tests.unit.test_finalise_support import (
    JPEG,
    REPORT_KEY,
    RESULT_KEY,
    FakeAkool,
    FakeContext,
    finaliser,
    get_job,
    make_job,
    make_waiting_job,
    objects,
    s3_bytes,
    s3_json,
    s3_keys,
    store,
)

HOUR = 3600.0
LIMITS = ReconcileLimits(
    reconcile_after_seconds=600,
    max_job_age_seconds=48 * 3600,
    waiting_recheck_seconds=300,
    max_waiting_age_seconds=24 * 3600,
    batch_size=20,
    max_jobs=200,
)


class Sink:
    """A queue the reconciler sends to: the messages, parsed."""

    def __init__(self, fail_for: str | None = None) -> None:
        self.messages: list[dict[str, Any]] = []
        self.fail_for = fail_for

    def send(self, body: str, delay_seconds: int = 0) -> None:
        message = json.loads(body)
        self.messages.append(message)
        if message["job_id"] == self.fail_for:
            raise RuntimeError("SQS is having a moment")

    @property
    def job_ids(self) -> list[str]:
        return [m["job_id"] for m in self.messages]


def _reconciler(
    akool: FakeAkool,
    rechecks: Sink | None = None,
    limits: ReconcileLimits = LIMITS,
    remaining: float | None = None,
    truths: Sink | None = None,
    slots: SlotStore | None = None,
) -> Reconciler:
    return Reconciler(
        store(),
        finaliser()[0],
        objects(),
        lambda: akool,
        Queues(submit=rechecks or Sink(), finalise=truths if truths is not None else Sink()),
        limits,
        slots=slots,
        remaining_seconds=(lambda: remaining) if remaining is not None else None,
    )


def _finalise(truths: Sink) -> None:
    """FinaliseFunction's work on what the reconciler enqueued."""
    for message in truths.messages:
        finalise_message(store(), finaliser()[0], json.dumps(message))


@pytest.fixture
def result_served() -> Any:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(RESULT_URL.split("?")[0], body=JPEG, content_type="image/jpeg")
        yield mock


def test_given_job_whose_webhook_never_came_when_akool_says_done_then_completed(
    resources, result_served
) -> None:
    # Given a job submitted 15 minutes ago with no callback since, which AKOOL lists as done
    make_job(at=time.time() - 900)
    akool, truths = FakeAkool(jobs={AKOOL_ID: (3, RESULT_URL)}), Sink()
    # When the reconciler runs
    summary = _reconciler(akool, truths=truths).run()
    # Then AKOOL's word went to the FinaliseQueue, exactly as the webhook would put it
    assert summary.counts == {"checked": 1, "queued_final": 1} and not summary.stopped_early
    assert akool.calls == [[AKOOL_ID]] and get_job().status is Status.SUBMITTED
    [message] = truths.messages
    assert message["akool"] == {"_id": AKOOL_ID, "status": 3, "url": RESULT_URL, "reason": None}
    # And finalising it stores the result and the report: SUCCEEDED
    _finalise(truths)
    assert get_job().status is Status.SUCCEEDED and s3_bytes(RESULT_KEY) == JPEG
    assert s3_json(REPORT_KEY)["akool"]["source"] == "listbyids"


def test_given_recently_updated_job_then_left_to_the_webhook(resources) -> None:
    # Given a job submitted a minute ago
    make_job(at=time.time() - 60)
    akool = FakeAkool(jobs={AKOOL_ID: (3, RESULT_URL)})
    # When the reconciler runs, Then AKOOL is not even asked
    assert _reconciler(akool).run().counts == {}
    assert akool.calls == [] and get_job().status is Status.SUBMITTED


def test_given_job_older_than_max_age_and_akool_still_processing_then_failed_too_old(resources) -> None:
    # Given a job submitted three days ago that AKOOL still reports as processing
    make_job(at=time.time() - 72 * HOUR, status=Status.PROCESSING)
    akool = FakeAkool(jobs={AKOOL_ID: (2, None)})
    # When the reconciler runs
    summary = _reconciler(akool).run()
    # Then the job FAILED with a reason that says why, with a report
    assert summary.counts == {"checked": 1, "expired": 1}
    job = get_job()
    assert job.status is Status.FAILED and job.error and job.error["code"] == "JOB_TOO_OLD"
    assert "7 days" in job.error["message"] and "status 2" in job.error["message"]
    assert s3_json(REPORT_KEY)["error"]["code"] == "JOB_TOO_OLD"


def test_given_old_job_that_akool_finished_then_result_taken_not_expired(resources, result_served) -> None:
    make_job(at=time.time() - 72 * HOUR)
    truths = Sink()
    summary = _reconciler(FakeAkool(jobs={AKOOL_ID: (3, RESULT_URL)}), truths=truths).run()
    assert summary.counts == {"checked": 1, "queued_final": 1}
    _finalise(truths)
    assert get_job().status is Status.SUCCEEDED


def test_given_akool_status_4_then_failed_with_akool_failed(resources) -> None:
    make_job(at=time.time() - 900)
    truths = Sink()
    summary = _reconciler(FakeAkool(jobs={AKOOL_ID: (4, None)}), truths=truths).run()
    assert summary.counts == {"checked": 1, "queued_final": 1}
    _finalise(truths)
    job = get_job()
    assert job.error and job.error["code"] == "AKOOL_FAILED"


def test_given_akool_still_processing_then_processing_and_sent_to_back_of_queue(resources) -> None:
    # Given a stale SUBMITTED job that AKOOL is still working on
    before = make_job(at=time.time() - 900)
    # When reconciled, Then PROCESSING, and its updated_at is refreshed so others get their turn
    truths = Sink()
    summary = _reconciler(FakeAkool(jobs={AKOOL_ID: (2, None)}), truths=truths).run()
    assert summary.counts == {"checked": 1, "still_processing": 1}
    assert [m["touch"] for m in truths.messages] == [True]
    _finalise(truths)
    job = get_job()
    assert job.status is Status.PROCESSING and job.updated_at > before.updated_at


def test_given_akool_unreachable_then_deferred_but_too_old_jobs_still_expired(resources) -> None:
    # Given one recent-stale job and one too-old job, and AKOOL failing
    make_job("recent", akool_id="a" * 24, at=time.time() - 900)
    make_job("ancient", akool_id="b" * 24, at=time.time() - 72 * HOUR, image_key="inbox/old/x.jpg")
    summary = _reconciler(FakeAkool(fail=True)).run()
    # Then the recent one waits for the next run and the old one is failed
    assert summary.counts == {"checked": 2, "akool_errors": 1, "deferred": 1, "expired": 1}
    assert get_job("recent").status is Status.SUBMITTED and get_job("ancient").status is Status.FAILED


def test_given_many_stale_jobs_then_asked_in_batches_of_20(resources) -> None:
    # Given 45 stale jobs AKOOL is still processing
    at = time.time() - 900
    for i in range(45):
        make_job(f"job{i:02d}", akool_id=f"{i:024x}", at=at, image_key=f"inbox/b/{i}.jpg")
    akool = FakeAkool(jobs={f"{i:024x}": (2, None) for i in range(45)})
    # When reconciled, Then listbyids is called in batches of at most 20 ids
    summary = _reconciler(akool).run()
    assert [len(c) for c in akool.calls] == [20, 20, 5]
    assert summary.counts == {"checked": 45, "still_processing": 45}


def test_given_more_jobs_than_the_per_run_cap_then_bounded(resources) -> None:
    at = time.time() - 900
    for i in range(6):
        make_job(f"job{i}", akool_id=f"{i:024x}", at=at, image_key=f"inbox/c/{i}.jpg")
    limits = ReconcileLimits(**{**LIMITS.__dict__, "max_jobs": 4})
    akool = FakeAkool(jobs={f"{i:024x}": (2, None) for i in range(6)})
    assert _reconciler(akool, limits=limits).run().counts["checked"] == 4


def test_given_little_time_left_then_no_new_work_started(resources) -> None:
    # Given stale jobs but only 10 s left in the invocation (reserve is 45 s)
    make_job(at=time.time() - 900)
    make_waiting_job("w1", waiting_for="inbox/w/face.jpg", at=time.time() - HOUR)
    akool, rechecks = FakeAkool(jobs={AKOOL_ID: (3, RESULT_URL)}), Sink()
    # When the reconciler runs, Then it stops at once and says so
    summary = _reconciler(akool, rechecks, remaining=10.0).run()
    assert summary.stopped_early and akool.calls == [] and rechecks.messages == []
    assert summary.as_dict()["stopped_early"] is True


def test_given_stale_waiting_job_then_a_recheck_goes_to_the_submit_queue(resources) -> None:
    # Given a WAITING job last looked at an hour ago, and a fresh one
    make_waiting_job("w1", waiting_for="inbox/w/face.jpg", at=time.time() - HOUR)
    make_waiting_job("w2", waiting_for="inbox/w/face.jpg", at=time.time() - 10)
    rechecks = Sink()
    # When reconciled, Then only the stale one is sent to the SubmitQueue, as a recheck message
    assert _reconciler(FakeAkool(), rechecks).run().counts == {"rechecked": 1}
    assert rechecks.messages == [{"dropswap": "recheck", "job_id": "w1"}]


def test_given_waiting_job_older_than_max_then_rejected_naming_the_missing_input(resources) -> None:
    # Given a job waiting two days for a face image that never came
    make_waiting_job("w1", waiting_for="inbox/w/faces/alice.jpg", at=time.time() - 48 * HOUR)
    rechecks = Sink()
    # When reconciled
    summary = _reconciler(FakeAkool(), rechecks).run()
    # Then it is REJECTED with a message naming the input, and a report; no recheck
    assert summary.counts == {"rejected": 1} and rechecks.messages == []
    job = get_job("w1")
    assert job.status is Status.REJECTED and job.error and job.error["code"] == "INPUT_NEVER_ARRIVED"
    assert f"s3://{BUCKET}/inbox/w/faces/alice.jpg never arrived" in job.error["message"]
    report = s3_json("results/w/w1.jpg.result.json")
    assert report["status"] == "REJECTED" and report["error"] == job.error
    assert "claim_owner" not in job.extra and "open_state" not in job.extra


def test_given_job_waiting_for_an_akool_slot_past_max_then_rejected_saying_no_slot_came_free(
    resources: dict[str, str],
) -> None:
    # Given a job whose inputs were all there, WAITING two days for an AKOOL slot (its report's expires_at)
    make_waiting_job("w1", waiting_for=AKOOL_SLOT, at=time.time() - 48 * HOUR)
    # When reconciled
    summary = _reconciler(FakeAkool(), Sink()).run()
    # Then it is REJECTED saying no slot came free, not that an input never arrived
    assert summary.counts == {"rejected": 1}
    job = get_job("w1")
    assert job.status is Status.REJECTED and job.error and job.error["code"] == "JOB_TOO_OLD"
    assert "no AKOOL slot came free" in job.error["message"]
    assert s3_json("results/w/w1.jpg.result.json")["error"] == job.error


def test_given_sidecar_replaced_since_an_old_waiting_job_when_it_expires_then_no_report(resources) -> None:
    # Given a WAITING job two days old whose sidecar has since been replaced, and the newer job's report
    make_waiting_job("w1", waiting_for="inbox/w/face.jpg", at=time.time() - 48 * HOUR)
    objects().put_json("inbox/w/w1.jpg.faceswap.json", {"version": 1, "swaps": []})
    objects().put_json("results/w/w1.jpg.result.json", {"status": "WAITING", "job_id": "newer"})
    # When the reconciler gives up on it
    _reconciler(FakeAkool()).run()
    # Then it is REJECTED as superseded, and the newer job's report is untouched
    job = get_job("w1")
    assert job.status is Status.REJECTED and job.error and job.error["code"] == "SUPERSEDED"
    assert s3_json("results/w/w1.jpg.result.json")["job_id"] == "newer"


def test_given_old_waiting_job_being_submitted_right_now_then_not_rejected(resources) -> None:
    # Given an old WAITING job whose submission claim a live submitter took 10 minutes ago (lease 1 h)
    make_waiting_job("w1", waiting_for="inbox/w/a.jpg", at=time.time() - 48 * HOUR)
    assert store(clock=lambda: time.time() - 600).claim("w1", "submitter", 3600, create_fields={}).applied
    # When reconciled, Then it is left to the submitter
    assert _reconciler(FakeAkool()).run().counts == {"busy": 1}
    assert get_job("w1").status is Status.WAITING and s3_keys() == []


def test_given_one_job_failing_then_others_still_processed_and_error_counted(resources) -> None:
    at = time.time() - HOUR
    make_waiting_job("w1", waiting_for="inbox/w/a.jpg", at=at)
    make_waiting_job("w2", waiting_for="inbox/w/b.jpg", at=at + 1)
    rechecks = Sink(fail_for="w1")
    summary = _reconciler(FakeAkool(), rechecks).run()
    assert rechecks.job_ids == ["w1", "w2"] and summary.counts == {"errors": 1, "rechecked": 1}


def test_given_slots_held_by_jobs_that_cannot_be_at_akool_then_given_back(resources) -> None:
    # Given AKOOL slots held by an open job, a job AKOOL finished, a WAITING job nobody is submitting
    # (its holder crashed after taking the slot), a live claim's job, and a job that does not exist
    make_job("open1", akool_id="a" * 24, at=time.time() - 60, image_key="inbox/s/1.jpg")
    make_job("done1", akool_id="b" * 24, at=time.time() - 60, image_key="inbox/s/2.jpg")
    store().transition("done1", Status.PROCESSING, set_fields={"akool_status": 3})
    make_waiting_job("crashed", waiting_for="inbox/s/x.jpg", at=time.time() - 60)
    make_waiting_job("sending", waiting_for="inbox/s/y.jpg", at=time.time() - 60)
    assert store().claim("sending", "submitter", 300, create_fields={}).applied
    slots = SlotStore(boto3.client("dynamodb", region_name=REGION), TABLE)
    for job_id in ("open1", "done1", "crashed", "sending", "gone"):
        assert slots.take(job_id, 10)
    # When the reconciler runs
    summary = _reconciler(FakeAkool(), slots=slots).run()
    # Then only the open job and the one being sent keep theirs
    assert summary.counts["slots_repaired"] == 3
    assert slots.holders() == frozenset({"open1", "sending"})


# -- the function, driven with the events/ schedule sample ------------------------------------------
def test_given_schedule_event_then_handler_completes_stale_job_and_returns_summary(resources, capsys) -> None:
    # Given a stale job and AKOOL (real client, HTTP faked at the requests boundary) listing it as done
    make_job(at=time.time() - 900)
    handler = load_handler("reconcile")
    with responses.RequestsMock() as rsps:
        rsps.get(
            "https://openapi.akool.test/api/open/v3/faceswap/result/listbyids",
            json={"code": 1000, "msg": "OK", "data": {"result": [
                {"_id": AKOOL_ID, "faceswap_status": 3, "url": RESULT_URL}
            ]}},
        )
        rsps.get(RESULT_URL.split("?")[0], body=JPEG, content_type="image/jpeg")
        # When the scheduled event invokes the function, and FinaliseFunction takes what it enqueued
        summary = handler.lambda_handler(
            load_event("schedule-reconcile.json"), FakeContext(remaining_ms=300_000)
        )
        assert drain(load_handler("finalise"), resources["FinaliseQueueUrl"], FakeContext()) == 1
    # Then the job is complete and the summary counts it
    assert summary == {"checked": 1, "queued_final": 1, "stopped_early": False}
    assert get_job(JOB_ID).status is Status.SUCCEEDED
    out = capsys.readouterr().out
    assert "JobsSucceeded" in out and "Signature=" not in out


def test_given_stale_waiting_job_then_handler_queues_a_recheck_that_submit_function_runs(resources) -> None:
    # Given a stale WAITING job whose sidecar has disappeared
    make_waiting_job("w1", waiting_for="inbox/w/a.jpg", at=time.time() - HOUR)
    handler = load_handler("reconcile")
    # When the scheduled run happens, and SubmitFunction takes the recheck from the SubmitQueue
    summary = handler.lambda_handler(load_event("schedule-reconcile.json"), FakeContext(remaining_ms=300_000))
    assert drain(load_handler("submit"), resources["SubmitQueueUrl"], FakeContext()) == 1
    # Then Submitter.recheck_waiting looked at it (and, the sidecar being gone, rejected it)
    assert summary["rechecked"] == 1
    job = get_job("w1")
    assert job.status is Status.REJECTED and job.error and job.error["code"] == "SIDECAR_GONE"


def test_given_a_job_erroring_then_handler_finishes_the_run_and_raises(resources, monkeypatch) -> None:
    # Given two stale WAITING jobs, the first of which cannot be rechecked
    at = time.time() - HOUR
    make_waiting_job("w1", waiting_for="inbox/w/a.jpg", at=at)
    make_waiting_job("w2", waiting_for="inbox/w/b.jpg", at=at + 1)
    handler = load_handler("reconcile")
    seen: list[str] = []
    send = SqsQueue.send

    def broken_send(queue: SqsQueue, body: str, delay_seconds: int = 0) -> None:
        seen.append(json.loads(body)["job_id"])
        if '"w1"' in body:
            raise RuntimeError("boom")
        send(queue, body, delay_seconds)

    monkeypatch.setattr(SqsQueue, "send", broken_send)
    # When the run happens, Then every job is tried and the invocation fails (so the Errors alarm fires)
    with pytest.raises(handler.ReconcileIncomplete):
        handler.lambda_handler(load_event("schedule-reconcile.json"), FakeContext(remaining_ms=300_000))
    assert seen == ["w1", "w2"]

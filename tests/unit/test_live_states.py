"""Live states (ARCHITECTURE §4, issue 18 item 1): a job's report exists from its first moment and follows it,
QUEUED → (WAITING: input | AKOOL slot | credit budget, with `expires_at`) → PROCESSING → the terminal state,
written on a state change only, never at every retry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest

from dropswap.adapters.credit_store import CreditStore
from dropswap.adapters.object_store import ObjectStore
from dropswap.adapters.slot_store import SlotStore
from dropswap.domain.jobs import AKOOL_SLOT, Status
from dropswap.flows.common.credit_budget import CreditBudget
from dropswap.flows.common.pacing import NoRoom, Pacer
from tests.conftest import BUCKET, REGION, TABLE
from tests.unit.akool_fake import fake_akool
from tests.unit.submit_harness import S3_CONFIG, Harness, party_harness

IMAGE = "inbox/party/team.jpg"
ALICE = "inbox/party/faces/alice.jpg"
SWAP = {"version": 1, "swaps": [{"source": "faces/alice.jpg", "target": "largest"}]}
REPORT = "results/party/team.jpg.result.json"


class Reports(ObjectStore):
    """The submitter's object store, recording each report it writes (status, and the report)."""

    def __init__(self) -> None:
        super().__init__(boto3.client("s3", region_name=REGION, config=S3_CONFIG), BUCKET)
        self.written: list[dict[str, Any]] = []

    def put_json(self, key: str, document: Any) -> None:
        if key == REPORT:
            self.written.append(json.loads(json.dumps(document)))
        super().put_json(key, document)

    @property
    def statuses(self) -> list[str]:
        return [r["status"] for r in self.written]


@pytest.fixture
def h(resources: dict[str, str]) -> Iterator[Harness]:
    for akool in fake_akool():
        yield party_harness(akool)


def _pacer(limit: int = 1) -> Pacer:
    slots = SlotStore(boto3.client("dynamodb", region_name=REGION), TABLE)
    return Pacer(slots, limit, wait_seconds=0.0, poll_seconds=0.01)


def _plus(iso: str, seconds: int) -> datetime:
    return datetime.fromisoformat(iso) + timedelta(seconds=seconds)


def test_given_ready_job_when_submitted_then_its_report_goes_queued_then_processing(h: Harness) -> None:
    # Given the face and the photo
    h.put(ALICE)
    h.put(IMAGE)
    reports = Reports()
    # When the sidecar's event is handled and AKOOL accepts the swap
    assert [o.kind for o in h.event(h.put_manifest(IMAGE, SWAP), h.submitter(objects=reports))] == [
        "SUBMITTED"
    ]
    # Then the report said QUEUED (with when), then PROCESSING (at AKOOL since submitted_at): one write each
    queued, processing = reports.written
    job = h.job(IMAGE)
    assert queued["status"] == "QUEUED" and queued["job_id"] == job.job_id
    assert queued["timings"]["queued_at"] and "waiting_for" not in queued
    assert processing["status"] == "PROCESSING" and processing["akool"]["_id"] == job.akool_id
    assert processing["timings"]["submitted_at"] == job.submitted_at
    assert processing["error"] is None and processing["result"] is None


def test_given_processing_job_when_its_event_is_redelivered_then_no_report_is_written_again(
    h: Harness,
) -> None:
    # Given a job at AKOOL (PROCESSING)
    h.put(ALICE)
    h.put(IMAGE)
    h.event(h.put_manifest(IMAGE, SWAP))
    assert h.report(IMAGE)["status"] == "PROCESSING"
    # When a redelivered event comes, Then nothing is written again (the job is past WAITING)
    reports = Reports()
    assert [o.kind for o in h.event(IMAGE + ".faceswap.json", h.submitter(objects=reports))] == ["DUPLICATE"]
    assert reports.written == []


def test_given_missing_input_then_waiting_report_says_input_with_missing_and_expires_at(h: Harness) -> None:
    # Given the photo, but not its face
    h.put(IMAGE)
    # When the sidecar's event is handled
    assert [o.kind for o in h.event(h.put_manifest(IMAGE, SWAP))] == ["WAITING"]
    # Then WAITING for "input", naming the missing key, until the reconciler's expiry (from the record)
    report = h.report(IMAGE)
    job = h.job(IMAGE)
    assert report["status"] == "WAITING" and report["waiting_for"] == "input"
    assert [m["key"] for m in report["missing"]] == [f"s3://{BUCKET}/{ALICE}"]
    expected = _plus(job.created_at, h.settings.max_waiting_age_seconds)
    assert datetime.fromisoformat(report["expires_at"]) == expected


def test_given_no_akool_slot_then_waiting_for_a_slot_once_then_processing_when_one_frees(
    h: Harness,
) -> None:
    # Given every AKOOL slot held by another job
    h.put(ALICE)
    h.put(IMAGE)
    sidecar = h.put_manifest(IMAGE, SWAP)
    slots = SlotStore(boto3.client("dynamodb", region_name=REGION), TABLE)
    assert slots.take("another-job", 1)
    reports = Reports()
    # When the event comes three times (its message handed back each time)
    for _ in range(3):
        with pytest.raises(NoRoom):
            h.event(sidecar, h.submitter(objects=reports, pacer=_pacer()))
    # Then the report said QUEUED (the job is prepared before it looks for a slot: pacing.py), then
    # WAITING for an AKOOL slot once, with when the job gives up
    assert reports.statuses == ["QUEUED", "WAITING"]
    waiting = reports.written[-1]
    job = h.job(IMAGE)
    assert waiting["status"] == "WAITING" and waiting["waiting_for"] == AKOOL_SLOT
    assert job.status is Status.WAITING and job.waiting_for == AKOOL_SLOT
    expected = _plus(job.created_at, h.settings.max_waiting_age_seconds)
    assert datetime.fromisoformat(waiting["expires_at"]) == expected
    # And once the slot is free, the next delivery shows PROCESSING (it stayed WAITING until it had a slot)
    slots.release("another-job")
    assert [o.kind for o in h.event(sidecar, h.submitter(objects=reports, pacer=_pacer()))] == ["SUBMITTED"]
    assert reports.statuses == ["QUEUED", "WAITING", "PROCESSING"]
    assert h.job(IMAGE).waiting_for is None


def test_given_spent_credit_budget_then_waiting_report_for_the_budget_without_a_deadline(h: Harness) -> None:
    # Given a budget of one credit a day, already spent
    budget = CreditBudget(CreditStore(boto3.client("dynamodb", region_name=REGION), TABLE), 1)
    assert budget.spend() is not None
    h.put(ALICE)
    h.put(IMAGE)
    # When the sidecar's event is handled
    outcomes = h.event(h.put_manifest(IMAGE, SWAP), h.submitter(budget=budget))
    # Then WAITING for "credit budget": the budget block, and no expiry (the reconciler never gives up on it)
    assert [o.kind for o in outcomes] == ["OVER_BUDGET"]
    report = h.report(IMAGE)
    assert report["status"] == "WAITING" and report["waiting_for"] == "credit budget"
    assert report["expires_at"] is None and report["budget"]["resets_at"]


def test_given_a_newer_sidecar_during_the_slot_wait_when_no_slot_then_the_old_job_writes_no_report(
    h: Harness,
) -> None:
    # Given every AKOOL slot held by another job, and a job whose sidecar is replaced by a newer one while
    # it waits for a slot (after its preparation, before its take gives up)
    h.put(ALICE)
    h.put(IMAGE)
    sidecar = h.put_manifest(IMAGE, SWAP)
    slots = SlotStore(boto3.client("dynamodb", region_name=REGION), TABLE)
    assert slots.take("another-job", 1)

    class NewerSidecarMeanwhile(Pacer):
        def take(self, job_id: str) -> None:
            h.put_manifest(IMAGE, {**SWAP, "face_enhance": True})
            super().take(job_id)

    pacer = NewerSidecarMeanwhile(slots, 1, wait_seconds=0.0, poll_seconds=0.01)
    reports = Reports()
    # When the old sidecar's event finds no slot
    with pytest.raises(NoRoom):
        h.event(sidecar, h.submitter(objects=reports, pacer=pacer))
    # Then its QUEUED came before the newer sidecar, and no WAITING of the old job covers the public name,
    # which now belongs to the newer sidecar's job
    assert reports.statuses == ["QUEUED"]

"""Job store: every write is a conditional update; refused transitions report the current state."""

from __future__ import annotations

import threading

import boto3

from dropswap.adapters.job_store import JobStore
from dropswap.domain.jobs import ALLOWED_FROM, Status, job_id_for
from tests.conftest import REGION, TABLE


def _store() -> JobStore:
    return JobStore(boto3.client("dynamodb", region_name=REGION), TABLE)


def test_given_same_inputs_when_job_id_computed_then_deterministic_and_changes_with_etag() -> None:
    a = job_id_for("b", "inbox/x.jpg.faceswap.json", "etag1", "inbox/x.jpg", "p1")
    assert a == job_id_for("b", "inbox/x.jpg.faceswap.json", "etag1", "inbox/x.jpg", "p1")
    assert a != job_id_for("b", "inbox/x.jpg.faceswap.json", "etag2", "inbox/x.jpg", "p1")
    assert a != job_id_for("other", "inbox/x.jpg.faceswap.json", "etag1", "inbox/x.jpg", "p1")
    # the photo's version is part of the identity (a replaced photo is a new job), "" while missing
    assert a != job_id_for("b", "inbox/x.jpg.faceswap.json", "etag1", "inbox/x.jpg", "p2")
    assert a != job_id_for("b", "inbox/x.jpg.faceswap.json", "etag1", "inbox/x.jpg", "")


def test_given_state_machine_then_terminal_states_have_no_way_out() -> None:
    for terminal in (Status.SUCCEEDED, Status.FAILED, Status.REJECTED):
        for new in Status:
            assert terminal not in ALLOWED_FROM[new]
    assert None in ALLOWED_FROM[Status.WAITING]
    assert Status.PROCESSING not in ALLOWED_FROM[Status.SUBMITTED]


def test_given_new_job_when_claimed_then_created_waiting_and_second_claim_refused(resources) -> None:
    store = _store()
    first = store.claim("j1", "owner-a", 60, create_fields={"image_key": "inbox/a.jpg"})
    assert first.applied and first.job and first.job.status is Status.WAITING
    second = store.claim("j1", "owner-b", 60, create_fields={})
    assert not second.applied and second.job and second.job.extra["claim_owner"] == "owner-a"


def test_given_claims_racing_in_threads_then_exactly_one_wins(resources) -> None:
    store = _store()
    wins: list[str] = []
    lock = threading.Lock()

    def attempt(owner: str) -> None:
        if store.claim("race", owner, 60, create_fields={}).applied:
            with lock:
                wins.append(owner)

    threads = [threading.Thread(target=attempt, args=(f"o{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1


def test_given_claimed_job_when_submitted_by_owner_then_open_and_claim_cleared(resources) -> None:
    store = _store()
    store.claim("j2", "me", 60, create_fields={})
    wrong = store.transition("j2", Status.SUBMITTED, set_fields={"akool_id": "x"}, expect_owner="you")
    assert not wrong.applied
    res = store.transition("j2", Status.SUBMITTED, set_fields={"akool_id": "a" * 24}, expect_owner="me")
    assert res.applied and res.job
    assert res.job.extra.get("open_state") == "SUBMITTED" and "claim_owner" not in res.job.extra
    assert res.job.akool_id == "a" * 24 and store.get("j2") == res.job


def test_given_succeeded_job_when_late_processing_arrives_then_noop_reports_current(resources) -> None:
    store = _store()
    store.claim("j3", "me", 60, create_fields={})
    store.transition("j3", Status.SUBMITTED, expect_owner="me")
    assert store.transition("j3", Status.SUCCEEDED, set_fields={"result_key": "results/a.jpg"}).applied
    late = store.transition("j3", Status.PROCESSING)
    assert not late.applied and late.job and late.job.status is Status.SUCCEEDED
    again = store.transition("j3", Status.SUCCEEDED)
    assert not again.applied
    job = store.get("j3")
    assert job and "open_state" not in job.extra and job.result_key == "results/a.jpg"


def test_given_waiting_job_then_found_by_missing_key_and_open_index(resources) -> None:
    store = _store()
    store.transition("j4", Status.WAITING, set_fields={"waiting_for": "inbox/faces/a.jpg"})
    assert store.jobs_waiting_for("inbox/faces/a.jpg") == ["j4"]
    assert [j.job_id for j in store.open_jobs(Status.WAITING, "9999")] == ["j4"]
    store.transition("j4", Status.REJECTED, set_fields={"error": {"code": "X", "message": "m"}})
    assert store.jobs_waiting_for("inbox/faces/a.jpg") == []
    assert list(store.open_jobs(Status.WAITING, "9999")) == []

"""FinaliseFunction on the FinaliseQueue: AKOOL's word (from the webhook or the reconciler) is finalised
once; a job another finaliser holds comes back later; a message for a job that is gone is dropped."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
import responses

from dropswap.adapters.slot_store import SlotStore
from dropswap.domain.jobs import Status
from events.generate import JOB_ID, RESULT_URL, finalise_message, sqs_event
from tests.conftest import REGION, TABLE, load_event, load_handler
from tests.unit.queue_support import HandBacks, hand_backs
from tests.unit.test_finalise_support import (
    JPEG,
    REPORT_KEY,
    RESULT_KEY,
    FakeContext,
    get_job,
    make_job,
    s3_bytes,
    s3_json,
    s3_keys,
    store,
)

__all__ = ["hand_backs"]  # a fixture these tests use


@pytest.fixture
def app(resources: dict[str, str]) -> ModuleType:
    return load_handler("finalise")


@pytest.fixture
def result_served() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(RESULT_URL.split("?")[0], body=JPEG, content_type="image/jpeg")
        yield mock


def test_given_the_sample_status_3_message_then_result_stored_report_written_and_succeeded(
    app: ModuleType, result_served: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a SUBMITTED job holding an AKOOL slot, and the webhook's status-3 message for it (events/)
    make_job()
    slots = SlotStore(boto3.client("dynamodb", region_name=REGION), TABLE)
    assert slots.take(JOB_ID, 4)
    # When FinaliseFunction gets it
    response = app.lambda_handler(load_event("sqs-finalise-status3.json"), FakeContext())
    # Then the message is consumed, the result and report stored, the job SUCCEEDED, the slot free
    assert response == {"batchItemFailures": []}
    assert s3_bytes(RESULT_KEY) == JPEG and s3_json(REPORT_KEY)["status"] == "SUCCEEDED"
    assert get_job().status is Status.SUCCEEDED and slots.holders() == frozenset()
    out = capsys.readouterr().out
    assert '"JobsSucceeded":[1.0]' in out and "Signature=" not in out


def test_given_another_finaliser_holds_the_job_then_the_message_comes_back_later_and_nothing_is_written(
    app: ModuleType, result_served: responses.RequestsMock, hand_backs: HandBacks
) -> None:
    # Given a job whose finalisation lease another finaliser holds (maybe one that crashed)
    make_job()
    assert store().claim_finalisation(JOB_ID, "other-finaliser", 600).applied
    # When the status-3 message is delivered (second time)
    event = sqs_event([finalise_message(3, RESULT_URL)], "dropswap-finalise", receive_count=2)
    response = app.lambda_handler(event, FakeContext())
    # Then it is reported failed and handed back with the backoff (the lease must lapse first)
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert hand_backs.delays == [20]
    assert get_job().status is Status.SUBMITTED and s3_keys() == [] and len(result_served.calls) == 0


def test_given_a_message_for_a_job_that_is_gone_or_another_akool_job_then_dropped(
    app: ModuleType, result_served: responses.RequestsMock
) -> None:
    make_job()
    other: dict[str, Any] = json.loads(finalise_message(3, RESULT_URL))
    other["akool"]["_id"] = "f" * 24
    gone: dict[str, Any] = json.loads(finalise_message(3, RESULT_URL))
    gone["job_id"] = "no-such-job"
    event = sqs_event([json.dumps(other), json.dumps(gone)], "dropswap-finalise")
    assert app.lambda_handler(event, FakeContext()) == {"batchItemFailures": []}
    assert get_job().status is Status.SUBMITTED and len(result_served.calls) == 0

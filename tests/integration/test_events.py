"""Completion events on the local stack (ARCHITECTURE §9): the deployed functions publish on
DropswapEventBus, the stack's rule routes them to its queue, and they land in `.dropswap/events.jsonl`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest

from dropswap.domain.job_events import SUBMITTED_DETAIL_TYPE, event_id
from local.stack import LocalStack
from tests.integration.helpers import ASTRONAUT, HOPPER, User

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
_VALIDATE = fastjsonschema.compile(
    json.loads((ROOT / "schemas" / "events" / "job-event.schema.json").read_text(encoding="utf-8"))
)
METADATA = {"order": "A-1042", "weight": 0.5}


def _events_for(stack: LocalStack, image_key: str, timeout: float = 60.0) -> list[dict[str, Any]]:
    feed = stack.config.state_dir / "events.jsonl"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = feed.read_text(encoding="utf-8").splitlines() if feed.exists() else []
        # The completion events (a job's `Job Submitted` comes first; test_live_states.py checks it)
        found = [e for e in map(json.loads, lines) if e["detail"]["data"]["image"]["key"] == image_key
                 and e["detail-type"] != SUBMITTED_DETAIL_TYPE]
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"no event for {image_key} in {feed} within {timeout}s")


def test_given_a_photo_dropped_with_metadata_then_one_schema_valid_event_carrying_it(
    stack: LocalStack, user: User
) -> None:
    # Given a photo, its face and a sidecar with the user's metadata
    user.put(user.prefix + "faces/hopper.jpg", HOPPER)
    image = user.prefix + "team.jpg"
    user.put(image, ASTRONAUT)
    swaps = [{"source": "faces/hopper.jpg", "target": "largest"}]
    user.put_sidecar(image, {"version": 1, "swaps": swaps, "metadata": METADATA})
    # When the job ends
    report = user.wait_report(image)
    # Then one event, after the report, matching the schema and carrying the metadata unchanged
    [event] = _events_for(stack, image)
    _VALIDATE(event)
    data = event["detail"]["data"]
    assert event["source"] == "dropswap" and data["status"] == report["status"] == "SUCCEEDED"
    assert data["job_id"] == report["job_id"] and data["metadata"] == METADATA == report["metadata"]
    # And no second event arrives for the same job. Waited for: the pipeline at rest (AKOOL quiet: both
    # callbacks answered; finalise queue drained; events queue drained into events.jsonl)
    user.wait_at_rest()
    assert len(_events_for(stack, image)) == 1


def _role_of(stack: LocalStack, function: str) -> str:
    arn = stack.client("lambda").get_function_configuration(FunctionName=stack.functions[function])["Role"]
    return str(arn).rsplit("/", 1)[-1]


def test_given_a_finalisation_that_fails_at_its_event_when_retried_then_one_event_with_the_jobs_id(
    stack: LocalStack, user: User
) -> None:
    # Given FinaliseFunction cannot publish (an explicit Deny on its role, as an EventBridge outage would
    # make PutEvents fail), and a photo dropped with metadata
    iam, role = stack.client("iam"), _role_of(stack, "FinaliseFunction")
    deny = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "events:PutEvents", "Resource": "*"}]}
    iam.put_role_policy(RoleName=role, PolicyName="test-no-events", PolicyDocument=json.dumps(deny))

    def handed_back() -> int:
        return sum(r.get("message") == "message handed back" for r in user.log_records("FinaliseFunction"))

    before = handed_back()
    try:
        user.put(user.prefix + "faces/hopper.jpg", HOPPER)
        image = user.prefix + "team.jpg"
        user.put(image, ASTRONAUT)
        swaps = [{"source": "faces/hopper.jpg", "target": "largest"}]
        user.put_sidecar(image, {"version": 1, "swaps": swaps, "metadata": METADATA})
        # When its finalisation writes the report, fails at the event and its message is handed back
        report = user.wait_report(image, status="SUCCEEDED")
        deadline = time.monotonic() + 60
        while handed_back() == before:
            assert time.monotonic() < deadline, "the failed finalisation's message was not handed back"
            time.sleep(0.5)
        [job] = user.jobs_for(image)
        assert job["status"] == "PROCESSING", job  # not ended: the ending is retried whole
    finally:
        iam.delete_role_policy(RoleName=role, PolicyName="test-no-events")
    # Then the retry ends the job and publishes one event, whose id is derived from the job id (so any
    # republication of this ending has the same id), carrying the metadata
    [event] = _events_for(stack, image, timeout=120.0)
    _VALIDATE(event)
    assert event["detail"]["metadata"]["id"] == event_id(report["job_id"])
    assert event["detail"]["data"]["metadata"] == METADATA
    assert user.wait_report(image, status="SUCCEEDED")["job_id"] == report["job_id"]
    deadline = time.monotonic() + 30
    while user.jobs_for(image)[0]["status"] != "SUCCEEDED":
        assert time.monotonic() < deadline, user.jobs_for(image)
        time.sleep(0.5)

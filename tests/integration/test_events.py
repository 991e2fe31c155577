"""Completion events on the local stack (ARCHITECTURE §9): the deployed functions publish on
DropswapEventBus, the stack's rule routes them to its queue, and they land in `.dropswap/events.jsonl`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest

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
        found = [e for e in map(json.loads, lines) if e["detail"]["data"]["image"]["key"] == image_key]
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
    time.sleep(3)  # no second event arrives for the same job
    assert len(_events_for(stack, image)) == 1

"""Live states on the local stack (issue 18 item 1): a job's report is seen to go QUEUED → PROCESSING →
SUCCEEDED as it happens, with AKOOL slowed through the emulator's admin API so each state lasts seconds."""

from __future__ import annotations

import json
import time
from pathlib import Path

import fastjsonschema
import pytest

from dropswap.domain.jobs import TERMINAL
from tests.integration.helpers import ASTRONAUT, HOPPER, User

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
_VALIDATE = fastjsonschema.compile(
    json.loads((ROOT / "schemas" / "events" / "job-event.schema.json").read_text(encoding="utf-8"))
)


def test_given_slow_akool_when_a_photo_is_dropped_then_its_report_goes_queued_processing_succeeded(
    user: User,
) -> None:
    # Given AKOOL answering each API call after 1.5 s (detect and submit: seconds in QUEUED) and running its
    # jobs in realistic mode with delayed callbacks (seconds in PROCESSING); the fixture resets both
    user.admin("POST", "faults", {"response_delay_ms": 1500, "webhook_delay_seconds": 3})
    user.admin("POST", "mode", {"mode": "realistic"})
    user.put(user.prefix + "faces/hopper.jpg", HOPPER)
    image = user.prefix + "team.jpg"
    user.put(image, ASTRONAUT)
    # When its sidecar is dropped
    user.put_sidecar(image, {"version": 1, "swaps": [{"source": "faces/hopper.jpg", "target": "largest"}]})
    # Then polling its report object sees each state in turn, ending SUCCEEDED
    seen: list[str] = []
    deadline = time.monotonic() + 180
    while not seen or seen[-1] not in TERMINAL:
        assert time.monotonic() < deadline, f"no terminal report; seen {seen}"
        report = user.report(image)
        if report is not None and (not seen or seen[-1] != report["status"]):
            seen.append(report["status"])
            assert report["status"] != "PROCESSING" or report["timings"]["submitted_at"], report
        time.sleep(0.1)
    assert seen == ["QUEUED", "PROCESSING", "SUCCEEDED"]
    # And one schema-valid Job Submitted event told subscribers when AKOOL accepted it
    deadline = time.monotonic() + 60
    while not (submitted := [e for e in user.all_events_for(image) if e["detail-type"] == "Job Submitted"]):
        assert time.monotonic() < deadline, "no Job Submitted event"
        time.sleep(0.3)
    [event] = submitted
    _VALIDATE(event)
    assert event["detail"]["data"]["status"] == "PROCESSING"
    assert event["detail"]["data"]["job_id"] == user.wait_report(image)["job_id"]

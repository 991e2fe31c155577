"""AKOOL's callback may come before its answer to the swap request reaches the submitter (its retries are
undocumented: akool-api.md §5). On the local stack, acting as a user: such a job still ends by its own
callback within seconds, not by the reconciler's next run minutes later."""

from __future__ import annotations

import time

import pytest

from tests.integration.helpers import ASTRONAUT, HOPPER, User

pytestmark = pytest.mark.integration


def test_given_akool_answering_after_its_callbacks_are_spent_then_the_job_succeeds_by_its_callback(
    user: User,
) -> None:
    # Given AKOOL answering each API call after 1.5 s while its instant-mode callbacks (and their retries,
    # about 1 s in all) go out the moment it accepts a swap: all before the submitter hears it was accepted
    user.admin("POST", "faults", {"response_delay_ms": 1500})
    user.put(user.prefix + "faces/hopper.jpg", HOPPER)
    image = user.prefix + "early.jpg"
    user.put(image, ASTRONAUT)
    # When its sidecar is dropped
    user.put_sidecar(image, {"version": 1, "swaps": [{"source": "faces/hopper.jpg", "target": "largest"}]})
    # Then it SUCCEEDS well before the reconciler would ask AKOOL (ReconcileSchedule: 5 minutes)
    report = user.wait_report(image, timeout=90)
    assert report["status"] == "SUCCEEDED", report
    # And by its own callback: the webhook took it early (verified by the token armed before the swap was
    # sent) and the finaliser applied the webhook's word, not the reconciler's
    job_id = report["job_id"]
    deadline = time.monotonic() + 30
    while not [r for r in user.log_records("FinaliseFunction")
               if r.get("job_id") == job_id and r.get("message") == "finalised"]:
        assert time.monotonic() < deadline, "FinaliseFunction logged no finalisation"
        time.sleep(0.5)
    webhook = [r.get("reason") for r in user.log_records("WebhookFunction") if r.get("job_id") == job_id]
    assert "early" in webhook, webhook
    finalised = [r for r in user.log_records("FinaliseFunction")
                 if r.get("job_id") == job_id and r.get("message") == "finalised"]
    assert {r.get("source") for r in finalised} == {"webhook"}, finalised

"""Credits (quota/info, 1006) and injected submit errors (1005 and friends)."""

from __future__ import annotations

import time

import requests

from tests.contract.helpers import QUOTA, V3, V4, Akool
from tests.contract.test_validation import v3_body, v4_body


def credit(akool: Akool) -> int:
    answer = akool.get(QUOTA).json()
    assert answer["code"] == 1000
    assert answer["msg"] == "OK"
    value: int = answer["data"]["credit"]
    return value


def test_quota_is_deducted_per_accepted_submission(akool: Akool) -> None:
    # Given the configured credits
    before = credit(akool)
    # When one v3 and one v4 job are accepted and one request is rejected by validation
    akool.submit(V3, v3_body())
    akool.submit(V4, v4_body())
    assert akool.post(V4, v4_body(0, 1)).json()["code"] == 1003
    # Then exactly two credits are gone
    assert credit(akool) == before - 2


def test_quota_exhausted_is_1006(akool: Akool) -> None:
    # Given a single credit left
    akool.admin("POST", "credits", {"credits": 1})
    # When two jobs are submitted
    first = akool.post(V4, v4_body()).json()
    second = akool.post(V4, v4_body()).json()
    # Then the first is accepted and the second refused with 1006, and the quota stays at 0
    assert first["code"] == 1000
    assert second == {"code": 1006, "msg": "Your quota is not enough"}
    assert credit(akool) == 0


def test_injected_1005_for_the_next_two_submissions_then_success(akool: Akool) -> None:
    # Given the fault "next 2 submissions answer 1005"
    akool.faults(submit_error={"code": 1005, "count": 2})
    # When three submissions are made
    codes = [akool.post(V4, v4_body()).json() for _ in range(3)]
    # Then two are throttled with AKOOL's message and the third succeeds
    assert codes[0] == {"code": 1005, "msg": "Operation is too frequent"}
    assert codes[1]["code"] == 1005
    assert codes[2]["code"] == 1000
    # And throttled submissions cost nothing
    assert akool.admin("GET", "credits")["credits"] == 999


def test_injected_1006_applies_to_v3_too(akool: Akool) -> None:
    # Given the fault "next submission answers 1006"
    akool.faults(submit_error={"code": 1006, "count": 1})
    # When a v3 job is submitted twice
    # Then the first gets 1006 and the second is accepted
    assert akool.post(V3, v3_body()).json()["code"] == 1006
    assert akool.post(V3, v3_body()).json()["code"] == 1000


def test_injected_faults_are_visible_and_cleared_by_reset(akool: Akool) -> None:
    # Given a submit fault
    akool.faults(submit_error={"code": 1005, "count": 3})
    # When the faults are read, then the emulator reset
    seen = akool.admin("GET", "faults")["faults"]["submit_error"]
    akool.admin("POST", "reset")
    # Then the fault was listed and is gone after the reset
    assert seen == {"code": 1005, "count": 3, "msg": None}
    assert akool.admin("GET", "faults")["faults"]["submit_error"]["count"] == 0
    assert akool.post(V4, v4_body()).json()["code"] == 1000


def test_bad_fault_request_is_400(akool: Akool) -> None:
    # Given nonsense fault settings
    for body in ({"submit_error": {"code": "x"}}, {"drop_webhooks": -1}, {"no_such_fault": 1}):
        # When posted
        resp = requests.post(f"{akool.url}/_emulator/faults", json=body, timeout=5)
        # Then the admin API refuses them
        assert resp.status_code == 400, body
        assert "error" in resp.json()


def test_slow_responses(akool: Akool) -> None:
    # Given responses slowed by 300 ms
    akool.faults(response_delay_ms=300)
    # When quota/info is called
    started = time.monotonic()
    assert credit(akool) >= 0
    # Then the answer took at least that long
    assert time.monotonic() - started >= 0.3

"""The daily AKOOL credit budget on the local stack (issue 17 item 4), acting as a user: a budget of N admits
exactly N credits under a 50-photo concurrent drop, the rest wait (WAITING, "credit budget", a Job Waiting
event each), and all finish once the user raises the budget with a redeploy. AKOOL's side is the emulator's
own credit balance, which every accepted swap call draws on."""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest

from dropswap.domain.credits import CREDIT_BUDGET
from local.stack import LocalStack
from tests.integration.helpers import ASTRONAUT, HOPPER, User, results_base

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
_VALIDATE = fastjsonschema.compile(
    json.loads((ROOT / "schemas" / "events" / "job-event.schema.json").read_text(encoding="utf-8"))
)
PHOTOS = 50
BUDGET = 8
UPLOAD_THREADS = 10
PHASE_TIMEOUT = 900.0


def _reports(user: User, photos: list[str]) -> dict[str, dict[str, Any]]:
    return {p: r for p in photos if (r := user.report(p)) is not None}


def _states(reports: dict[str, dict[str, Any]]) -> Counter[str]:
    return Counter(
        f"WAITING:{r.get('waiting_for')}" if r["status"] == "WAITING" else str(r["status"])
        for r in reports.values()
    )


def _wait_for(user: User, photos: list[str], expected: Counter[str], *, reconcile: bool = False) -> None:
    """Until the photos' reports are in the `expected` states; the reconciler run every 20 s if asked (as
    its schedule would, sooner)."""
    deadline = time.monotonic() + PHASE_TIMEOUT
    last_reconcile = 0.0
    states: Counter[str] = Counter()
    while time.monotonic() < deadline:
        states = _states(_reports(user, photos))
        if states == expected:
            return
        if reconcile and time.monotonic() - last_reconcile > 20:
            user.reconcile()
            last_reconcile = time.monotonic()
        time.sleep(2.0)
    raise AssertionError(f"reports {dict(states)} after {PHASE_TIMEOUT}s, expected {dict(expected)}")


def _waiting_events(stack: LocalStack, prefix: str) -> list[dict[str, Any]]:
    feed = stack.config.state_dir / "events.jsonl"
    lines = feed.read_text(encoding="utf-8").splitlines() if feed.exists() else []
    return [e for e in map(json.loads, lines)
            if e["detail-type"] == "Job Waiting" and _image(e).startswith(prefix)]


def _image(event: dict[str, Any]) -> str:
    return str(event["detail"]["data"]["image"]["key"])


def _accepted_swaps(user: User) -> int:
    return sum(1 for s in user.submissions() if s["entry"].get("code") == 1000)


def test_given_a_budget_of_n_when_50_photos_drop_at_once_then_n_spent_the_rest_wait_then_finish_once_raised(
    stack: LocalStack, user: User
) -> None:
    now = datetime.now(UTC)
    if (24 - now.hour) * 3600 - now.minute * 60 - now.second < 1800:
        pytest.skip("the UTC day would turn during the test (the budget resets at 00:00 UTC)")
    # Given the stack redeployed with a budget that admits BUDGET more credits today, as a user sets
    # AkoolCreditBudgetPerDay (sam deploy --parameter-overrides), and AKOOL's balance as it stands
    spent_before = user.credits_spent_today()
    balance_before = user.admin("GET", "config")["credits"]
    stack.redeploy({"AkoolCreditBudgetPerDay": str(spent_before + BUDGET)})
    try:
        # And a folder manifest swapping a face into every photo of drop/
        folder = user.prefix + "drop/"
        user.put(user.prefix + "faces/hopper.jpg", HOPPER)
        manifest = {"version": 1, "swaps": [{"source": "../faces/hopper.jpg", "target": "largest"}]}
        user.put(folder + "_folder.faceswap.json", json.dumps(manifest).encode(), "application/json")
        # When 50 photos are dropped at once
        photos = [f"{folder}p{i:02d}.jpg" for i in range(PHOTOS)]
        with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
            list(pool.map(lambda key: user.put(key, ASTRONAUT), photos))
        # Then exactly BUDGET of them are swapped, and every other one waits for the credit budget
        _wait_for(user, photos, Counter({"SUCCEEDED": BUDGET, f"WAITING:{CREDIT_BUDGET}": PHOTOS - BUDGET}))
        # And exactly BUDGET credits were spent: AKOOL accepted BUDGET swap calls and its balance fell by
        # as much, and the stack counted as much on today's budget
        assert _accepted_swaps(user) == BUDGET
        assert user.admin("GET", "config")["credits"] == balance_before - BUDGET
        assert user.credits_spent_today() == spent_before + BUDGET
        # And each waiting job's report says until when, and a schema-valid Job Waiting event told automation
        reports = _reports(user, photos)
        waiting = sorted(p for p, r in reports.items() if r["status"] == "WAITING")
        assert {r["budget"]["credits_per_day"] for p, r in reports.items() if p in waiting} == {
            spent_before + BUDGET}
        deadline = time.monotonic() + 60
        while len({_image(e) for e in _waiting_events(stack, folder)}) < len(waiting):
            assert time.monotonic() < deadline, "a waiting job sent no Job Waiting event"
            time.sleep(0.5)
        events = _waiting_events(stack, folder)
        for event in events:
            _VALIDATE(event)
        assert sorted({_image(e) for e in events}) == waiting
        assert {e["detail"]["data"]["report"]["key"] for e in events} == {
            results_base(p) + ".result.json" for p in waiting}
        # And SubmitFunction counted them in JobsOverBudget, the metric CreditBudgetSpentAlarm watches
        assert user.metric_count("SubmitFunction", "JobsOverBudget") >= len(waiting)
        # And while the budget stays spent, the reconciler rechecks none of them
        summary = user.reconcile()
        assert summary is not None and "credit_rechecked" not in summary
        assert _accepted_swaps(user) == BUDGET

        # When the user raises the budget (a redeploy) and the reconciler runs (here sooner than its schedule)
        stack.redeploy({"AkoolCreditBudgetPerDay": str(spent_before + PHOTOS)})
        # Then every photo finishes SUCCEEDED, with exactly one credit per photo spent in all
        _wait_for(user, photos, Counter({"SUCCEEDED": PHOTOS}), reconcile=True)
        assert _accepted_swaps(user) == PHOTOS
        assert user.admin("GET", "config")["credits"] == balance_before - PHOTOS
        assert user.credits_spent_today() == spent_before + PHOTOS
        # And no job waited twice: one Job Waiting event each (by id: delivery is at least once)
        assert len({e["detail"]["metadata"]["id"] for e in _waiting_events(stack, folder)}) == len(waiting)
    finally:
        stack.redeploy({"AkoolCreditBudgetPerDay": "0"})

"""The daily AKOOL credit budget's counter (issue 17 item 4): one conditional write per swap call in the Jobs
table, never past the budget however many submitters race; refunds; the UTC day; which refusals give a
credit back; the settings."""

from __future__ import annotations

import threading
from typing import Any

import boto3
import pytest

from dropswap.adapters.credit_store import CreditStore
from dropswap.domain import credits
from dropswap.domain.akool import AkoolError
from dropswap.domain.credits import credits_item_id
from dropswap.flows.common.credit_budget import CreditBudget
from dropswap.settings import SettingsError, load_settings
from tests.conftest import REGION, TABLE

DAY = "2026-11-05"
# 2026-11-05T23:59:00Z and a minute later, the next UTC day.
LATE = 1793923140.0
NEXT_DAY = LATE + 60


def _store() -> CreditStore:
    # Own client: each caller is a separate submitter (Lambda instance).
    return CreditStore(boto3.client("dynamodb", region_name=REGION), TABLE)


def _item(day: str = DAY) -> dict[str, Any] | None:
    item: dict[str, Any] | None = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=TABLE, Key={"job_id": {"S": credits_item_id(day)}}, ConsistentRead=True
    ).get("Item")
    return item


# -- the counter in DynamoDB ----------------------------------------------------------------------
def test_given_a_budget_of_three_when_four_swaps_are_counted_then_the_fourth_is_refused_and_not_counted(
    resources: dict[str, str],
) -> None:
    store = _store()
    assert [store.spend(DAY, 1, 3) for _ in range(4)] == [True, True, True, False]
    assert store.spent(DAY) == 3
    # And the day's item is not a job: no index lists it, and DynamoDB's TTL removes it some weeks later
    item = _item()
    assert item is not None and not {"open_state", "waiting_for", "status"} & set(item)
    assert int(item["ttl"]["N"]) > 0


@pytest.mark.parametrize(("budget", "racers"), [(1, 8), (5, 20)])
def test_given_a_budget_when_more_submitters_than_it_admits_race_then_exactly_the_budget_is_counted(
    resources: dict[str, str], budget: int, racers: int
) -> None:
    # Given `racers` submitters, each with its own client, starting at the same moment
    start = threading.Barrier(racers)
    won: list[int] = []

    def spend(i: int) -> None:
        store = _store()
        start.wait()
        if store.spend(DAY, 1, budget):
            won.append(i)

    threads = [threading.Thread(target=spend, args=(i,)) for i in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then exactly `budget` of them counted a credit, and the day holds exactly that: never over-spent
    assert len(won) == budget and _store().spent(DAY) == budget


def test_given_no_budget_then_every_swap_is_counted_all_the_same(resources: dict[str, str]) -> None:
    store = _store()
    assert all(store.spend(DAY, 1, 0) for _ in range(7))
    # Then the day's count is there for a budget set later that day (and for `dropswap plan`)
    assert store.spent(DAY) == 7


def test_given_a_refund_then_it_goes_back_to_its_day_never_below_zero_never_creating_a_day(
    resources: dict[str, str],
) -> None:
    store = _store()
    assert store.spend(DAY, 2, 10) and store.spend(DAY, 1, 10)
    store.refund(DAY, 2)
    assert store.spent(DAY) == 1
    # Then a refund larger than the count leaves it as it is, and one for a day never counted writes nothing
    store.refund(DAY, 5)
    store.refund("2026-11-06", 1)
    assert store.spent(DAY) == 1 and _item("2026-11-06") is None


def test_given_a_swap_costing_more_than_the_whole_budget_then_refused_without_a_write(
    resources: dict[str, str],
) -> None:
    assert not _store().spend(DAY, 3, 2)
    assert _item() is None


# -- the budget over the counter ------------------------------------------------------------------
def test_given_two_credits_per_swap_then_a_budget_of_three_admits_one_swap(resources: dict[str, str]) -> None:
    budget = CreditBudget(_store(), 3, credits_per_swap=2, clock=lambda: LATE)
    assert budget.has_room() and budget.remaining() == 1
    charge = budget.spend()
    # Then the second swap does not fit (2 + 2 > 3), and nothing more is counted
    assert charge == credits.Charge(DAY, 2) and budget.spend() is None
    assert not budget.has_room() and budget.remaining() == 0 and _store().spent(DAY) == 2


def test_given_the_budget_spent_late_in_a_utc_day_then_the_next_day_starts_from_zero(
    resources: dict[str, str],
) -> None:
    # Given a budget of one, spent at 23:59 UTC
    now = [LATE]
    budget = CreditBudget(_store(), 1, clock=lambda: now[0])
    charge = budget.spend()
    assert charge is not None and budget.spend() is None
    state = budget.state()
    assert (state.day, state.spent, state.resets_at) == (DAY, 1, "2026-11-06T00:00:00+00:00")
    # When midnight UTC passes, Then the new day has room, and a refund of the old charge goes to its day
    now[0] = NEXT_DAY
    assert budget.has_room() and budget.spend() == credits.Charge("2026-11-06", 1)
    budget.refund(charge)
    assert _store().spent(DAY) == 0 and _store().spent("2026-11-06") == 1


def test_given_no_budget_then_room_is_unlimited_without_a_read(resources: dict[str, str]) -> None:
    # Given a budget of 0 (unlimited) over a counter that must not be read
    class NoReads(CreditStore):
        def spent(self, day: str) -> int:
            raise AssertionError("an unlimited budget needs no read")

    budget = CreditBudget(NoReads(boto3.client("dynamodb", region_name=REGION), TABLE), 0, clock=lambda: LATE)
    # Then it always has room, and each swap is still counted
    assert budget.has_room() and budget.remaining() is None
    assert budget.spend() == credits.Charge(DAY, 1) and _store().spent(DAY) == 1


# -- which refusals give the credit back ------------------------------------------------------------
@pytest.mark.parametrize(
    ("error", "refunded"),
    [
        (AkoolError("too frequent", code=1005, retryable=True, http_status=200), True),
        (AkoolError("quota", code=1006, http_status=200), True),
        (AkoolError("bad parameter", code=1003, http_status=200), True),
        (AkoolError("unexpected HTTP 403", http_status=403), True),
        (AkoolError("did not answer within 10s", retryable=True), False),
        (AkoolError("cannot reach AKOOL (ConnectionError)", retryable=True), False),
        (AkoolError("unexpected HTTP 502", retryable=True, http_status=502), False),
        (AkoolError("AKOOL accepted the swap but returned no _id"), False),
    ],
    ids=["1005", "1006", "1003", "http-403", "timeout", "connection", "http-502", "accepted-no-id"],
)
def test_given_a_failed_swap_call_then_its_credit_is_given_back_only_if_akool_surely_refused_it(
    error: AkoolError, refunded: bool
) -> None:
    # Given/Then: AKOOL's own refusal (a code, or a 4xx) took no credit; anything that may follow an
    # acceptance keeps it counted, so the budget is never over-spent
    assert credits.refused_before_acceptance(error) is refunded


# -- the setting, the parameter, the alarm ---------------------------------------------------------
def test_given_the_environment_then_the_budget_settings_are_read_and_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given no budget in the environment, Then unlimited and one credit per swap
    monkeypatch.delenv("AKOOL_CREDIT_BUDGET_PER_DAY", raising=False)
    monkeypatch.delenv("AKOOL_CREDITS_PER_SWAP", raising=False)
    s = load_settings()
    assert (s.akool_credit_budget_per_day, s.akool_credits_per_swap) == (0, 1)
    monkeypatch.setenv("AKOOL_CREDIT_BUDGET_PER_DAY", "250")
    monkeypatch.setenv("AKOOL_CREDITS_PER_SWAP", "2")
    s = load_settings()
    assert (s.akool_credit_budget_per_day, s.akool_credits_per_swap) == (250, 2)
    # And a negative budget or a swap costing nothing fails at cold start, naming the variable
    monkeypatch.setenv("AKOOL_CREDIT_BUDGET_PER_DAY", "-1")
    with pytest.raises(SettingsError, match="AKOOL_CREDIT_BUDGET_PER_DAY"):
        load_settings()
    monkeypatch.setenv("AKOOL_CREDIT_BUDGET_PER_DAY", "5")
    monkeypatch.setenv("AKOOL_CREDITS_PER_SWAP", "0")
    with pytest.raises(SettingsError, match="AKOOL_CREDITS_PER_SWAP"):
        load_settings()
    # And so does a budget too small for a single swap (every job would wait for good)
    monkeypatch.setenv("AKOOL_CREDITS_PER_SWAP", "6")
    with pytest.raises(SettingsError, match="less than one swap's"):
        load_settings()

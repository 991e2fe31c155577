"""Pacing to AKOOL's account limits: the slot set (one conditional write), the pacer's bounded wait, the
request spacing, and the delays messages come back with."""

from __future__ import annotations

import threading

import boto3
import pytest

from dropswap.adapters.slot_store import SlotStore
from dropswap.domain.redelivery import backoff_seconds, short_delay_seconds
from dropswap.flows.common.pacing import NoRoom, Pacer, RequestSpacer
from tests.conftest import REGION, TABLE


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Slots:
    """An in-memory slot set, with a hook run on every look (to free a slot 'meanwhile')."""

    def __init__(self, *held: str) -> None:
        self.held = set(held)
        self.looks = 0
        self.on_look: dict[int, str] = {}  # look number -> holder that finishes then

    def _look(self) -> None:
        self.looks += 1
        if self.looks in self.on_look:
            self.held.discard(self.on_look[self.looks])

    def holders(self) -> frozenset[str]:
        self._look()
        return frozenset(self.held)

    def take(self, job_id: str, limit: int) -> bool:
        self._look()
        if job_id in self.held or len(self.held) < limit:
            self.held.add(job_id)
            return True
        return False

    def release(self, job_id: str) -> None:
        self.held.discard(job_id)


def _pacer(slots: Slots, clock: FakeClock, *, limit: int = 2, wait: float = 5.0) -> Pacer:
    return Pacer(slots, limit, wait_seconds=wait, poll_seconds=0.5, clock=clock, sleep=clock.sleep)


# -- the slot set in DynamoDB -------------------------------------------------------------------------
@pytest.fixture
def slot_store(resources: dict[str, str]) -> SlotStore:
    return SlotStore(boto3.client("dynamodb", region_name=REGION), TABLE)


def test_given_limit_two_when_three_jobs_take_then_the_third_is_refused_until_one_is_released(
    slot_store: SlotStore,
) -> None:
    assert slot_store.take("a", 2) and slot_store.take("b", 2)
    assert not slot_store.take("c", 2)
    # A holder taking again keeps its slot (a retried submit), and releasing twice is harmless.
    assert slot_store.take("a", 2)
    slot_store.release("a")
    slot_store.release("a")
    assert slot_store.take("c", 2) and slot_store.holders() == frozenset({"b", "c"})


def test_given_one_slot_left_when_eight_submitters_race_for_it_then_exactly_one_gets_it(
    slot_store: SlotStore,
) -> None:
    # Given 3 of 4 slots held
    for job in ("h1", "h2", "h3"):
        assert slot_store.take(job, 4)
    # When eight submitters (own clients, as separate Lambda instances) take at the same moment
    won: list[str] = []
    start = threading.Barrier(8)

    def take(job_id: str) -> None:
        store = SlotStore(boto3.client("dynamodb", region_name=REGION), TABLE)
        start.wait()
        if store.take(job_id, 4):
            won.append(job_id)

    threads = [threading.Thread(target=take, args=(f"j{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then one of them holds the last slot: no overshoot, whatever the concurrency
    assert len(won) == 1 and len(slot_store.holders()) == 4


def test_given_the_release_of_a_job_holding_no_slot_then_nothing_is_written(slot_store: SlotStore) -> None:
    slot_store.release("never-held")
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=TABLE, Key={"job_id": {"S": "akool-slots"}}
    )
    assert "Item" not in item


# -- the pacer -------------------------------------------------------------------------------------------
def test_given_all_slots_busy_when_one_frees_within_the_wait_then_taken_without_no_room() -> None:
    # Given both slots held, one of them finishing at the pacer's third look
    slots, clock = Slots("x", "y"), FakeClock()
    slots.on_look[3] = "x"
    pacer = _pacer(slots, clock)
    # When a submission takes a slot
    pacer.take("job")
    # Then it waited two polls and holds the freed slot
    assert clock.sleeps == [0.5, 0.5] and slots.held == {"y", "job"}


def test_given_all_slots_busy_for_the_whole_wait_then_no_room_and_the_next_look_does_not_wait() -> None:
    slots, clock = Slots("x", "y"), FakeClock()
    pacer = _pacer(slots, clock, wait=2.0)
    with pytest.raises(NoRoom):
        pacer.wait_for_room()
    assert sum(clock.sleeps) <= 2.0 and slots.looks == 5  # at 0, 0.5, 1, 1.5 and 2 s
    # The rest of this batch goes back to the queue at once: one look, no wait.
    with pytest.raises(NoRoom):
        pacer.take("another")
    assert sum(clock.sleeps) <= 2.0 and slots.looks == 6


def test_given_little_time_left_in_the_invocation_then_the_wait_is_cut_to_it() -> None:
    slots, clock = Slots("x", "y"), FakeClock()
    pacer = Pacer(slots, 2, wait_seconds=20.0, poll_seconds=0.5, remaining_seconds=lambda: 21.0,
                  reserve_seconds=20.0, clock=clock, sleep=clock.sleep)
    with pytest.raises(NoRoom):
        pacer.wait_for_room()
    assert sum(clock.sleeps) <= 1.0


def test_given_limit_zero_then_no_pacing_and_no_slot_is_asked_for() -> None:
    slots, clock = Slots("x", "y", "z"), FakeClock()
    pacer = _pacer(slots, clock, limit=0)
    pacer.wait_for_room()
    pacer.take("job")
    pacer.release("x")
    assert slots.looks == 0 and clock.sleeps == [] and "x" in slots.held


# -- request spacing ---------------------------------------------------------------------------------
def test_given_five_requests_a_second_and_two_submitters_then_each_spaces_requests_half_a_second() -> None:
    clock = FakeClock()
    spacer = RequestSpacer.for_account(5, 2)
    spacer = RequestSpacer(spacer._interval, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(4):
        spacer.wait()
        starts.append(clock.now)
    # Two submitters at 2 a second each, plus 1 a second kept for the webhook and the reconciler: <= 5
    assert starts == [0.0, 0.5, 1.0, 1.5]
    assert RequestSpacer.for_account(0, 2)._interval == 0.0


# -- redelivery delays -----------------------------------------------------------------------------
def test_given_receive_counts_then_backoff_ceilings_grow_to_the_cap_with_full_jitter() -> None:
    ceiling = [backoff_seconds(n, lambda low, high: high) for n in range(1, 10)]
    assert ceiling == [10, 20, 40, 80, 160, 320, 640, 900, 900]
    assert backoff_seconds(5, lambda low, high: low) == 1  # full jitter, but never 0
    assert 5 <= short_delay_seconds() <= 15

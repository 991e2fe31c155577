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
        self.writes = 0  # conditional writes (takes), each a look too
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
        self.writes += 1
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
    # Given both slots held for longer than the wait
    slots, clock = Slots("x", "y"), FakeClock()
    pacer = _pacer(slots, clock, wait=2.0)
    # When the first submission of the invocation goes ahead and waits for a slot with its swap ready
    pacer.room_to_prepare()
    assert slots.looks == 0  # the first one prepares without a look
    with pytest.raises(NoRoom):
        pacer.take("ready")
    # Then it looked (reads only: no slot written) at 0, 0.5, 1, 1.5 and 2 s and holds nothing
    assert sum(clock.sleeps) <= 2.0 and slots.looks == 5 and slots.held == {"x", "y"}
    # And the rest of this batch goes back to the queue unprepared: one look each, no wait
    with pytest.raises(NoRoom):
        pacer.room_to_prepare()
    with pytest.raises(NoRoom):
        pacer.take("another")
    assert sum(clock.sleeps) <= 2.0 and slots.looks == 7


def test_given_a_wait_that_found_no_slot_when_one_is_free_at_the_next_look_then_the_batch_goes_on() -> None:
    # Given an invocation whose first wait ended without a slot, and a slot freed just after
    slots, clock = Slots("x", "y"), FakeClock()
    pacer = _pacer(slots, clock, wait=0.0)
    with pytest.raises(NoRoom):
        pacer.take("first")
    slots.release("x")
    # When the next submission of the batch asks to prepare, then waits for its slot
    pacer.room_to_prepare()
    pacer.take("second")
    # Then it prepares and takes the slot
    assert slots.held == {"y", "second"}


def test_given_little_time_left_in_the_invocation_then_the_wait_is_cut_to_it() -> None:
    slots, clock = Slots("x", "y"), FakeClock()
    pacer = Pacer(slots, 2, wait_seconds=20.0, poll_seconds=0.5, remaining_seconds=lambda: 21.0,
                  reserve_seconds=20.0, clock=clock, sleep=clock.sleep)
    with pytest.raises(NoRoom):
        pacer.take("job")
    assert sum(clock.sleeps) <= 1.0 and slots.held == {"x", "y"}


def test_given_limit_zero_then_no_pacing_and_no_slot_is_asked_for() -> None:
    slots, clock = Slots("x", "y", "z"), FakeClock()
    pacer = _pacer(slots, clock, limit=0)
    pacer.room_to_prepare()
    pacer.take("job")
    pacer.release("x")
    assert slots.looks == 0 and clock.sleeps == [] and "x" in slots.held


def test_given_all_slots_busy_then_the_ready_waiter_only_reads_and_writes_once_a_look_shows_room() -> None:
    # Given both slots held, one finishing at the waiter's fourth look
    slots, clock = Slots("x", "y"), FakeClock()
    slots.on_look[4] = "x"
    pacer = _pacer(slots, clock)
    # When a submission with its swap ready waits for a slot
    pacer.take("job")
    # Then its looks while every slot was held wrote nothing; one conditional write took the freed slot
    assert slots.writes == 1 and slots.held == {"y", "job"} and clock.sleeps == [0.5, 0.5, 0.5]


# -- hand-off races on the slot item in DynamoDB (threads stand for separate Lambda instances) ----------
def _waiters(job_ids: list[str], limit: int, wait: float) -> tuple[list[threading.Thread], dict[str, str]]:
    """Threads that each wait (with its swap ready) for a slot, with their own client: `outcome[job]` is
    "took" or "no room" once the thread ends."""
    outcome: dict[str, str] = {}

    def wait_for(job_id: str) -> None:
        store = SlotStore(boto3.client("dynamodb", region_name=REGION), TABLE)
        pacer = Pacer(store, limit, wait_seconds=wait, poll_seconds=0.01)
        try:
            pacer.take(job_id)
            outcome[job_id] = "took"
        except NoRoom:
            outcome[job_id] = "no room"

    return [threading.Thread(target=wait_for, args=(j,)) for j in job_ids], outcome


def _run_all(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_given_three_ready_waiters_when_two_releasers_free_two_slots_at_once_then_two_take_them(
    slot_store: SlotStore,
) -> None:
    # Given all 4 slots held and three submissions waiting, swaps ready
    for job in ("h1", "h2", "h3", "h4"):
        assert slot_store.take(job, 4)
    waiters, outcome = _waiters(["w1", "w2", "w3"], 4, wait=3.0)
    # When the webhook (h1's callback) and the reconciler (h2's leak) release at the same moment
    start = threading.Barrier(2)

    def release(job_id: str) -> None:
        store = SlotStore(boto3.client("dynamodb", region_name=REGION), TABLE)
        start.wait()
        store.release(job_id)

    releasers = [threading.Thread(target=release, args=(j,)) for j in ("h1", "h2")]
    _run_all(waiters + releasers)
    # Then two waiters hold the two freed slots; the third timed out holding none: never over 4
    took = {j for j, o in outcome.items() if o == "took"}
    assert len(took) == 2 and sorted(outcome.values()) == ["no room", "took", "took"]
    assert slot_store.holders() == frozenset({"h3", "h4", *took})


def test_given_a_duplicate_callback_when_its_job_is_released_twice_then_one_waiter_gets_the_one_slot(
    slot_store: SlotStore,
) -> None:
    # Given all 4 slots held and two submissions waiting, swaps ready
    for job in ("h1", "h2", "h3", "h4"):
        assert slot_store.take(job, 4)
    waiters, outcome = _waiters(["w1", "w2"], 4, wait=3.0)
    # When h1's final callback comes twice (AKOOL's retry), and the finaliser releases it too, at once
    start = threading.Barrier(3)

    def release() -> None:
        store = SlotStore(boto3.client("dynamodb", region_name=REGION), TABLE)
        start.wait()
        store.release("h1")

    _run_all(waiters + [threading.Thread(target=release) for _ in range(3)])
    # Then h1's one slot went to one waiter, the other timed out holding none, and the later releases of
    # h1 took nothing from the waiter that got it
    took = [j for j, o in outcome.items() if o == "took"]
    assert len(took) == 1 and slot_store.holders() == frozenset({"h2", "h3", "h4", *took})
    slot_store.release("h1")
    assert slot_store.holders() == frozenset({"h2", "h3", "h4", *took})


def test_given_a_waiter_that_timed_out_when_a_slot_frees_after_then_the_next_waiter_takes_it(
    slot_store: SlotStore,
) -> None:
    # Given all 2 slots held and a waiter whose wait ended without a slot
    for job in ("h1", "h2"):
        assert slot_store.take(job, 2)
    late, outcome = _waiters(["timed-out"], 2, wait=0.0)
    _run_all(late)
    assert outcome == {"timed-out": "no room"}
    # When a slot frees afterwards and another submission waits
    slot_store.release("h1")
    nxt, outcome = _waiters(["next"], 2, wait=3.0)
    _run_all(nxt)
    # Then the next one takes it: the waiter that timed out left nothing behind to repair
    assert outcome == {"next": "took"} and slot_store.holders() == frozenset({"h2", "next"})


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

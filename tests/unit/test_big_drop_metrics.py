"""The big-drop benchmark's arithmetic (benchmarks/big_drop_metrics.py): utilisation, peaks, minimum."""

from __future__ import annotations

import json

import pytest

from benchmarks import big_drop_metrics as m


def test_given_slots_busy_part_of_the_window_then_utilisation_counts_only_inside_it() -> None:
    # Given 2 slots over a 10 s window: one job the whole window, one that starts before the window and
    # ends half-way, one entirely after it
    jobs = [(0.0, 10.0), (-5.0, 5.0), (12.0, 20.0)]
    # When utilisation is computed
    value = m.utilisation(jobs, (0.0, 10.0), slots=2)
    # Then busy time is clipped to the window: (10 + 5) / (2 × 10)
    assert value == pytest.approx(0.75)
    assert m.busy_seconds(jobs, (0.0, 10.0)) == pytest.approx(15.0)


def test_given_an_empty_window_then_utilisation_is_unknown() -> None:
    # Given no submissions (a zero-length window) or no slots; When computed; Then None, not a division error
    assert m.utilisation([(0.0, 1.0)], (3.0, 3.0), slots=4) is None
    assert m.utilisation([(0.0, 1.0)], (0.0, 1.0), slots=0) is None


def test_given_intervals_then_the_peak_overlap_is_the_most_open_at_once() -> None:
    # Given three overlapping invocations and one that starts exactly when another ends
    intervals = [(0.0, 4.0), (1.0, 3.0), (2.0, 5.0), (5.0, 6.0)]
    # When the peak is computed; Then 3 (touching ends do not overlap)
    assert m.peak_overlap(intervals) == 3
    assert m.peak_overlap([]) == 0


def test_theoretical_minimum_rounds_up_to_whole_waves() -> None:
    # Given 10 jobs of 5 s on 4 slots; When the minimum is computed; Then 3 waves of 5 s
    assert m.theoretical_minimum(10, 4, 5.0) == 15.0
    assert m.theoretical_minimum(1000, 4, 5.0) == 1250.0


def test_percentile_interpolates_and_is_none_without_values() -> None:
    # Given values 1..5; When quantiles are taken; Then linear interpolation between ranks
    assert m.percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5) == 3.0
    assert m.percentile([1.0, 2.0], 0.99) == pytest.approx(1.99)
    assert m.percentile([], 0.5) is None


def test_failure_records_are_labelled_by_error_type_and_message() -> None:
    # Given Lambda on-failure records: a handler error, a throttle, and something else
    handler = {"responsePayload": {"errorType": "AkoolError", "errorMessage": "AKOOL 1005: too frequent"}}
    throttle = {"responsePayload": {"__type": "TooManyRequestsException", "message": "Rate Exceeded"}}
    # When labelled; Then type and message start, whichever shape the payload has
    assert m.failure_reason(json.dumps(handler)) == "AkoolError: AKOOL 1005: too frequent"
    assert m.failure_reason(json.dumps(throttle)) == "TooManyRequestsException: Rate Exceeded"
    assert m.failure_reason("not json") == "not JSON"
    assert m.failure_reason(json.dumps({"x": 1})) == "no responsePayload"


def test_given_a_missed_utilisation_then_the_report_says_the_gap_per_job_and_what_would_reach_it() -> None:
    # Given a run whose AKOOL slots were 80% used, each job holding its slot 5 s, and a met webhook p99
    from benchmarks.big_drop_report import _misses

    handover = {"gap_p50": 1.1, "gap_p90": 2.0, "callback_p50": 0.3, "callback_p90": 0.9,
                "after_callback_p50": 0.8, "after_callback_p90": 1.1}
    run = {"drop": {"akool": {"utilisation": 0.8, "handover": handover}, "job_seconds": 5.0},
           "big_results": {"p99_seconds": 0.4}}
    # When the misses are explained
    lines = _misses(run, {"utilisation": False, "webhook p99": True})
    # Then one line: the hand-over gap is 5 × (1/0.8 − 1) = 1.25 s per job, split as measured, and what
    # would shorten it
    [line] = lines
    assert "AKOOL utilisation 0.80" in line and "about 1.25 s per job" in line and "What would reach" in line
    assert "took p50 0.30 s / p90 0.90 s" in line
    # And nothing is said about a target that was met
    assert _misses(run, {"utilisation": True, "webhook p99": True}) == []


def test_given_one_slot_freed_and_taken_in_turn_then_each_hand_over_is_split_at_the_webhooks_answer() -> None:
    # Given 1 slot: job a 0–5 s, its callback answered at 5.3 s, job b accepted at 5.8 s (b ends at 11,
    # answered at 11.1), c accepted at 11.5 (the tail: c's freeing has no successor)
    jobs = [(0.0, 5.0), (5.8, 11.0), (11.5, 16.0)]
    answered = [5.3, 11.1, None]
    # When the hand-overs are measured
    h = m.handovers(jobs, 1, answered)
    # Then two hand-overs: gaps 0.8 and 0.5, callback trips 0.3 and 0.1, the rest 0.5 and 0.4
    assert h["count"] == 2
    assert h["gap_p50"] == pytest.approx(0.65) and h["callback_p50"] == pytest.approx(0.2)
    assert h["after_callback_p50"] == pytest.approx(0.45)

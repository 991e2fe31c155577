"""Pure arithmetic of the big-drop benchmark (benchmarks.big_drop): no I/O, so tests/unit can pin it."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

Interval = tuple[float, float]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0..1) with linear interpolation; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = math.floor(k), min(math.floor(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def peak_overlap(intervals: Iterable[Interval]) -> int:
    """The most intervals open at one instant (an end at the same instant as a start does not overlap)."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    peak = current = 0
    for _, step in events:  # ends (-1) sort before starts (+1) at equal times
        current += step
        peak = max(peak, current)
    return peak


def busy_seconds(intervals: Iterable[Interval], window: Interval) -> float:
    """Total length of the intervals inside `window` (each clipped to it; overlaps counted per interval,
    since each interval is one slot)."""
    lo, hi = window
    return sum(max(0.0, min(end, hi) - max(start, lo)) for start, end in intervals)


def utilisation(intervals: Sequence[Interval], window: Interval, slots: int) -> float | None:
    """Busy slot-seconds in `window` ÷ (slots × its length); None for an empty window or no slots."""
    length = window[1] - window[0]
    if length <= 0 or slots <= 0:
        return None
    return busy_seconds(intervals, window) / (slots * length)


def theoretical_minimum(jobs: int, slots: int, job_seconds: float) -> float:
    """The shortest time `jobs` jobs of `job_seconds` each can take on `slots` parallel slots."""
    return math.ceil(jobs / slots) * job_seconds if slots > 0 else float("inf")


def failure_reason(body: str) -> str:
    """A short label for a Lambda async on-failure record (SQS body): the error type and the start of
    its message, or what the payload looks like when it is not such a record."""
    try:
        record: Any = json.loads(body)
    except ValueError:
        return "not JSON"
    payload = record.get("responsePayload") if isinstance(record, dict) else None
    if not isinstance(payload, dict):
        return "no responsePayload"
    kind = payload.get("errorType") or payload.get("__type") or "?"
    message = str(payload.get("errorMessage") or payload.get("message") or "")
    return f"{kind}: {message[:60]}" if message else str(kind)


def handovers(
    slots: Sequence[Interval], limit: int, released: Sequence[float | None] | None = None
) -> dict[str, float | int | None]:
    """How long a freed AKOOL slot stayed empty while jobs waited: the i-th slot to free (in time order)
    is the one the (i + limit)-th accepted job took, so each gap is that job's acceptance minus the
    freeing. Only the first `len(slots) - limit` frees have a successor (the tail frees with the queue
    empty). `released[j]`: when the webhook answered slot j's final callback (its release is just
    before that answer), which splits each gap into the callback's trip and the rest (the waiter's
    look, its preparation, the submit). Medians and p90s, in seconds."""
    starts = sorted(start for start, _ in slots)
    frees = sorted(range(len(slots)), key=lambda j: slots[j][1])
    gaps: list[float] = []
    trips: list[float] = []
    rests: list[float] = []
    for i, j in enumerate(frees[: max(0, len(slots) - limit)]):
        freed, taken = slots[j][1], starts[i + limit]
        gaps.append(max(0.0, taken - freed))
        answered = released[j] if released is not None else None
        if answered is not None:
            trips.append(max(0.0, answered - freed))
            rests.append(max(0.0, taken - answered))
    return {
        "count": len(gaps),
        "gap_p50": percentile(gaps, 0.5), "gap_p90": percentile(gaps, 0.9),
        "callback_p50": percentile(trips, 0.5), "callback_p90": percentile(trips, 0.9),
        "after_callback_p50": percentile(rests, 0.5), "after_callback_p90": percentile(rests, 0.9),
    }

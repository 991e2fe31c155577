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

"""Where a batch of jobs stands: a per-folder progress line (a bar by state, done/total) and an ETA from the
pacing figures: the AKOOL slots the stack keeps in flight (its AkoolMaxJobsInFlight parameter) and the
durations of the jobs already finished (their reports' `timings`). Plain text, no colour, so it reads the
same on a terminal, in a pipe and at 80 columns."""

from __future__ import annotations

import math
import posixpath
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from dropswap_cli import layout
from dropswap_cli.printable import printable
from dropswap_cli.stack import Stack

# In the order a job goes through them; "no report yet" is what the CLI shows before the first report.
STATES = ("QUEUED", "WAITING", "PROCESSING", "SUCCEEDED", "FAILED", "REJECTED")
NO_REPORT = "no report yet"
SLOTS_PARAMETER = "AkoolMaxJobsInFlight"
# One character per state in the bar: finished, at AKOOL, not started yet.
_BAR = {"SUCCEEDED": "#", "FAILED": "x", "REJECTED": "x", "PROCESSING": ">", "QUEUED": ".", "WAITING": "."}
_SHORT = {"SUCCEEDED": "ok", "FAILED": "failed", "REJECTED": "rejected", "PROCESSING": "processing",
          "QUEUED": "queued", "WAITING": "waiting", NO_REPORT: "no report"}
BAR_WIDTH = 20
MAX_WIDTH = 100  # the widest a job's or a folder's line gets, however wide the terminal


def akool_slots(stack: Stack) -> int | None:
    """The stack's AkoolMaxJobsInFlight (None when unknown, or 0 = pacing off): a CloudFormation stack's
    parameters, read when it was found, or the local stack's, asked of its CloudFormation."""
    value = stack.parameters.get(SLOTS_PARAMETER)
    if value is None and stack.session is not None and stack.name:
        try:
            found = stack.client("cloudformation").describe_stacks(StackName=stack.name)["Stacks"][0]
            value = next((p.get("ParameterValue") for p in found.get("Parameters", [])
                          if p.get("ParameterKey") == SLOTS_PARAMETER), None)
        except Exception:  # an ETA is a nicety: no permission or no stack means "unknown", not an error
            return None
    try:
        slots = int(value) if value is not None else 0
    except ValueError:
        return None
    return slots or None


def parse_time(value: object) -> datetime | None:
    """A report's ISO 8601 time ("2026-12-01T06:00:00.123Z"), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def duration(report: Mapping[str, Any]) -> float | None:
    """How long a finished job was at AKOOL (submitted_at → finished_at), in seconds; None if unknown."""
    if report.get("status") not in ("SUCCEEDED", "FAILED"):
        return None
    timings = report.get("timings")
    if not isinstance(timings, Mapping):
        return None
    start, end = parse_time(timings.get("submitted_at")), parse_time(timings.get("finished_at"))
    if start is None or end is None or end < start:
        return None
    return (end - start).total_seconds()


def paced(report: Mapping[str, Any] | None) -> bool:
    """Whether a job still to finish waits only for AKOOL's pace (not for an input or the budget)."""
    if report is None:
        return True
    status = report.get("status")
    if status == "WAITING":
        return report.get("waiting_for") == "AKOOL slot"
    return status in ("QUEUED", "PROCESSING")


def eta(reports: Iterable[Mapping[str, Any] | None], slots: int | None) -> str:
    """"ETA 2m10s" for the jobs still to finish, from the mean of the finished jobs' durations and the
    slots in flight (one at a time when unknown); "ETA unknown" until a job has finished."""
    listed = list(reports)
    times = [d for d in (duration(r) for r in listed if r is not None) if d is not None]
    left = sum(1 for r in listed if paced(r))
    if left == 0:
        return ""
    if not times:
        return "ETA unknown"
    seconds = statistics.fmean(times) * math.ceil(left / (slots or 1))
    return f"ETA {clock(seconds)}"


def clock(seconds: float) -> str:
    """A duration as 45s, 2m10s or 1h05m."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def bar(counts: Mapping[str, int], width: int = BAR_WIDTH) -> str:
    """`[###x>>..    ]`: each state's share of the jobs, finished first; spaces for no report yet."""
    total = sum(counts.values())
    if total == 0:
        return "[" + " " * width + "]"
    cells, used = [], 0.0
    for state in (*STATES[3:], "PROCESSING", "QUEUED", "WAITING"):
        used_before = round(used)
        used += counts.get(state, 0) * width / total
        cells.append(_BAR[state] * (round(used) - used_before))
    filled = "".join(cells)
    return "[" + filled + " " * (width - len(filled)) + "]"


def summary(counts: Mapping[str, int]) -> str:
    """"3 ok, 1 rejected, 2 processing, 4 queued": the non-zero states, in a job's order."""
    order = (*STATES[3:], "PROCESSING", "WAITING", "QUEUED", NO_REPORT)
    known = [f"{counts[s]} {_SHORT[s]}" for s in order if counts.get(s)]
    other = [f"{n} {s}" for s, n in sorted(counts.items()) if s not in order and n]
    return ", ".join(known + other)


def folder_line(folder: str, counts: Mapping[str, int], estimate: str, width: int) -> str:
    """One line for a folder, at most `width` characters: name, bar, done/total, states, ETA. The folder
    name (the uploader's) is escaped, then shortened in the middle; the states are cut last."""
    total = sum(counts.values())
    done = sum(n for s, n in counts.items() if s in layout.TERMINAL)
    head_room = max(8, width // 4)
    name = middle(printable(folder or "(top)"), head_room)
    tail = f" {estimate}" if estimate else ""
    fixed = f"{name} {bar(counts)} {done}/{total}"
    states = f" {summary(counts)}"
    room = width - len(fixed) - len(tail)
    if len(states) > room:
        states = states[: max(0, room - 1)] + "…" if room > 1 else ""
    return fixed + states + tail


def by_folder(photos: Iterable[tuple[str, str]]) -> dict[str, Counter[str]]:
    """Counts by state for each folder, from (photo, state) pairs (photo relative to inbox/)."""
    out: dict[str, Counter[str]] = {}
    for photo, state in photos:
        out.setdefault(folder_of(photo), Counter())[state] += 1
    return dict(sorted(out.items()))


def folder_of(photo: str) -> str:
    """"party/" for "party/a.jpg" ("" at the top)."""
    folder = posixpath.dirname(photo)
    return folder + "/" if folder else ""


def middle(text: str, width: int) -> str:
    """`text` shortened to `width` characters by an ellipsis in the middle (both ends of a path matter)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    head = (width - 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head):]


def end(text: str, width: int) -> str:
    """`text` cut to `width` characters, an ellipsis marking the cut."""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"

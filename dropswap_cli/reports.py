"""Following the reports of a batch of photos until each is final, with one LIST of their results folder
per poll and a GET only for a report that changed."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from dropswap_cli import layout, objects, progress
from dropswap_cli.printable import line, printable

Signature = tuple[str, datetime | None]
FIRST_INTERVAL, MAX_INTERVAL = 0.5, 5.0


def pause(seconds: float) -> None:
    """Wait between polls (tests replace it to play the stack's part)."""
    time.sleep(seconds)


class Reports:
    """The latest report of each photo (paths relative to inbox/, all in `folder`).

    `stale` maps a photo to its report's signature from before this run uploaded anything new for it: that
    report belongs to an older job and does not count. A photo absent from it takes any report (nothing
    was uploaded for it, so its current job is this run's too)."""

    def __init__(self, s3: Any, bucket: str, folder: str, photos: Iterable[str],
                 stale: dict[str, Signature] | None = None) -> None:
        self.s3, self.bucket, self.folder = s3, bucket, folder
        self.photos = list(photos)
        self.stale = stale or {}
        self.latest: dict[str, dict[str, Any]] = {}
        self._read: dict[str, str] = {}

    def status(self, rel: str) -> str | None:
        return str(self.latest[rel].get("status")) if rel in self.latest else None

    def pending(self) -> list[str]:
        return [rel for rel in self.photos if self.status(rel) not in layout.TERMINAL]

    def poll(self) -> None:
        found = objects.listing(self.s3, self.bucket, layout.RESULTS + self.folder)
        for rel in self.pending():
            remote = found.get(layout.report(rel))
            if remote is None or remote.signature == self.stale.get(rel):
                continue
            if self._read.get(rel) == remote.etag:
                continue
            report = objects.get_json(self.s3, self.bucket, layout.report(rel))
            if report is not None:
                self.latest[rel] = report
                self._read[rel] = remote.etag

    def counts(self) -> Counter[str]:
        return Counter(self.status(rel) or "no report yet" for rel in self.photos)


def wait(reports: Reports, timeout: float, console: Console, slots: int | None = None) -> None:
    """Poll until every photo's report is final or `timeout` seconds passed, with a progress bar whose
    description holds the counts by state and an ETA (progress.py, from `slots` AKOOL jobs in flight),
    and a line for each photo's change of state."""
    deadline = time.monotonic() + timeout
    interval = FIRST_INTERVAL
    told: dict[str, str] = {}
    # The description holds the reports' statuses: text, never markup.
    columns = (SpinnerColumn(), TextColumn("{task.description}", markup=False), BarColumn(),
               MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("waiting for the stack", total=len(reports.photos))
        while True:
            reports.poll()
            for rel in reports.photos:
                state = reports.status(rel)
                if state is not None and told.get(rel) != state:
                    told[rel] = state
                    bar.console.print(line(rel, " ", state, " ", detail(reports.latest[rel], reports.bucket)))
            counts = reports.counts()
            done = sum(n for status, n in counts.items() if status in layout.TERMINAL)
            estimate = progress.eta([reports.latest.get(rel) for rel in reports.photos], slots)
            summary = printable(", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
            bar.update(task, completed=done, description=f"{summary} {estimate}".strip())
            if not reports.pending() or time.monotonic() >= deadline:
                return
            pause(interval)
            interval = min(interval * 1.5, MAX_INTERVAL)


def describe(report: Mapping[str, Any] | None) -> str:
    """A report's error in one line ("CODE: message"), or "" when it has none."""
    error = (report or {}).get("error")
    return f"{error.get('code')}: {error.get('message')}" if isinstance(error, dict) else ""


def budget_wait(report: Mapping[str, Any]) -> str:
    """For a job the daily credit budget holds back (`waiting_for` "credit budget"): a line saying until
    when; "" for any other report."""
    if report.get("waiting_for") != "credit budget":
        return ""
    budget = report.get("budget")
    resets = budget.get("resets_at") if isinstance(budget, Mapping) else None
    return "waiting for the credit budget" + (f" (resets {resets}, or raise AkoolCreditBudgetPerDay)"
                                              if resets else "")


def missing(report: Mapping[str, Any]) -> list[str]:
    """The inputs a WAITING report names, each with the first line of its hint (or its "did you mean"
    keys) when it has one: `missing` beside `waiting_for: "input"`, or the older list-valued
    `waiting_for` ({field, key, message, hint})."""
    listed = report.get("missing") if report.get("waiting_for") == "input" else report.get("waiting_for")
    if not isinstance(listed, list):
        return []
    shown = []
    for item in listed:
        if isinstance(item, Mapping):
            key = _in_drop(str(item.get("key") or item.get("source") or "?"), report)
            hint = str(item.get("hint") or "").strip().splitlines()
            near = item.get("did_you_mean")
            if not hint and isinstance(near, list) and near:
                hint = [f"did you mean {', '.join(str(k) for k in near)}?"]
            shown.append(f"{key} ({hint[0].strip()})" if hint else str(key))
        else:
            shown.append(str(item))
    return shown


def _in_drop(key: str, report: Mapping[str, Any]) -> str:
    """A key under the report's own inbox/ as the user named it there (`party/faces/a.jpg`): the bucket's
    URI is the same for every row and would push the name out of a 100-column line. Others stay whole."""
    image = str(report.get("image") or "")
    if image.startswith("s3://"):
        inbox = "s3://" + image[5:].split("/", 1)[0] + "/inbox/"
        if key.startswith(inbox):
            return key[len(inbox):]
    return key


def waiting(report: Mapping[str, Any], until: bool = True) -> str:
    """What a WAITING report waits for, in one line: the missing inputs, an AKOOL slot or the credit
    budget, and (`until`) when it gives up (`expires_at`); "" for another report."""
    if report.get("status") != "WAITING":
        return ""
    what = report.get("waiting_for")
    inputs = missing(report)
    if inputs:
        text = "missing " + ", ".join(inputs)
    elif what == "credit budget":
        text = budget_wait(report)
    elif what == "AKOOL slot":
        text = "waiting for an AKOOL slot"
    else:
        text = f"waiting for {what}" if isinstance(what, str) and what else "waiting"
    expires = report.get("expires_at")
    return f"{text}; gives up at {expires}" if expires and until else text


def detail(report: Mapping[str, Any], bucket: str, times: bool = True) -> str:
    """A report in one line, whatever its state: the error, what it waits for, since when (`times`) it
    is queued or at AKOOL, or the result's key."""
    status = report.get("status")
    timings = _timings(report) if times else {}
    if status == "WAITING":
        return waiting(report, until=times)
    if status == "QUEUED":
        since = timings.get("queued_at")
        return f"queued since {since}" if since else "waiting for its turn"
    if status == "PROCESSING":
        since = timings.get("submitted_at")
        return f"at AKOOL since {since}" if since else "at AKOOL"
    return describe(report) or layout.key_of(str(report.get("result") or ""), bucket) or ""


def state_time(report: Mapping[str, Any]) -> str:
    """The time that goes with a report's state: queued at, at AKOOL since, gives up at, finished at."""
    timings = _timings(report)
    status = report.get("status")
    if status == "WAITING":
        return str(report.get("expires_at") or "")
    field = {"QUEUED": "queued_at", "PROCESSING": "submitted_at"}.get(str(status), "finished_at")
    return str(timings.get(field) or "")


def _timings(report: Mapping[str, Any]) -> Mapping[str, Any]:
    found = report.get("timings")
    return found if isinstance(found, Mapping) else {}

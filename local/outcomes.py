"""`make up`'s console without `--watch`: one line per job outcome, read from the reports under results/ (the
public contract). With `--watch DIR`, `dropswap sync`'s own lines are shown instead (local/watch.py).

    07:12:03 SUCCEEDED inbox/party/team.jpg → results/party/team.swapped.jpg
    07:12:05 REJECTED  inbox/x/bad.jpg FACE_NOT_FOUND: swaps[0].target: … → results/x/bad.jpg.result.json
    07:12:06 WAITING   inbox/party/kid.jpg missing inbox/party/me.jpg → results/party/kid.jpg.result.json

The formatter reads only what it knows (status, image, result, error, missing inputs) and ignores the rest,
so fields a report gains later do not break the console. Keys and messages are the uploader's: every line
goes through `printable` (dropswap_cli/printable.py), so no control character reaches the terminal.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from dropswap_cli.printable import printable
from dropswap_cli.reports import detail, missing

REPORT_SUFFIX = ".result.json"
INBOX = "inbox/"
RESULTS = "results/"
# A message's first line is shown; a very long one is cut here (the report has it all).
MAX_MESSAGE = 200


def is_report(key: str) -> bool:
    return key.startswith(RESULTS) and key.endswith(REPORT_SUFFIX)


def _key_of(uri: object) -> str | None:
    """`s3://bucket/key` → `key`; a bare key as is; anything else None."""
    if not isinstance(uri, str) or not uri:
        return None
    if uri.startswith("s3://"):
        parts = uri.split("/", 3)
        return parts[3] if len(parts) == 4 else None
    return uri


def _first_line(text: object) -> str:
    lines = str(text).strip().splitlines()
    line = lines[0].strip() if lines else ""
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 1] + "…"


def outcome_line(report_key: str, report: object, clock: str) -> str:
    """The console line for one report: time, status, photo, error code and message, missing inputs, and
    where to look (the swapped image for a result, else the report)."""
    if not isinstance(report, Mapping):
        return printable(f"{clock} ?         {report_key}: not a report object")
    status = str(report.get("status") or "?")
    photo = _key_of(report.get("image")) or INBOX + report_key[len(RESULTS): -len(REPORT_SUFFIX)]
    parts = [clock, f"{status:<9}", photo]
    error = report.get("error")
    if isinstance(error, Mapping):
        code, message = error.get("code"), _first_line(error.get("message", ""))
        parts.append(f"{code}: {message}" if code and message else str(code or message))
    # What a WAITING job waits for and until when; since when a QUEUED or PROCESSING one is where it is.
    parts.append(detail(report, "") if status in ("WAITING", "QUEUED", "PROCESSING") else "")
    result = _key_of(report.get("result"))
    parts.append("→ " + (result or report_key))
    return printable(" ".join(p for p in parts if p))


class OutcomePrinter:
    """Reads a report that appeared or changed and prints its line, once per outcome: the same job and
    status rewritten (e.g. a retried final write) prints nothing new."""

    def __init__(
        self,
        s3: Any,
        bucket: str,
        out: Callable[[str], None],
        clock: Callable[[], str] = lambda: time.strftime("%H:%M:%S"),
    ) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.out = out
        self.clock = clock
        self._shown: dict[str, tuple[str, ...]] = {}

    def show(self, report_key: str) -> None:
        body = self.s3.get_object(Bucket=self.bucket, Key=report_key)["Body"].read()
        try:
            report: object = json.loads(body)
        except ValueError as exc:
            self.out(printable(f"{self.clock()} ?         {report_key}: not JSON ({exc})"))
            return
        outcome = _outcome_identity(report)
        if self._shown.get(report_key) == outcome:
            return
        self._shown[report_key] = outcome
        self.out(outcome_line(report_key, report, self.clock()))


def _outcome_identity(report: object) -> tuple[str, ...]:
    if not isinstance(report, Mapping):
        return ("?",)
    error = report.get("error")
    code = error.get("code") if isinstance(error, Mapping) else None
    return (str(report.get("job_id")), str(report.get("status")), str(code), str(missing(report)),
            str(report.get("waiting_for")))

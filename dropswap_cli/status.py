"""`dropswap status [FOLDER]`: the jobs of a folder as their reports tell them, a line each, with counts by
status and each unfinished folder's progress (progress.py)."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rich.console import Console
from rich.table import Column, Table

from dropswap_cli import layout, objects, progress, reports
from dropswap_cli.printable import line, printable
from dropswap_cli.stack import Stack

READERS = 8  # reports read at once
# A job's line fits progress.MAX_WIDTH columns (or the terminal, when narrower): fixed columns, then
# the detail.
NAME_WIDTH, STATUS_WIDTH, TIME_WIDTH = 32, 10, 17


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    p = commands.add_parser("status", parents=[common], help="a line per job from their reports",
                            description="List the reports under results/ (all of them, or a folder's): a "
                                        "line per job, then each folder's progress and ETA.")
    p.add_argument("folder", nargs="?", default="", metavar="PREFIX",
                   help="a folder, e.g. party/ or inbox/party/ (default: every folder)")
    p.add_argument("--status", action="append", default=[], metavar="STATE", type=states,
                   help="only jobs in this state (QUEUED, WAITING, PROCESSING, SUCCEEDED, FAILED, REJECTED; "
                        "any case; repeat it or give a comma list)")
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--wide", action="store_true", help="full detail in a table, folded, never cut")
    shown.add_argument("--json", action="store_true", help="print JSON for scripts instead of lines")
    p.set_defaults(run=run)


def states(text: str) -> list[str]:
    """`--status`'s value: one state or a comma list, any case, each a state a report can have."""
    found = [part.strip().upper() for part in text.split(",") if part.strip()]
    unknown = [s for s in found if s not in progress.STATES]
    if unknown or not found:
        raise argparse.ArgumentTypeError(f"{text!r}: use one or more of {', '.join(progress.STATES)}")
    return found


def collect(stack: Stack, folder: str) -> list[dict[str, Any]]:
    """Every report under results/<folder>, each with the photo it is about, sorted by photo."""
    keys = sorted(k for k in objects.listing(stack.s3, stack.bucket, layout.RESULTS + folder)
                  if k.endswith(layout.REPORT_SUFFIX))
    with ThreadPoolExecutor(READERS) as pool:
        found = list(pool.map(lambda k: objects.get_json(stack.s3, stack.bucket, k), keys))
    return [{"photo": layout.photo_of_report(key), "report_key": key, "report": report}
            for key, report in zip(keys, found, strict=True) if report is not None]


def run(args: argparse.Namespace, connect: Callable[[], Stack], out: Console, err: Console) -> int:
    folder = layout.folder(args.folder)
    wanted = {state for listed in args.status for state in listed}
    stack = connect()
    every = collect(stack, folder)
    jobs = [job for job in every if not wanted or str(job["report"].get("status")) in wanted]
    counts = Counter(str(job["report"].get("status")) for job in jobs)
    if args.json:
        # Plain print: exactly the JSON on stdout, nothing rich adds.
        print(json.dumps({"bucket": stack.bucket, "prefix": layout.RESULTS + folder,
                          "counts": dict(sorted(counts.items())), "jobs": jobs}, indent=2))
        return 0
    if args.wide:
        out.print(_table(jobs, stack.bucket))
    else:
        width = min(out.width, progress.MAX_WIDTH)
        longest = max((len(printable(job["photo"])) for job in jobs), default=0)
        names = max(12, min(NAME_WIDTH, width // 3, longest))
        for job in jobs:
            # no_wrap: a row is made to fit; a console narrower than it says cuts rather than folds it.
            out.print(line(row(job["photo"], job["report"], stack.bucket, width, names)), no_wrap=True,
                      overflow="ellipsis")
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no jobs"
    shown = f" ({', '.join(sorted(wanted))})" if wanted else ""
    where = f"s3://{stack.bucket}/{layout.RESULTS}{folder}"
    out.print(line(f"{len(jobs)} job(s){shown} under {where}: {summary}"))
    _progress(stack, every, out)
    return 0


def row(photo: str, report: dict[str, Any], bucket: str, width: int, name_width: int = NAME_WIDTH) -> str:
    """One job in one line of at most `width` characters: photo (shortened in the middle to
    `name_width`), state, the time that goes with it (reports.state_time), and its detail (cut at the
    end). `--wide` has it all."""
    status = progress.end(printable(report.get("status")), STATUS_WIDTH)
    when = _short_time(report)
    name = progress.middle(printable(photo), name_width)
    head = f"{name:<{name_width}} {status:<{STATUS_WIDTH}} {when:<{TIME_WIDTH}} "
    # The time column already says since or until when: the detail leaves it out, for room.
    text = reports.detail(report, bucket, times=False)
    return head + progress.end(printable(text), max(0, width - len(head)))


def _short_time(report: dict[str, Any]) -> str:
    """The state's time as "since 12-01 06:00" (QUEUED, PROCESSING), "until 12-02 06:00" (WAITING: when
    it gives up) or "at 12-01 06:00" (finished); the year and the seconds are in --wide."""
    value = reports.state_time(report)
    when = progress.parse_time(value)
    if when is None:
        return printable(value)[:TIME_WIDTH]
    word = {"QUEUED": "since", "PROCESSING": "since", "WAITING": "until"}.get(str(report.get("status")), "at")
    return f"{word} {when:%m-%d %H:%M}"


def _table(jobs: list[dict[str, Any]], bucket: str) -> Table:
    # Folded, never cut: paths and messages are what the user acts on.
    table = Table(*(Column(h, overflow="fold") for h in ("photo", "status", "detail", "time")))
    for job in jobs:
        report = job["report"]
        # Keys and messages are the uploader's: shown as text, never read as markup (printable.py).
        cells = (job["photo"], str(report.get("status")), reports.detail(report, bucket),
                 reports.state_time(report))
        table.add_row(*(line(cell) for cell in cells))
    return table


def _progress(stack: Stack, jobs: list[dict[str, Any]], out: Console) -> None:
    """Each folder's progress line, with an ETA for the folders that still have jobs to finish."""
    folders = progress.by_folder((job["photo"], str(job["report"].get("status"))) for job in jobs)
    if not any(set(counts) - set(layout.TERMINAL) for counts in folders.values()):
        return  # all finished: the summary line says it all, and no stack parameter needs reading
    slots = progress.akool_slots(stack)
    width = min(out.width, progress.MAX_WIDTH)
    for name, counts in folders.items():
        mine = [job["report"] for job in jobs if progress.folder_of(job["photo"]) == name]
        out.print(line(progress.folder_line(name, counts, progress.eta(mine, slots), width)), no_wrap=True,
                  overflow="ellipsis")

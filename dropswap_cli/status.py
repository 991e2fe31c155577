"""`dropswap status [FOLDER]`: the jobs of a folder as their reports tell them, with counts by status."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rich.console import Console
from rich.table import Column, Table

from dropswap_cli import layout, objects
from dropswap_cli.printable import line
from dropswap_cli.stack import Stack

READERS = 8  # reports read at once


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    p = commands.add_parser("status", parents=[common], help="a table of jobs from their reports",
                            description="List the reports under results/ (all of them, or a folder's).")
    p.add_argument("folder", nargs="?", default="", metavar="PREFIX",
                   help="a folder, e.g. party/ or inbox/party/ (default: every folder)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts instead of a table")
    p.set_defaults(run=run)


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
    stack = connect()
    jobs = collect(stack, folder)
    counts = Counter(str(job["report"].get("status")) for job in jobs)
    if args.json:
        # Plain print: exactly the JSON on stdout, nothing rich adds.
        print(json.dumps({"bucket": stack.bucket, "prefix": layout.RESULTS + folder,
                          "counts": dict(sorted(counts.items())), "jobs": jobs}, indent=2))
        return 0
    # Folded, never cut: paths and messages are what the user acts on.
    table = Table(*(Column(h, overflow="fold") for h in ("photo", "status", "detail", "finished")))
    for job in jobs:
        report = job["report"]
        error = report.get("error")
        detail = (f"{error.get('code')}: {error.get('message')}" if isinstance(error, dict)
                  else layout.key_of(str(report.get("result") or ""), stack.bucket) or "")
        finished = str((report.get("timings") or {}).get("finished_at") or "")
        # Keys and messages are the uploader's: shown as text, never read as markup (printable.py).
        table.add_row(*(line(cell) for cell in (job["photo"], str(report.get("status")), detail, finished)))
    out.print(table)
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no jobs"
    out.print(line(f"{len(jobs)} job(s) under s3://{stack.bucket}/{layout.RESULTS}{folder}: {summary}"))
    return 0

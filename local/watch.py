"""What `make up` watches in the drop bucket: each job's outcome on the console, or with `--watch DIR` a local
drop folder kept in step with inbox/ by `dropswap sync`'s own code (dropswap_cli/sync.py), pointed at this
stack through its local.json.

Without a folder, the reports under results/ are polled: one round a second, one LIST request per 1000
objects, and a GET only for a report that is new or changed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from dropswap_cli import stack
from dropswap_cli.printable import printable
from dropswap_cli.sync import INTERVAL_SECONDS, SETTLE_SECONDS, FolderSync
from local.outcomes import OutcomePrinter, is_report


def bucket_watch(
    local_json: Path, s3: Any, bucket: str, drop_folder: Path | None, lines: Callable[[str], None] | None,
) -> DropFolderLoop | BucketWatcher:
    """The loop `make up` runs until stop. With a drop folder, `dropswap sync DIR` prints the uploads and
    each outcome (with the local result), and nothing else does; without, the outcome printer reads the
    reports. `lines` prints a console line (None: no console)."""
    if drop_folder is not None:
        # soft_wrap: a line is never cut at the terminal's width (tests and pipes read whole lines).
        out = Console(soft_wrap=True, highlight=False, quiet=lines is None)
        return DropFolderLoop(drop_folder_sync(local_json, drop_folder, out))
    say = lines or _ignore
    return BucketWatcher(ResultsFeed(s3, bucket), OutcomePrinter(s3, bucket, say), say)


def _ignore(line: str) -> None:
    """No console: a caller without one reads the reports itself."""


class DropFolderLoop:
    """`dropswap sync DIR` in loop mode, in make up's watcher thread: a pass every INTERVAL_SECONDS."""

    def __init__(self, sync: FolderSync) -> None:
        self.sync = sync

    def run(self, stop: threading.Event) -> None:
        self.sync.run_until(stop.wait, INTERVAL_SECONDS, self.sync.out)


def drop_folder_sync(local_json: Path, folder: Path, out: Console) -> FolderSync:
    """`dropswap sync DIR` in loop mode, against the local stack `local_json` describes: DIR stands for
    inbox/ itself, and files changed in the last SETTLE_SECONDS wait for a later pass."""
    folder.mkdir(parents=True, exist_ok=True)
    return FolderSync(stack.find(None, None, local_json), folder, "", out, settle=SETTLE_SECONDS)


class ResultsFeed:
    """Reports under results/ that are new, or changed (another ETag), since they were last handled."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket
        self._handled: dict[str, str] = {}

    def changes(self) -> list[tuple[str, str]]:
        """(key, etag) pairs."""
        found = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix="results/"):
            for obj in page.get("Contents", []):
                if is_report(obj["Key"]) and self._handled.get(obj["Key"]) != obj["ETag"]:
                    found.append((obj["Key"], obj["ETag"]))
        return found

    def handled(self, key: str, etag: str) -> None:
        self._handled[key] = etag


class BucketWatcher:
    """One round: print the outcome of each new or changed report. Whatever fails is retried next round."""

    def __init__(
        self, feed: ResultsFeed, printer: OutcomePrinter, out: Callable[[str], None], interval: float = 1.0,
    ) -> None:
        self.feed = feed
        self.printer = printer
        self.out = out
        self.interval = interval

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            self.once()

    def once(self) -> None:
        try:
            changes = self.feed.changes()
        except Exception as exc:  # e.g. the local AWS busy: the next round tries again
            self.out(printable(f"[watch] {exc}"))
            return
        for key, etag in changes:
            try:
                self.printer.show(key)
            except Exception as exc:
                self.out(printable(f"[watch] {key}: {exc}"))
                continue
            self.feed.handled(key, etag)

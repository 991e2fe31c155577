"""What `make up` watches in the drop bucket: each job's outcome on the console, and with `--watch DIR` a
local drop folder mirrored into the bucket.

Files dropped in DIR (outside DIR/results/) are uploaded to inbox/<same relative path>; everything under
results/ in the bucket is copied back to DIR/results/. Polling keeps it dependency-free: one round a second,
one LIST request per 1000 objects under results/, and a GET only for what is new or changed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dropswap_cli.layout import local_path
from local.outcomes import OutcomePrinter, is_report


class ResultsFeed:
    """Objects under results/ that are new, or changed (another ETag), since they were last handled."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket
        self._handled: dict[str, str] = {}

    def changes(self) -> list[tuple[str, str]]:
        """(key, etag) pairs, the swapped images and other files before the reports, so a report's line
        is printed after the files it names are copied."""
        found = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix="results/"):
            for obj in page.get("Contents", []):
                if self._handled.get(obj["Key"]) != obj["ETag"]:
                    found.append((obj["Key"], obj["ETag"]))
        return sorted(found, key=lambda change: is_report(change[0]))

    def handled(self, key: str, etag: str) -> None:
        self._handled[key] = etag


class DropFolderSync:
    def __init__(self, folder: Path, s3: Any, bucket: str, out: Callable[[str], None]) -> None:
        self.folder = folder
        self.results = folder / "results"
        self.s3 = s3
        self.bucket = bucket
        self.out = out
        self._uploaded: dict[Path, tuple[float, int]] = {}

    def prepare(self) -> None:
        self.results.mkdir(parents=True, exist_ok=True)

    def upload_new(self) -> None:
        for path in sorted(self.folder.rglob("*")):
            if not path.is_file() or self.results in path.parents or path.name.startswith("."):
                continue
            stat = path.stat()
            sig = (stat.st_mtime, stat.st_size)
            if self._uploaded.get(path) == sig:
                continue
            key = "inbox/" + path.relative_to(self.folder).as_posix()
            self.s3.upload_file(str(path), self.bucket, key)
            self._uploaded[path] = sig
            self.out(f"[watch] uploaded {path} → s3://{self.bucket}/{key}")

    def download(self, key: str) -> None:
        target = local_path(self.results, key[len("results/"):])  # never outside the drop folder
        target.parent.mkdir(parents=True, exist_ok=True)
        self.s3.download_file(self.bucket, key, str(target))


class BucketWatcher:
    """One round: upload what is new in the drop folder, copy back what changed under results/, print the
    outcome of each new or changed report. Whatever fails is retried next round."""

    def __init__(
        self,
        feed: ResultsFeed,
        printer: OutcomePrinter,
        out: Callable[[str], None],
        sync: DropFolderSync | None = None,
        interval: float = 1.0,
    ) -> None:
        self.feed = feed
        self.printer = printer
        self.out = out
        self.sync = sync
        self.interval = interval

    def run(self, stop: threading.Event) -> None:
        if self.sync is not None:
            self.sync.prepare()
        while not stop.wait(self.interval):
            self.once()

    def once(self) -> None:
        try:
            if self.sync is not None:
                self.sync.upload_new()
            changes = self.feed.changes()
        except Exception as exc:  # e.g. a half-written file: the next round tries again
            self.out(f"[watch] {exc}")
            return
        for key, etag in changes:
            try:
                if self.sync is not None:
                    self.sync.download(key)
                if is_report(key):
                    self.printer.show(key)
            except Exception as exc:
                self.out(f"[watch] {key}: {exc}")
                continue
            self.feed.handled(key, etag)

"""`make up ARGS=--watch DIR`: a local folder mirrored into the drop bucket.

Files dropped in DIR (outside DIR/results/) are uploaded to inbox/<same relative path>; everything
under results/ in the bucket is copied back to DIR/results/. Polling keeps it dependency-free.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any


class DropFolderSync:
    def __init__(self, folder: Path, s3: Any, bucket: str, interval: float = 1.0) -> None:
        self.folder = folder
        self.results = folder / "results"
        self.s3 = s3
        self.bucket = bucket
        self.interval = interval
        self._uploaded: dict[Path, tuple[float, int]] = {}
        self._downloaded: dict[str, str] = {}

    def run(self, stop: threading.Event) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.results.mkdir(exist_ok=True)
        while not stop.wait(self.interval):
            try:
                self.sync_once()
            except Exception as exc:  # keep syncing; a half-written file is retried next round
                print(f"[watch] {exc}")

    def sync_once(self) -> None:
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
            print(f"[watch] uploaded {path} → s3://{self.bucket}/{key}")
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix="results/"):
            for obj in page.get("Contents", []):
                key, etag = obj["Key"], obj["ETag"]
                if self._downloaded.get(key) == etag:
                    continue
                target = self.results / key[len("results/"):]
                target.parent.mkdir(parents=True, exist_ok=True)
                self.s3.download_file(self.bucket, key, str(target))
                self._downloaded[key] = etag
                print(f"[watch] result {target}")

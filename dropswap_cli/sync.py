"""`dropswap sync DIR`: a local folder kept in step with the drop folder, both ways.

DIR/<path> goes up to inbox/<prefix><path> when it is new or changed (size and MD5 against the object's
ETag); results/<prefix><path> comes down to DIR/results/<path>; each report that comes down prints one line
with the job's outcome. Nothing is ever deleted on either side.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console

from dropswap_cli import layout, objects, reports
from dropswap_cli.errors import CliError
from dropswap_cli.stack import Stack

# A file changed this recently may still be being written: it goes up on a later pass (loop mode only).
SETTLE_SECONDS = 1.0
INTERVAL_SECONDS = 2.0  # between passes in loop mode
# Names of files still being written by browsers, editors and this tool's own downloads.
PARTIAL_SUFFIXES = (".part", ".tmp", ".crdownload", ".download", ".swp", "~")
ICONS = {"SUCCEEDED": "[green]✓[/]", "FAILED": "[red]✗[/]", "REJECTED": "[red]✗[/]"}


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    p = commands.add_parser("sync", parents=[common], help="keep a local folder in step with inbox/",
                            description="Upload new and changed files of DIR to inbox/ and download results "
                                        "into DIR/results/, printing each job's outcome. Loops until Ctrl-C.")
    p.add_argument("dir", type=Path, metavar="DIR")
    p.add_argument("--prefix", default="", metavar="FOLDER",
                   help="the folder under inbox/ that DIR stands for (default: inbox/ itself)")
    p.add_argument("--once", action="store_true", help="one pass each way, then exit")
    p.add_argument("--interval", type=float, default=INTERVAL_SECONDS, metavar="SECONDS",
                   help="between passes (default 2)")
    p.set_defaults(run=run)


class FolderSync:
    def __init__(self, stack: Stack, root: Path, folder: str, out: Console, settle: float) -> None:
        self.stack, self.root, self.folder, self.out, self.settle = stack, root, folder, out, settle
        self.results = root / "results"
        # Per local file: (size, mtime_ns) and the ETag it had when it was last sent or fetched, so an
        # unchanged file is neither hashed again nor re-sent when the bucket's ETags are not MD5s (SSE-KMS).
        self._known: dict[Path, tuple[int, int, str]] = {}
        # Per report: the outcome last printed, so a report rewritten with the same outcome (a retried
        # final write) prints nothing new.
        self._told: dict[str, tuple[str, str, str, str]] = {}

    def once(self) -> None:
        self.push()
        self.pull()

    def run_until(self, stopped: Callable[[float], bool], interval: float, err: Console) -> None:
        """A pass every `interval` seconds until `stopped(interval)`, which waits that long, says to stop.
        A failed pass (a network blip, a file removed while it was read) is one line; the next one retries."""
        while not stopped(interval):
            try:
                self.once()
            except (BotoCoreError, ClientError, OSError) as exc:
                err.print(f"sync pass failed ({exc}); retrying", markup=False, highlight=False)

    def push(self) -> None:
        remote = objects.listing(self.stack.s3, self.stack.bucket, layout.INBOX + self.folder)
        now = time.time()
        # Manifests last, so a job can start as soon as its manifest lands.
        for path in sorted(self._local_files(), key=lambda p: (p.name.endswith(layout.SIDECAR_SUFFIX), p)):
            stat = path.stat()
            if now - stat.st_mtime < self.settle:
                continue
            rel = path.relative_to(self.root).as_posix()
            key = layout.INBOX + self.folder + rel
            if self._unchanged(path, remote.get(key)):
                continue
            etag = objects.upload(self.stack.s3, self.stack.bucket, key, path)
            self._known[path] = (stat.st_size, stat.st_mtime_ns, etag)
            self.out.print(f"[cyan]↑[/] {rel}", highlight=False)

    def pull(self) -> None:
        prefix = layout.RESULTS + self.folder
        remote = objects.listing(self.stack.s3, self.stack.bucket, prefix)
        # Reports last: the outcome line names a result that is already here.
        for key in sorted(remote, key=lambda k: (k.endswith(layout.REPORT_SUFFIX), k)):
            try:
                dest = layout.local_path(self.results, key[len(prefix):])
            except CliError as exc:
                self.out.print(f"[yellow]skipped[/] {key}: {exc}", highlight=False)
                continue
            if self._unchanged(dest, remote[key]):
                continue
            objects.download(self.stack.s3, self.stack.bucket, key, dest)
            stat = dest.stat()
            self._known[dest] = (stat.st_size, stat.st_mtime_ns, remote[key].etag)
            if key.endswith(layout.REPORT_SUFFIX):
                self._tell(key[len(prefix):], dest)

    def _local_files(self) -> list[Path]:
        files = []
        for path in self.root.rglob("*"):
            rel = path.relative_to(self.root)
            if (rel.parts[0] == "results" or any(part.startswith(".") for part in rel.parts)
                    or path.name.endswith(PARTIAL_SUFFIXES) or not path.is_file()):
                continue
            files.append(path)
        return files

    def _unchanged(self, path: Path, remote: objects.Remote | None) -> bool:
        if remote is None or not path.is_file():
            return False
        stat = path.stat()
        if stat.st_size != remote.size:
            return False
        if self._known.get(path) == (stat.st_size, stat.st_mtime_ns, remote.etag):
            return True
        if objects.md5_etag(path) == remote.etag:
            self._known[path] = (stat.st_size, stat.st_mtime_ns, remote.etag)
            return True
        return False

    def _tell(self, rel_report: str, dest: Path) -> None:
        """One line for a job's outcome, from its report."""
        try:
            report = json.loads(dest.read_text(encoding="utf-8"))
        except ValueError:
            return
        if not isinstance(report, dict):
            return
        photo = layout.photo_of_report(rel_report)
        status = str(report.get("status"))
        waiting = ", ".join(reports.missing(report))
        outcome = (str(report.get("job_id")), status, reports.describe(report), waiting)
        if self._told.get(rel_report) == outcome:
            return
        self._told[rel_report] = outcome
        result = layout.key_of(str(report.get("result") or ""), self.stack.bucket)
        if status == "SUCCEEDED" and result and result.startswith(layout.RESULTS + self.folder):
            detail = f"→ {self.results / result[len(layout.RESULTS + self.folder):]}"
        else:
            detail = reports.describe(report) or (
                f"missing {waiting}" if waiting else reports.budget_wait(report)
            )
        icon = ICONS.get(status, "[yellow]…[/]")
        self.out.print(f"{icon} {photo} {status} ", end="", highlight=False)
        self.out.print(detail, markup=False, highlight=False)


def run(args: argparse.Namespace, connect: Callable[[], Stack], out: Console, err: Console) -> int:
    root: Path = args.dir
    if root.exists() and not root.is_dir():
        raise CliError(f"{root}: not a folder")
    folder = layout.folder(args.prefix)
    stack = connect()
    root.mkdir(parents=True, exist_ok=True)
    sync = FolderSync(stack, root, folder, out, settle=0.0 if args.once else SETTLE_SECONDS)
    if args.once:
        sync.once()
        return 0
    err.print(f"syncing {root} ⇄ s3://{stack.bucket}/{layout.INBOX}{folder} on {stack.description}; results "
              f"into {sync.results}. Ctrl-C stops.", markup=False, highlight=False)
    try:
        sync.once()  # a wrong stack or credentials end the command here, with their message
        sync.run_until(_pause_until_ctrl_c, args.interval, err)
    except KeyboardInterrupt:
        err.print("stopped", highlight=False)
    return 0


def _pause_until_ctrl_c(seconds: float) -> bool:
    reports.pause(seconds)
    return False

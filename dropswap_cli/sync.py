"""`dropswap sync DIR`: a local folder kept in step with the drop folder, both ways.

DIR/<path> goes up to inbox/<prefix><path> when it is new or changed (size and MD5 against the object's
ETag); results/<prefix><path> comes down to DIR/results/<path>; each report that comes down prints one line
with the job's outcome. Nothing is ever deleted on either side. What never goes up (the stack's own outputs,
symlinks out of DIR) and where results may land: drop_folder.py. Every key and report text is printed
through printable.py: whoever uploads to inbox/ chooses them.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError
from rich.console import Console

from dropswap_cli import drop_folder, layout, objects, reports
from dropswap_cli.errors import CliError
from dropswap_cli.printable import line
from dropswap_cli.stack import Stack

# A file changed this recently may still be being written: it goes up on a later pass (loop mode only).
SETTLE_SECONDS = 1.0
INTERVAL_SECONDS = 2.0  # between passes in loop mode
ICONS = {"SUCCEEDED": ("✓", "green"), "FAILED": ("✗", "red"), "REJECTED": ("✗", "red")}
WAITING_ICON = ("…", "yellow")


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
        # What was skipped and already said (once per symlink; the outputs' count when it changes).
        self._told_links: set[Path] = set()
        self._told_outputs: frozenset[Path] = frozenset()
        self._told_results: str | None = None
        self._told_skips: dict[str, str] = {}

    def once(self) -> None:
        self.push()
        self.pull()

    def run_until(self, stopped: Callable[[float], bool], interval: float, err: Console) -> None:
        """A pass every `interval` seconds until `stopped(interval)`, which waits that long, says to stop.
        A failed pass (a network blip, a file removed while it was read) is one line; the next one retries."""
        while not stopped(interval):
            try:
                self.once()
            except Exception as exc:  # whatever one pass hit, the loop (and make up's watcher) goes on
                err.print(line(f"sync pass failed ({exc}); retrying"))

    def push(self) -> None:
        remote = objects.listing(self.stack.s3, self.stack.bucket, layout.INBOX + self.folder)
        now = time.time()
        # Manifests last, so a job can start as soon as its manifest lands.
        found = drop_folder.scan(self.root)
        self._say_skipped(found)
        for path in sorted(found.files, key=lambda p: (p.name.endswith(layout.SIDECAR_SUFFIX), p)):
            stat = path.stat()
            if now - stat.st_mtime < self.settle:
                continue
            rel = path.relative_to(self.root).as_posix()
            key = layout.INBOX + self.folder + rel
            if self._unchanged(path, remote.get(key)):
                continue
            etag = objects.upload(self.stack.s3, self.stack.bucket, key, path)
            self._known[path] = (stat.st_size, stat.st_mtime_ns, etag)
            self.out.print(line(("↑", "cyan"), " ", rel))

    def _say_skipped(self, found: drop_folder.Scan) -> None:
        """One line per symlink out of DIR, and one with the count of outputs when it changes."""
        for link in found.links_out:
            if link not in self._told_links:
                self._told_links.add(link)
                self.out.print(line(("skipped", "yellow"), " ", link.relative_to(self.root).as_posix(),
                                    f": a symlink out of {self.root}, never followed"))
        outputs = frozenset(found.outputs)
        if outputs and outputs != self._told_outputs:
            self.out.print(line(("skipped", "yellow"), f" {len(outputs)} file(s) named like dropswap's own "
                                f"outputs ({', '.join(layout.OUTPUT_PATTERNS)}): they never go up"))
        self._told_outputs = outputs

    def pull(self) -> None:
        prefix = layout.RESULTS + self.folder
        remote = objects.listing(self.stack.s3, self.stack.bucket, prefix)
        refused = drop_folder.refused_result(self.root, self.results)
        if refused is not None:
            if refused != self._told_results:
                self.out.print(line(("skipped", "yellow"), " every result: ", refused))
            self._told_results = refused
            return
        drop_folder.mark_results(self.root)
        # Reports last: the outcome line names a result that is already here.
        for key in sorted(remote, key=lambda k: (k.endswith(layout.REPORT_SUFFIX), k)):
            try:
                self._bring(key, prefix, remote[key])
            except BotoCoreError:
                raise  # the connection, not this object: the pass fails, and the next one retries
            except Exception as exc:  # about this one object (its key, its report, its file): the rest go on
                self._skip(key, f"{type(exc).__name__}: {exc}")

    def _skip(self, key: str, reason: str) -> None:
        """One line for an object not brought down, once per reason (a pass runs every 2 s)."""
        if self._told_skips.get(key) != reason:
            self._told_skips[key] = reason
            self.out.print(line(("skipped", "yellow"), " ", key, ": ", reason))

    def _bring(self, key: str, prefix: str, remote: objects.Remote) -> None:
        """One result object down to DIR/results/, and its outcome line if it is a report."""
        try:
            dest = layout.local_path(self.results, key[len(prefix):])
        except CliError as exc:
            self._skip(key, str(exc))
            return
        refused = drop_folder.refused_result(self.root, dest)
        if refused is not None:
            self._skip(key, refused)
            return
        if self._unchanged(dest, remote):
            return
        objects.download(self.stack.s3, self.stack.bucket, key, dest)
        stat = dest.stat()
        self._known[dest] = (stat.st_size, stat.st_mtime_ns, remote.etag)
        if key.endswith(layout.REPORT_SUFFIX):
            self._tell(key[len(prefix):], dest)

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
        self.out.print(line(ICONS.get(status, WAITING_ICON), " ", photo, " ", status, " ", detail))


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
    err.print(line(f"syncing {root} ⇄ s3://{stack.bucket}/{layout.INBOX}{folder} on {stack.description}; "
                   f"results into {sync.results}. Ctrl-C stops."))
    try:
        sync.once()  # a wrong stack or credentials end the command here, with their message
        sync.run_until(_pause_until_ctrl_c, args.interval, err)
    except KeyboardInterrupt:
        err.print("stopped", highlight=False)
    return 0


def _pause_until_ctrl_c(seconds: float) -> bool:
    reports.pause(seconds)
    return False

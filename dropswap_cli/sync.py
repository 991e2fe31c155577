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
import posixpath
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError
from rich.console import Console

from dropswap_cli import drop_folder, layout, mirror, objects, progress, reports
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
        # The latest report of each photo under DIR/results/ (None: not a JSON object), for the stale
        # outputs and the progress lines; each folder's counts last shown; the stack's AKOOL slots.
        self._reports: dict[Path, dict[str, Any] | None] = {}
        self._told_progress: dict[str, Counter[str]] = {}
        self._slots: int | None = None
        # Files found already in the bucket with the same content on the first pass (said once).
        self._told_same = False

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
        already = 0  # files the bucket holds with the same content, not sent by this run
        for path in sorted(found.files, key=lambda p: (p.name.endswith(layout.SIDECAR_SUFFIX), p)):
            stat = path.stat()
            if now - stat.st_mtime < self.settle:
                continue
            rel = path.relative_to(self.root).as_posix()
            key = layout.INBOX + self.folder + rel
            sent_before = path in self._known
            if self._unchanged(path, remote.get(key)):
                already += 0 if sent_before else 1
                continue
            etag = objects.upload(self.stack.s3, self.stack.bucket, key, path)
            self._known[path] = (stat.st_size, stat.st_mtime_ns, etag)
            self.out.print(line(("↑", "cyan"), " ", rel))
        if already and not self._told_same:
            # A restarted sync (or `make up --watch`) re-sends nothing the stack already has: said once.
            self.out.print(line(("skipped", "yellow"), f" {already} file(s) already in s3://{self.stack.bucket}/"
                                f"{layout.INBOX}{self.folder} with the same content: not sent again"))
        self._told_same = self._told_same or bool(already)

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
        """Results down: new reports read first, so that the outputs they make stale are neither brought
        down nor left here (mirror.py); then the other results; then each new report, saved with its
        outcome line (which names a result that is already here); then each changed folder's progress."""
        prefix = layout.RESULTS + self.folder
        remote = objects.listing(self.stack.s3, self.stack.bucket, prefix)
        refused = drop_folder.refused_result(self.root, self.results)
        if refused is not None:
            if refused != self._told_results:
                self.out.print(line(("skipped", "yellow"), " every result: ", refused))
            self._told_results = refused
            return
        drop_folder.mark_results(self.root)
        fresh: dict[str, tuple[Path, bytes, objects.Remote]] = {}
        for key in sorted(k for k in remote if k.endswith(layout.REPORT_SUFFIX)):
            self._guarded(key, partial(self._read_report, key, prefix, remote[key], fresh))
        stale = self._stale()
        for key in sorted(k for k in remote if not k.endswith(layout.REPORT_SUFFIX)):
            self._guarded(key, partial(self._bring, key, prefix, remote[key], stale))
        self._remove(stale)
        for key, (dest, body, found) in fresh.items():
            self._guarded(key, partial(self._save_report, key[len(prefix):], dest, body, found))
        self._show_progress()

    def _guarded(self, key: str, step: Callable[[], None]) -> None:
        try:
            step()
        except BotoCoreError:
            raise  # the connection, not this object: the pass fails, and the next one retries
        except Exception as exc:  # about this one object (its key, its report, its file): the rest go on
            self._skip(key, f"{type(exc).__name__}: {exc}")

    def _skip(self, key: str, reason: str) -> None:
        """One line for an object not brought down, once per reason (a pass runs every 2 s)."""
        if self._told_skips.get(key) != reason:
            self._told_skips[key] = reason
            self.out.print(line(("skipped", "yellow"), " ", key, ": ", reason))

    def _dest(self, key: str, prefix: str) -> Path | None:
        """Where a result goes under DIR/results/; None (said once) when it may not be written."""
        try:
            dest = layout.local_path(self.results, key[len(prefix):])
        except CliError as exc:
            self._skip(key, str(exc))
            return None
        refused = drop_folder.refused_result(self.root, dest)
        if refused is not None:
            self._skip(key, refused)
            return None
        return dest

    def _read_report(self, key: str, prefix: str, remote: objects.Remote,
                     fresh: dict[str, tuple[Path, bytes, objects.Remote]]) -> None:
        """A report that is new or changed, read into `fresh`; one already here, remembered from its file."""
        dest = self._dest(key, prefix)
        if dest is None:
            return
        if self._unchanged(dest, remote):
            if dest not in self._reports:
                self._reports[dest] = _json_object(dest.read_bytes())
            return
        body: bytes = self.stack.s3.get_object(Bucket=self.stack.bucket, Key=key)["Body"].read()
        self._reports[dest] = _json_object(body)
        fresh[key] = (dest, body, remote)

    def _stale(self) -> set[Path]:
        """The local outputs that their photo's latest report says are no longer current."""
        stems: dict[tuple[Path, str], int] = {}
        photos = [(dest.parent, dest.name[: -len(layout.REPORT_SUFFIX)], report)
                  for dest, report in self._reports.items() if report is not None]
        for folder, photo, _ in photos:
            stem = (folder, posixpath.splitext(photo)[0])
            stems[stem] = stems.get(stem, 0) + 1
        return {path for folder, photo, report in photos
                for path in mirror.stale_in_results(folder, photo, report, self.stack.bucket,
                                                    shared=stems[(folder, posixpath.splitext(photo)[0])] > 1)}

    def _remove(self, stale: set[Path]) -> None:
        for path in sorted(stale):
            if mirror.remove(path):
                self._known.pop(path, None)
                self.out.print(line(("removed", "yellow"), " ", path.relative_to(self.root).as_posix(),
                                    ": no longer current (its photo's latest report says so)"))

    def _bring(self, key: str, prefix: str, remote: objects.Remote, stale: set[Path]) -> None:
        """One result object (not a report) down to DIR/results/, unless it is stale."""
        dest = self._dest(key, prefix)
        if dest is None or dest in stale or self._unchanged(dest, remote):
            return
        objects.download(self.stack.s3, self.stack.bucket, key, dest)
        stat = dest.stat()
        self._known[dest] = (stat.st_size, stat.st_mtime_ns, remote.etag)

    def _save_report(self, rel_report: str, dest: Path, body: bytes, remote: objects.Remote) -> None:
        objects.save(dest, body)
        stat = dest.stat()
        self._known[dest] = (stat.st_size, stat.st_mtime_ns, remote.etag)
        self._tell(rel_report, self._reports.get(dest))

    def _show_progress(self) -> None:
        """Each folder's progress line (progress.py) when its counts changed and jobs are unfinished or
        have just all finished."""
        folders = progress.by_folder(
            (dest.relative_to(self.results).as_posix()[: -len(layout.REPORT_SUFFIX)],
             str((report or {}).get("status")))
            for dest, report in self._reports.items())
        width = min(self.out.width, progress.MAX_WIDTH)
        for name, counts in folders.items():
            if self._told_progress.get(name) == counts:
                continue
            first = name not in self._told_progress
            self._told_progress[name] = counts
            if first and not set(counts) - set(layout.TERMINAL):
                continue  # a folder already finished when the sync started: nothing is going on there
            if self._slots is None:
                self._slots = progress.akool_slots(self.stack) or 0
            mine = [r for dest, r in self._reports.items()
                    if progress.folder_of(dest.relative_to(self.results).as_posix()) == name]
            estimate = progress.eta(mine, self._slots or None)
            self.out.print(line(progress.folder_line(name, counts, estimate, width)))

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

    def _tell(self, rel_report: str, report: dict[str, Any] | None) -> None:
        """One line for a job's state or outcome, from its report."""
        if report is None:
            return
        photo = layout.photo_of_report(rel_report)
        status = str(report.get("status"))
        waiting = ", ".join(reports.missing(report))
        outcome = (str(report.get("job_id")), status, reports.describe(report),
                   waiting or reports.waiting(report))
        if self._told.get(rel_report) == outcome:
            return
        self._told[rel_report] = outcome
        result = layout.key_of(str(report.get("result") or ""), self.stack.bucket)
        if status == "SUCCEEDED" and result and result.startswith(layout.RESULTS + self.folder):
            detail = f"→ {self.results / result[len(layout.RESULTS + self.folder):]}"
        else:
            detail = reports.detail(report, self.stack.bucket)
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


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None

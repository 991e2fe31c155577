"""A local drop folder (`dropswap sync DIR`, `make up --watch DIR`): which of its files go up, and where
results may be written.

Up go the regular files under DIR, except hidden ones (and anything in a hidden folder), partial downloads
(*.part, …), DIR/results/ (where results come down) and files named like the stack's own outputs
(layout.OUTPUT_PATTERNS). A symlink is followed only while it stays inside DIR: a link to ~/.ssh/id_rsa
left in the folder must never upload the key. A result is written only where its resolved path stays inside
DIR/results/, so a symlinked folder there cannot put a file elsewhere.

DIR/results/ holds a marker file, so that `dropswap swap` given a glob over it knows those files came down
from the stack and leaves them alone too.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from dropswap_cli import layout
from dropswap_cli.errors import CliError

RESULTS = "results"
RESULTS_MARKER = ".dropswap-results"
_MARKER_TEXT = ("dropswap sync writes the stack's results under this folder; dropswap never uploads a file "
                "from it.\n")
# Names of files still being written by browsers, editors and this tool's own downloads.
PARTIAL_SUFFIXES = (".part", ".tmp", ".crdownload", ".download", ".swp", "~")


@dataclass
class Scan:
    files: list[Path] = field(default_factory=list)  # to go up (if new or changed)
    outputs: list[Path] = field(default_factory=list)  # skipped: named like the stack's outputs
    links_out: list[Path] = field(default_factory=list)  # skipped: symlinks that lead out of DIR


def leaves(base: Path, path: Path) -> bool:
    """Whether `path`, its symlinks resolved, is outside `base` (also resolved). A symlink loop or an
    unreadable link counts as outside: nothing is followed that cannot be checked."""
    try:
        return not path.resolve().is_relative_to(base.resolve())
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop before Python 3.13
        return True


def scan(root: Path) -> Scan:
    """The files of the drop folder `root`, sorted, and the ones skipped for a reason worth telling."""
    found = Scan()
    # os.walk never descends into a symlinked folder (followlinks=False): the links are judged here.
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        top = here == root
        kept = []
        for name in sorted(dirs):
            path = here / name
            if name.startswith(".") or (top and name == RESULTS):
                continue
            if path.is_symlink():
                if leaves(root, path):
                    found.links_out.append(path)
                continue  # a link inside DIR: its files are reached through their own folder
            kept.append(name)
        dirs[:] = kept
        for name in sorted(names):
            path = here / name
            if name.startswith(".") or name.endswith(PARTIAL_SUFFIXES):
                continue
            if path.is_symlink() and leaves(root, path):
                found.links_out.append(path)
            elif not path.is_file():  # a FIFO or a device would block or never end; a broken link
                continue
            elif layout.is_output_name(name):
                found.outputs.append(path)
            else:
                found.files.append(path)
    return found


def refused_result(root: Path, dest: Path) -> str | None:
    """Why a result may not be written at `dest` (a path under root/results/), or None when it may."""
    results = root / RESULTS
    if leaves(root, results):
        return f"{results} leads out of {root} (a symlink): no result is written there"
    if leaves(results, dest):
        return f"{dest} leads out of {results} (a symlinked folder): not written"
    return None


def result_beside(folder: Path, name: str) -> Path:
    """Where `dropswap swap`/`faces` save a result named `name` (a key's last part: the report chooses it)
    beside the photo; refused (CliError) unless a plain name whose resolved path stays in `folder`."""
    dest = layout.local_path(folder, name)
    if "/" in name or leaves(folder, dest):
        raise CliError(f"not saved: {dest} leads out of {folder}")
    return dest


def mark_results(root: Path) -> None:
    """DIR/results/ with its marker (call once refused_result has accepted the folder)."""
    marker = root / RESULTS / RESULTS_MARKER
    if marker.is_file():
        return
    marker.parent.mkdir(parents=True, exist_ok=True)
    # "x": an exclusive create, which never follows a symlink left at the marker's name.
    with contextlib.suppress(FileExistsError), marker.open("x", encoding="utf-8") as fh:
        fh.write(_MARKER_TEXT)


def in_synced_results(path: Path) -> bool:
    """Whether a file lies under a results folder that `dropswap sync` fills (one with the marker)."""
    try:
        real = path.resolve()
    except (OSError, RuntimeError):
        return False
    return any((folder / RESULTS_MARKER).is_file() for folder in real.parents)

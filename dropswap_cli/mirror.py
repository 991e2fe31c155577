"""A local copy of the results that follows the bucket: which of a photo's local output files (swapped
photo, faces list and preview) its latest report says are no longer current.

The stack removes an older swapped photo when a newer job of the photo does not succeed, and a faces job
makes no swapped photo; the local copies `dropswap sync` and `swap` made would otherwise go on looking like
the photo's result. Only files the CLI itself wrote are ever removed: under a results folder that `sync`
fills (drop_folder.RESULTS_MARKER), or the file an earlier report saved by `swap` named as its result.
"""

from __future__ import annotations

import contextlib
import posixpath
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dropswap_cli import layout

SUCCEEDED = "SUCCEEDED"


def output_names(photo: str) -> tuple[str, ...]:
    """The names of a photo's outputs beside its report: `a.swapped.jpg`, and the faces files, named
    `a.jpg.faces.*` (v3) or `a.faces.*` (before v3; shared by a.jpg and a.png)."""
    stem, ext = posixpath.splitext(photo)
    return (f"{stem}.swapped{ext}", f"{photo}.faces.json", f"{photo}.faces.html", f"{stem}.faces.json",
            f"{stem}.faces.html")


def current(report: Mapping[str, Any], bucket: str) -> set[str] | None:
    """The output names a finished report keeps current: its result (with the faces list beside a faces
    preview); none for FAILED or REJECTED. None when the report cannot tell (not finished, or a success
    that names no result)."""
    status = report.get("status")
    if status not in layout.TERMINAL:
        return None
    if status != SUCCEEDED:
        return set()
    key = layout.key_of(str(report.get("result") or ""), bucket)
    if not key:
        return None
    name = posixpath.basename(key)
    for suffix in (".faces.html", ".faces.json"):
        if name.endswith(suffix):
            base = name[: -len(suffix)]
            return {base + ".faces.html", base + ".faces.json"}
    return {name}


def stale_in_results(folder: Path, photo: str, report: Mapping[str, Any], bucket: str,
                     shared: bool = False) -> list[Path]:
    """The photo's output paths in `folder` (a folder under a synced results/) that its report says are
    no longer current, whether or not they are there (none is to be brought down again either).
    `shared`: another photo with the same stem has a report there, so the pre-v3 faces
    names may be that photo's and are left alone."""
    keep = current(report, bucket)
    if keep is None:
        return []
    names = output_names(photo)
    if shared:
        names = names[:3]
    return [folder / name for name in dict.fromkeys(names) if name not in keep]


def stale_beside(folder: Path, old: Mapping[str, Any] | None, new: Mapping[str, Any],
                 bucket: str) -> list[Path]:
    """For `swap` and `faces`, which save beside the photo: the files the photo's earlier saved report
    (`old`) named as its result that the new report no longer keeps, and only names of outputs."""
    before = current(old, bucket) if old is not None else None
    keep = current(new, bucket)
    if not before or keep is None:
        return []
    return [folder / name for name in sorted(before - keep)
            if layout.is_output_name(name) and "/" not in name and _removable(folder / name)]


def remove(path: Path) -> bool:
    """Remove a stale output; False when it is not there (or not a regular file: left alone)."""
    if not _removable(path):
        return False
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
        return True
    return False


def _removable(path: Path) -> bool:
    # A regular file only: a symlink or a folder at an output's name is not something this tool wrote.
    return path.is_file() and not path.is_symlink()

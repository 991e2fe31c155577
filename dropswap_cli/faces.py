"""`dropswap faces PHOTO`: the faces the stack finds in a photo, with their indices, saved locally.

The stack's faces mode (`{"version": 1, "mode": "faces"}`) writes results/<path>/<name>.<ext>.faces.json and
a preview beside it (same prefix); every file under that prefix, and any the report names with its
siblings (a stack before issue 18 named them <name>.faces.*), comes back beside the photo.
"""

from __future__ import annotations

import argparse
import json
import posixpath
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from dropswap_cli import drop_folder, layout, manifests, objects, reports
from dropswap_cli.errors import JOBS_FAILED, CliError
from dropswap_cli.local_files import check_photo
from dropswap_cli.printable import line
from dropswap_cli.stack import Stack

# The preview is written after the faces list: once the list is there, wait this long for it too.
PREVIEW_GRACE_SECONDS = 10.0


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    p = commands.add_parser("faces", parents=[common], help="find the faces of a photo and save a preview",
                            description="Upload a photo with a faces-mode manifest and download the faces "
                                        "list and the preview (each face's box and index) beside it.")
    p.add_argument("photo", type=Path, metavar="PHOTO", help="jpg, jpeg, png, webp or bmp")
    p.add_argument("--prefix", default=None, metavar="FOLDER",
                   help="the folder under inbox/ (default: the name of the photo's folder)")
    p.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS",
                   help="how long to wait (default 300)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, connect: Callable[[], Stack], out: Console, err: Console) -> int:
    photo: Path = check_photo(args.photo)
    if layout.is_output_name(photo.name) or drop_folder.in_synced_results(photo):
        raise CliError(f"{photo} is one of dropswap's own outputs ({', '.join(layout.OUTPUT_PATTERNS)}), "
                       f"which the stack never takes as a photo: copy it under another name first")
    folder = (layout.folder(args.prefix) if args.prefix is not None
              else layout.default_folder(photo.resolve().parent.name))
    if not folder:
        raise CliError("--prefix must name a folder under inbox/, e.g. inbox/party/")
    stack = connect()
    s3, bucket, rel = stack.s3, stack.bucket, folder + photo.name
    manifest = manifests.encode(manifests.FACES)
    inbox = objects.listing(s3, bucket, layout.INBOX + folder)
    before = objects.listing(s3, bucket, layout.RESULTS + folder)
    uploads: list[tuple[str, bytes | Path]] = [
        (layout.INBOX + rel, photo), (layout.INBOX + layout.sidecar(rel), manifest)
    ]
    todo = [(key, data) for key, data in uploads if not objects.same(inbox.get(key), data)]
    # Results from before this upload belong to an older request; with nothing uploaded, they are current.
    stale = {key: remote.signature for key, remote in before.items()} if todo else {}
    for key, data in todo:
        objects.upload(s3, bucket, key, data)

    deadline = time.monotonic() + args.timeout
    listed_at: float | None = None
    report: dict[str, Any] | None = None
    with err.status(f"finding the faces of {photo.name} on {stack.description}"):
        while True:
            found = {k: r for k, r in objects.listing(s3, bucket, layout.RESULTS + folder).items()
                     if stale.get(k) != r.signature}
            if layout.report(rel) in found:
                report = objects.get_json(s3, bucket, layout.report(rel))
            status = str((report or {}).get("status"))
            if status in ("FAILED", "REJECTED"):
                raise CliError(f"the stack did not find the faces of {photo}: {status} "
                               f"{reports.describe(report)} (a stack older than faces mode rejects "
                               f"the manifest's 'mode')", JOBS_FAILED)
            wanted = _wanted(found, rel, report, bucket)
            if wanted:
                listed_at = listed_at or time.monotonic()
                if any(not k.endswith(".json") for k in wanted) or (
                        time.monotonic() - listed_at >= PREVIEW_GRACE_SECONDS):
                    break
            if time.monotonic() >= deadline:
                if wanted:
                    break
                raise CliError(f"no faces list for {photo} after {args.timeout:.0f}s (report status: "
                               f"{status}); try again later with a longer --timeout", JOBS_FAILED)
            reports.pause(1.0)
    dests = {key: drop_folder.result_beside(photo.parent, posixpath.basename(key)) for key in wanted}
    saved = [objects.download(s3, bucket, key, dest) for key, dest in dests.items()]
    _print_faces(saved, out)
    preview = next((p for p in saved if p.suffix.lower() == ".html"), None)
    out.print(line(f"faces preview: {preview or saved[0]}"))
    return 0


def _wanted(
    found: dict[str, objects.Remote], rel: str, report: dict[str, Any] | None, bucket: str
) -> list[str]:
    """The faces files to bring back: the ones under <name>.<ext>.faces., and those sharing the prefix
    of a faces file the report names (an older stack's <name>.faces.*: only when its report says so,
    since <name>.faces.* may be another photo's, say IMG_1.png's for IMG_1.jpg)."""
    prefixes = {layout.faces_prefix(rel)}
    for value in (report or {}).values():
        key = layout.key_of(value, bucket) if isinstance(value, str) else None
        if key and ".faces." in posixpath.basename(key) and key in found:
            prefixes.add(key[: key.rindex(".faces.") + len(".faces.")])
    keys = {k for k in found if k.startswith(tuple(prefixes))}
    return sorted(keys) if any(k.endswith(".json") for k in keys) else []


def _print_faces(saved: list[Path], out: Console) -> None:
    """A table of the faces list, if it has the expected shape: {"faces": [{"index", "box", ...}]}."""
    listing = next((p for p in saved if p.suffix == ".json"), None)
    try:
        faces = json.loads(listing.read_text(encoding="utf-8")).get("faces") if listing else None
    except (ValueError, AttributeError):
        faces = None
    if not isinstance(faces, list):
        return
    table = Table("index", "box")
    for i, face in enumerate(faces):
        if isinstance(face, dict):
            table.add_row(line(str(face.get("index", i))), line(json.dumps(face.get("box"))))
    out.print(table)

"""`dropswap swap PHOTO... --face FACE`: manifests written, files uploaded, results brought back beside the
photos."""

from __future__ import annotations

import argparse
import json
import posixpath
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Column, Table

from dropswap_cli import drop_folder, layout, manifests, mirror, objects, progress, reports
from dropswap_cli.errors import JOBS_FAILED, CliError
from dropswap_cli.local_files import check_photo
from dropswap_cli.printable import line
from dropswap_cli.stack import Stack


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    p = commands.add_parser(
        "swap", parents=[common], help="swap a face into photos and download the results beside them",
        description="Upload the photos, the face and their manifests under inbox/, wait for the stack, and "
                    "download each swapped photo and its report beside the photo. Exits 1 if a job did "
                    "not succeed.")
    p.add_argument("photos", nargs="+", type=Path, metavar="PHOTO", help="jpg, jpeg, png, webp or bmp")
    p.add_argument("--face", required=True, type=Path, help="the photo of the face to put in")
    p.add_argument("--target", type=manifests.parse_target, default="largest",
                   help="which faces to replace: largest (default), all, an index N (0 = leftmost) or X,Y")
    # Any case, as in a manifest ("PRO" is "pro"); the manifest gets the schema's spelling.
    p.add_argument("--engine", type=str.lower, choices=["pro", "v3", "auto"], default=None,
                   help="AKOOL engine (the stack's default: auto)")
    p.add_argument("--folder-manifest", action="store_true",
                   help="one _folder.faceswap.json for the folder instead of a sidecar per photo (it also "
                        "applies to other photos already in that folder without a sidecar)")
    p.add_argument("--prefix", default=None, metavar="FOLDER",
                   help="the folder under inbox/ (default: the name of the first photo's folder)")
    p.add_argument("--timeout", type=float, default=900.0, metavar="SECONDS",
                   help="how long to wait for the results (default 900)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, connect: Callable[[], Stack], out: Console, err: Console) -> int:
    photos: list[Path] = [check_photo(p) for p in _without_outputs(args.photos, err)]
    face: Path = check_photo(args.face, "face")
    repeated = sorted(name for name, n in Counter(p.name for p in photos).items() if n > 1)
    if repeated:
        raise CliError(f"photos with the same name would overwrite each other in one folder: "
                       f"{', '.join(repeated)}; swap them in separate runs (or rename them)")
    folder = (layout.folder(args.prefix) if args.prefix is not None
              else layout.default_folder(photos[0].resolve().parent.name))
    if not folder:
        raise CliError("--prefix must name a folder under inbox/, e.g. inbox/party/")
    stack = connect()
    s3, bucket = stack.s3, stack.bucket
    # The face's key carries its digest: another face under the same file name makes a new manifest, so a
    # new job, instead of an unchanged manifest that the stack has already processed.
    source = f"faces/{objects.md5_etag(face.read_bytes())[:12]}/{face.name}"
    manifest = manifests.encode(manifests.swap(source, args.target, args.engine))
    inbox = objects.listing(s3, bucket, layout.INBOX + folder)
    results = objects.listing(s3, bucket, layout.RESULTS + folder)

    uploads: list[tuple[str, bytes | Path]] = [(layout.INBOX + folder + source, face)]
    manifest_keys: list[str] = []
    if args.folder_manifest:
        own = [p.name for p in photos if layout.INBOX + layout.sidecar(folder + p.name) in inbox]
        if own:
            raise CliError(f"{', '.join(own)} already have a sidecar in inbox/{folder}, which wins over a "
                           f"folder manifest: use another --prefix, or drop --folder-manifest")
        manifest_keys.append(layout.INBOX + folder + layout.FOLDER_MANIFEST)
    stale: dict[str, reports.Signature] = {}
    for photo in photos:
        rel = folder + photo.name
        uploads.append((layout.INBOX + rel, photo))
        own_manifest = manifest_keys[0] if args.folder_manifest else layout.INBOX + layout.sidecar(rel)
        if not args.folder_manifest:
            manifest_keys.append(own_manifest)
        new_job = not (objects.same(inbox.get(layout.INBOX + rel), photo)
                       and objects.same(inbox.get(own_manifest), manifest))
        old_report = results.get(layout.report(rel))
        if new_job and old_report is not None:
            stale[rel] = old_report.signature
    # Manifests last: each job can start as soon as its manifest lands.
    uploads += [(key, manifest) for key in manifest_keys]
    _upload(stack, [(key, data) for key, data in uploads if not objects.same(inbox.get(key), data)], err)

    err.print(line(f"{len(photos)} photo(s) in s3://{bucket}/{layout.INBOX}{folder} on {stack.description}"))
    watched = reports.Reports(s3, bucket, folder, [folder + p.name for p in photos], stale)
    reports.wait(watched, args.timeout, err, progress.akool_slots(stack))
    return _bring_back(stack, photos, folder, watched, args.timeout, out)


def _without_outputs(paths: list[Path], err: Console) -> list[Path]:
    """The photos given, less the ones this tool or `dropswap sync` saved (a second `swap party/*.jpg` names
    the `*.swapped.jpg` beside the photos): they would come back as new jobs, each a credit. Said once."""
    outputs = [p for p in paths if layout.is_output_name(p.name) or drop_folder.in_synced_results(p)]
    if outputs:
        err.print(line(("skipped", "yellow"), f" {len(outputs)} file(s) that are dropswap's own outputs "
                       f"({', '.join(layout.OUTPUT_PATTERNS)}, or under a synced results/ folder): "
                       f"never uploaded"))
    kept = [p for p in paths if p not in outputs]
    if not kept:
        raise CliError("nothing to swap: every file given is one of dropswap's own outputs; name the "
                       "original photos")
    return kept


def _upload(stack: Stack, uploads: list[tuple[str, bytes | Path]], err: Console) -> None:
    if not uploads:
        err.print("nothing new to upload: the stack already has these files", highlight=False)
        return
    with Progress(console=err) as progress:
        task = progress.add_task("uploading", total=len(uploads))
        for key, data in uploads:
            objects.upload(stack.s3, stack.bucket, key, data)
            progress.advance(task)


def _bring_back(stack: Stack, photos: list[Path], folder: str, watched: reports.Reports, timeout: float,
                out: Console) -> int:
    table = Table(*(Column(h, overflow="fold") for h in ("photo", "status", "result")))
    ok = 0
    for photo in photos:
        rel = folder + photo.name
        report = watched.latest.get(rel)
        status = watched.status(rel) or "NO REPORT"
        detail = _detail(report, status, timeout)
        try:
            if report is not None:
                saved = drop_folder.result_beside(photo.parent, photo.name + layout.REPORT_SUFFIX)
                _remove_stale(photo.parent, saved, report, stack.bucket, out)
                objects.save(saved, (json.dumps(report, indent=2) + "\n").encode())
            if status == "SUCCEEDED" and report is not None:
                key = layout.key_of(str(report.get("result") or ""), stack.bucket) or layout.swapped(rel)
                dest = drop_folder.result_beside(photo.parent, posixpath.basename(key))
                detail = str(objects.download(stack.s3, stack.bucket, key, dest))
                ok += 1
        except CliError as exc:
            detail = str(exc)
        table.add_row(line(str(photo)), line(status), line(detail))
    out.print(table)
    out.print(f"{ok} of {len(photos)} succeeded", highlight=False)
    return 0 if ok == len(photos) else JOBS_FAILED


def _remove_stale(folder: Path, saved: Path, report: dict[str, Any], bucket: str, out: Console) -> None:
    """Remove what the report saved here before named as its result when the new report no longer keeps
    it (mirror.py): a REJECTED or FAILED job after a success, or a faces job now."""
    try:
        old = json.loads(saved.read_bytes()) if saved.is_file() and not saved.is_symlink() else None
    except ValueError:
        return
    for path in mirror.stale_beside(folder, old if isinstance(old, dict) else None, report, bucket):
        if mirror.remove(path):
            out.print(line(("removed", "yellow"), " ", str(path), ": no longer current (its latest report "
                           "says so)"))


def _detail(report: dict[str, Any] | None, status: str, timeout: float) -> str:
    """What to say about a job that did not (yet) succeed."""
    if report is None:
        return f"no report after {timeout:.0f}s; check later with `dropswap status`"
    if status in layout.TERMINAL:
        return reports.describe(report)
    waiting = f"not final after {timeout:.0f}s; check later with `dropswap status`"
    return "; ".join(part for part in (reports.describe(report), waiting) if part)

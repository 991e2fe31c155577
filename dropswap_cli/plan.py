"""`dropswap plan DIR|FOLDER`: what the stack would do with a drop, before it is dropped (or before more is).

A dry run over the photos and manifests of a local folder (DIR stands for inbox/, as for `dropswap sync`)
or of a folder of the stack's bucket: the same rules the stack runs, imported from the layer's domain (the
manifest schema and source rules, the key layout, the image checks of size, header, pixels and
completeness), without an upload and without any AKOOL call. For each photo: the job it makes, the faces
it asks to replace, whether it would be REJECTED and why, what it would wait for, and the credits it would
spend; then the total against the stack's remaining credit budget.

What only AKOOL's detector can tell (is there a face at that point, how many faces "all" means) is checked
by the stack at run time, before the swap: a job that fails it is REJECTED and spends no swap credit, so
the credits here are an upper bound.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.table import Table
from rich.text import Text

from dropswap.domain import credits, image_header, keys, planning
from dropswap.domain.image_header import HEAD_BYTES, TAIL_BYTES, ImageProblem
from dropswap.domain.manifest import MAX_MANIFEST_BYTES, Manifest, ManifestError, parse_manifest
from dropswap_cli import drop_folder, layout
from dropswap_cli.errors import CliError
from dropswap_cli.printable import printable
from dropswap_cli.stack import Stack

Outcome = Literal["SWAP", "FACES", "REJECTED", "WAITING"]
# The stack's defaults (template.yaml MaxImagePixels, MAX_IMAGE_BYTES); a deployed stack's parameters win.
DEFAULT_MAX_IMAGE_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_IMAGE_PIXELS = 50_000_000


@dataclass(frozen=True)
class PlannedJob:
    photo: str  # the photo's key under inbox/
    manifest: str | None  # the manifest that applies (its own sidecar, else the folder's)
    outcome: Outcome
    credits: int  # at most (see the module's docstring)
    faces: str  # the faces it asks to replace: "1", "2", "all", "" (none: faces mode, rejected)
    detail: str  # the engine, what it waits for, or why it is rejected
    code: str | None = None  # the error code of a rejection


class Drop(Protocol):
    """The files of a drop folder by key (inbox/…): what plan reads, locally or in the bucket."""

    def keys(self) -> list[str]: ...

    def size(self, key: str) -> int | None: ...

    def read(self, key: str, offset: int, length: int) -> bytes: ...


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    p = commands.add_parser(
        "plan", parents=[common], help="what the stack would do with a folder, and the credits it spends",
        description="A dry run: reads the manifests and photos of a local folder (DIR stands for inbox/) or "
                    "of a folder of the stack's bucket, runs the stack's own manifest and image checks, and "
                    "prints each job, what would be rejected and why, and the credits it would spend. "
                    "Uploads nothing and calls no AKOOL API.")
    p.add_argument("target", metavar="DIR|FOLDER",
                   help="a local folder (as for dropswap sync), or a folder of the bucket (inbox/party/)")
    p.add_argument("--prefix", default="", metavar="FOLDER",
                   help="with a local DIR: the folder under inbox/ it stands for (default: inbox/ itself)")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, connect: Callable[[], Stack], out: Console, err: Console) -> int:
    local = Path(args.target)
    if local.is_dir():
        drop: Drop = LocalDrop(local, layout.INBOX + layout.folder(args.prefix))
        where = f"{local}/ as inbox/{layout.folder(args.prefix)}"
        stack = connect()
    else:
        if args.prefix:
            raise CliError("--prefix goes with a local DIR; name the bucket's folder itself instead")
        stack = connect()
        prefix = layout.INBOX + layout.folder(args.target)
        drop = BucketDrop(stack.s3, stack.bucket, prefix)
        where = f"s3://{stack.bucket}/{prefix}"
    limits = Limits.of(stack)
    jobs = plan(drop, limits)
    budget = Budget.of(stack, limits)
    if args.json:
        found = {"where": where, "jobs": [asdict(j) for j in jobs], "totals": totals(jobs),
                 "budget": asdict(budget) if budget else None}
        out.print_json(json.dumps(found))
    else:
        show(jobs, where, out, budget)
    return 0


@dataclass(frozen=True)
class Budget:
    """The stack's credit budget today: `per_day` (0: unlimited) and what the day has spent so far."""

    per_day: int
    day: str
    spent: int
    resets_at: str

    @property
    def left(self) -> int | None:
        return None if self.per_day <= 0 else max(0, self.per_day - self.spent)

    @classmethod
    def of(cls, stack: Stack, limits: Limits) -> Budget | None:
        """Read from the stack's parameter and the day's count in its Jobs table; None when the caller may
        not read them (the plan is still made)."""
        table = stack.outputs.get("JobsTableName")
        if stack.session is None or not table or limits.credits_per_day is None:
            return None
        now = time.time()
        day = credits.utc_day(now)
        try:
            item = stack.client("dynamodb").get_item(
                TableName=table, Key={"job_id": {"S": credits.credits_item_id(day)}},
                ProjectionExpression="spent",
            ).get("Item", {})
        except (ClientError, BotoCoreError):
            return None
        spent = int(item.get("spent", {}).get("N", "0"))
        return cls(limits.credits_per_day, day, spent, credits.resets_at(now))


def show(jobs: list[PlannedJob], where: str, out: Console, budget: Budget | None = None) -> None:
    """The plan as a table and a summary line (the demo prints it this way too)."""
    title = Text(printable(f"dropswap plan: {where}"))  # a folder the user named: text, not markup
    table = Table("photo", "plan", "faces", "credits", "detail", title=title)
    for job in jobs:
        style = {"SWAP": "green", "FACES": "cyan", "REJECTED": "bold red", "WAITING": "yellow"}[job.outcome]
        table.add_row(Text(printable(job.photo.removeprefix(layout.INBOX))), Text(job.outcome, style=style),
                      job.faces, str(job.credits), Text(printable(job.detail)))
    out.print(table)
    out.print(Text(printable(_summary_line(totals(jobs)))))
    if budget is not None:
        out.print(Text(printable(_budget_line(totals(jobs)["credits"], budget))))


@dataclass(frozen=True)
class Limits:
    bucket: str
    max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
    extra_source_buckets: tuple[str, ...] = ()
    allowed_source_hosts: tuple[str, ...] = ()
    credits_per_swap: int = credits.DEFAULT_CREDITS_PER_SWAP
    credits_per_day: int | None = None  # the stack's AkoolCreditBudgetPerDay (0: unlimited); None: unknown

    @classmethod
    def of(cls, stack: Stack) -> Limits:
        """The stack's limits from its CloudFormation parameters where it says them, else the defaults."""
        params: dict[str, str] = {}
        if stack.session is not None and stack.name:
            try:
                found = stack.client("cloudformation").describe_stacks(StackName=stack.name)["Stacks"][0]
                params = {p["ParameterKey"]: str(p.get("ParameterValue", ""))
                          for p in found.get("Parameters", [])}
            except (ClientError, BotoCoreError):  # no DescribeStacks: a plan with the defaults all the same
                params = {}

        def listed(name: str) -> tuple[str, ...]:
            return tuple(x.strip() for x in params.get(name, "").split(",") if x.strip())

        def number(name: str) -> int | None:
            value = params.get(name, "")
            return int(value) if value.isdigit() else None

        return cls(
            bucket=stack.bucket,
            max_image_pixels=number("MaxImagePixels") or DEFAULT_MAX_IMAGE_PIXELS,
            extra_source_buckets=listed("ExtraSourceBuckets"),
            allowed_source_hosts=listed("AllowedSourceHosts"),
            credits_per_swap=number("AkoolCreditsPerSwap") or credits.DEFAULT_CREDITS_PER_SWAP,
            credits_per_day=number("AkoolCreditBudgetPerDay"),
        )


def plan(drop: Drop, limits: Limits) -> list[PlannedJob]:
    """Each photo of the drop that a manifest applies to (a sidecar wins over the folder's manifest), and
    each sidecar still waiting for its photo, in key order."""
    present = set(drop.keys())
    jobs: list[PlannedJob] = []
    for key in sorted(present):
        kind = keys.classify(key)
        if kind is keys.KeyKind.IMAGE:
            manifest_key = _manifest_for(key, present)
            if manifest_key is not None:
                jobs.append(_photo_job(drop, present, limits, key, manifest_key))
        elif kind is keys.KeyKind.SIDECAR and keys.image_key_for_sidecar(key) not in present:
            photo = keys.image_key_for_sidecar(key)
            jobs.append(PlannedJob(photo, key, "WAITING", 0, "", f"for the photo {photo} (not uploaded)"))
        elif kind is keys.KeyKind.UNSUPPORTED and keys.looks_like_an_image(key):
            manifest_key = _manifest_for(key, present)
            if manifest_key is not None:
                supported = ", ".join(sorted(keys.IMAGE_EXTENSIONS))
                why = f"{key} is not a supported image (.{keys.extension(key)}); use one of: {supported}"
                jobs.append(PlannedJob(key, manifest_key, "REJECTED", 0, "", why, "UNSUPPORTED_TYPE"))
        elif kind is keys.KeyKind.OUTPUT and keys.looks_like_an_image(key):
            # In the bucket only: a local drop never sends its outputs (LocalDrop, drop_folder.scan).
            manifest_key = _manifest_for(key, present)
            if manifest_key is not None:
                why = f"{key} is named like one of dropswap's own outputs: a result, never swapped again"
                jobs.append(PlannedJob(key, manifest_key, "REJECTED", 0, "", why, "OUTPUT_NAME"))
    return sorted(jobs, key=lambda j: j.photo)


def _manifest_for(photo: str, present: set[str]) -> str | None:
    sidecar = keys.sidecar_key_for_image(photo)
    if sidecar in present:
        return sidecar
    folder_manifest = keys.folder_manifest_key_for(photo)
    return folder_manifest if folder_manifest in present else None


def _photo_job(drop: Drop, present: set[str], limits: Limits, photo: str, manifest_key: str) -> PlannedJob:
    def job(outcome: Outcome, detail: str, *, faces: str = "", credits: int = 0,
            code: str | None = None) -> PlannedJob:
        return PlannedJob(photo, manifest_key, outcome, credits, faces, detail, code)

    data = drop.read(manifest_key, 0, MAX_MANIFEST_BYTES + 1)
    try:
        manifest = parse_manifest(
            data, sidecar_key=manifest_key, drop_bucket=limits.bucket,
            extra_source_buckets=limits.extra_source_buckets,
            allowed_source_hosts=limits.allowed_source_hosts,
        )
    except ManifestError as exc:
        return job("REJECTED", str(exc), code=str(exc.code))
    if manifest.mode == "faces":
        return job("FACES", "faces preview: detection only, no swap credit")
    missing, problem = _check_inputs(drop, present, limits, photo, manifest)
    if problem is not None:
        return job("REJECTED", str(problem), code=str(problem.code))
    if missing:
        return job("WAITING", f"for {', '.join(missing)}")
    return job("SWAP", _swap_detail(manifest), faces=_faces(manifest), credits=limits.credits_per_swap)


def _inputs(photo: str, manifest: Manifest, bucket: str) -> Iterator[tuple[str, str | None]]:
    """(field, key) of each S3 input, the photo first, each once; key None for another bucket's object."""
    seen = {photo}
    yield "image", photo
    for swap in manifest.swaps:
        src = swap.source
        if src.key is None or src.key in seen:
            continue
        seen.add(src.key)
        yield f"{swap.field}.source", src.key if src.bucket == bucket else None


def _check_inputs(
    drop: Drop, present: set[str], limits: Limits, photo: str, manifest: Manifest
) -> tuple[list[str], ManifestError | None]:
    """The inputs not there yet, and the first input's problem, as the stack's input gate finds them."""
    missing: list[str] = []
    for field, key in _inputs(photo, manifest, limits.bucket):
        if key is None:
            continue  # in an extra source bucket: read by the stack, not by this plan
        size = drop.size(key)
        if size is None:
            missing.append(key)
            continue
        try:
            _check_image(drop, key, size, limits)
        except ImageProblem as exc:
            return missing, ManifestError(field, f"{key} {exc.message}", code=exc.code)
    return missing, None


def _check_image(drop: Drop, key: str, size: int, limits: Limits) -> None:
    def fetch(offset: int, length: int) -> bytes:
        return drop.read(key, offset, length)

    def last() -> bytes:
        return drop.read(key, max(0, size - TAIL_BYTES), TAIL_BYTES)

    image_header.check_image(size, drop.read(key, 0, HEAD_BYTES), fetch, last,
                             max_bytes=limits.max_image_bytes, max_pixels=limits.max_image_pixels)


def _faces(manifest: Manifest) -> str:
    if any(swap.target == "all" for swap in manifest.swaps):
        return "all"
    return str(len(manifest.swaps))


def _swap_detail(manifest: Manifest) -> str:
    if any(swap.target == "all" for swap in manifest.swaps) and manifest.engine == "auto":
        return "engine auto: Pro for one face found, else v3"  # how many "all" means, only detection says
    return f"engine {planning.engine_for(manifest.engine, len(manifest.swaps))}"


def totals(jobs: list[PlannedJob]) -> dict[str, int]:
    out = {"jobs": len(jobs), "credits": sum(j.credits for j in jobs)}
    for outcome in ("SWAP", "FACES", "REJECTED", "WAITING"):
        out[outcome.lower()] = sum(j.outcome == outcome for j in jobs)
    return out


def _budget_line(needed: int, budget: Budget) -> str:
    if budget.left is None:
        return f"credit budget: unlimited (AkoolCreditBudgetPerDay 0); {budget.spent} spent today (UTC)"
    line = (f"credit budget: {budget.left} of {budget.per_day} left today (UTC day {budget.day}, "
            f"resets {budget.resets_at})")
    if needed > budget.left:
        line += (f"; this drop needs up to {needed}: the jobs past {budget.left} credits would wait "
                 "(WAITING, waiting_for \"credit budget\") until it resets or is raised")
    return line


def _summary_line(t: dict[str, int]) -> str:
    return (f"{t['jobs']} jobs: {t['swap']} swaps, {t['faces']} faces previews, {t['rejected']} rejected, "
            f"{t['waiting']} waiting; at most {t['credits']} credits (a swap job's "
            "price is the stack's AkoolCreditsPerSwap, an assumption: docs/akool.md)")


class LocalDrop:
    """A local folder standing for `prefix` (inbox/…): the files `dropswap sync` would send (drop_folder.scan:
    no symlink out of the folder, no hidden or partial file, nothing of DIR/results/, none of dropswap's own
    outputs)."""

    def __init__(self, root: Path, prefix: str) -> None:
        self._root = root
        self._prefix = prefix
        sent = drop_folder.scan(root).files
        self._files = {prefix + path.relative_to(root).as_posix(): path for path in sent}

    def keys(self) -> list[str]:
        return list(self._files)

    def size(self, key: str) -> int | None:
        path = self._files.get(key)
        return path.stat().st_size if path is not None else None

    def read(self, key: str, offset: int, length: int) -> bytes:
        with self._files[key].open("rb") as fh:
            fh.seek(offset)
            return fh.read(length)


class BucketDrop:
    """A folder of the stack's bucket; sources elsewhere under inbox/ are looked up on demand."""

    def __init__(self, s3: Any, bucket: str, prefix: str) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._sizes: dict[str, int | None] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                self._sizes[obj["Key"]] = int(obj["Size"])
        self._listed = list(self._sizes)

    def keys(self) -> list[str]:
        return self._listed

    def size(self, key: str) -> int | None:
        if key not in self._sizes:
            try:
                self._sizes[key] = int(self._s3.head_object(Bucket=self._bucket, Key=key)["ContentLength"])
            except self._s3.exceptions.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                    raise
                self._sizes[key] = None
        return self._sizes[key]

    def read(self, key: str, offset: int, length: int) -> bytes:
        size = self.size(key)
        if not size or length <= 0 or offset >= size:
            return b""
        end = min(size, offset + length) - 1
        body = self._s3.get_object(Bucket=self._bucket, Key=key, Range=f"bytes={offset}-{end}")["Body"]
        data: bytes = body.read()
        return data


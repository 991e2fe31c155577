"""The input gate: a job starts only once its manifest parses and every S3 object it names is usable.

- The inputs of a manifest: the photo, then each `s3://`/relative source, each object once.
- Types first, before anything is fetched: a job never waits for an upload it could not use anyway.
- Then existence and size, by HEAD: empty or oversized inputs are refused, even while another is missing.
- Contents last, once every input is there (`check_contents`, by the holder of the job's claim, just
  before anything goes to AKOOL): each input must be a complete JPEG/PNG/WebP/BMP image within the pixel
  limit, read from its first and last bytes (image_header.py), never decoded. The ETag of what was
  checked is kept, so the copy AKOOL gets can be pinned to exactly those bytes.
- The WAITING protocol: a job with an input missing is marked WAITING for the first missing one (the
  `waiting-for` index lets that key's upload find it), then that input is looked for once more: its upload
  event may have searched for waiting jobs just before the mark became visible. If it is still missing, the
  WAITING report is written at once (results/<path>/<name>.<ext>.result.json): `waiting_for` "input", its
  `expires_at` (the reconciler rejects a job still missing an input `max_waiting_age_seconds` after its
  record was made: INPUT_NEVER_ARRIVED), and `missing`, every missing input by its resolved key, with a hint
  ("did you mean …") and the keys it means (`did_you_mean`): a relative source off by one folder (one HEAD:
  `faces/a.jpg` missing but `../faces/a.jpg` there, or the other way round), and the photos of the missing
  key's folder that differ from it by case, extension, a missing extension or a small misspelling
  (near_miss.py; one LIST of at most 1,000 keys per folder per report).
- The photo's version is part of the job's identity (jobs.job_id_for). A job made while its photo was
  missing is keyed with photo version "": it WAITS for the photo, and once the photo is there (in any
  version) that job is superseded, never continued: the caller closes it quietly and goes on with the job
  of the photo's actual version (submitter.py), which the photo's own upload event creates anyway. Likewise a
  job whose photo was replaced since. So one photo version is one job, whichever event arrives first.
Unusable input raises ManifestError naming the manifest field (the caller REJECTS the job under its claim).
"""

from __future__ import annotations

import itertools
import logging
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from dropswap.domain import image_header, keys
from dropswap.domain.error_codes import ErrorCode
from dropswap.domain.image_header import HEAD_BYTES, TAIL_BYTES, ImageHeader, ImageProblem
from dropswap.domain.jobs import Job, JobRef, Status
from dropswap.domain.manifest import (
    MAX_MANIFEST_BYTES,
    Manifest,
    ManifestError,
    check_key_length,
    parse_manifest,
    resolve_source,
)
from dropswap.domain.near_miss import (
    LIST_BOUND,
    NearMiss,
    Suggestion,
    did_you_mean,
    near_misses,
    rename_sidecar,
)
from dropswap.domain.ports import (
    FolderListing,
    InputContent,
    InputReader,
    JobTransitions,
    ObjectChanged,
    ResultsFolder,
)
from dropswap.domain.report import WAITING_INPUT, expires_at, waiting_report
from dropswap.flows.common.job_end import publish_report

if TYPE_CHECKING:  # a value only: the logic never imports the boto3 adapters
    from dropswap.domain.ports import ObjectInfo

log = logging.getLogger(__name__)


class Unknown:
    """The caller has not looked at the photo (as opposed to None: it looked, and it is missing)."""


UNKNOWN = Unknown()


@dataclass(frozen=True)
class NotReady:
    """The job cannot start yet: WAITING for `detail` (an input), or (waiting=False) no longer WAITING
    (another delivery moved it on; `detail` is its status), or (superseded=True) its photo is there in
    another version than the job is for (`detail` is that version)."""

    waiting: bool
    detail: str
    superseded: bool = False


class _PhotoVersionChanged(Exception):
    def __init__(self, version: str) -> None:
        super().__init__(version)
        self.version = version


@dataclass(frozen=True)
class Input:
    field: str  # the manifest field that names it, e.g. "swaps[0].source"
    bucket: str
    key: str
    raw: str | None = None  # the source as the manifest wrote it (None: the photo)


class GateObjects(InputReader, ResultsFolder, FolderListing, Protocol): ...


class InputGate:
    def __init__(
        self,
        objects: GateObjects,
        store: JobTransitions,
        *,
        bucket: str,
        max_image_bytes: int,
        extra_source_buckets: tuple[str, ...] = (),
        allowed_source_hosts: tuple[str, ...] = (),
        max_waiting_age_seconds: int = 86400,
    ) -> None:
        self._objects = objects
        self._max_waiting_age = max_waiting_age_seconds
        self._store = store
        self._bucket = bucket
        self._max_image_bytes = max_image_bytes
        self._extra_buckets = extra_source_buckets
        self._allowed_hosts = allowed_source_hosts

    def manifest(self, ref: JobRef, data: bytes | None) -> Manifest:
        """The sidecar version `ref` names, parsed; `data` None: it was over the size limit."""
        if data is None:
            raise ManifestError(
                "manifest",
                f"is larger than {MAX_MANIFEST_BYTES} bytes; a manifest is a small JSON file",
                code=ErrorCode.LIMIT,
            )
        return parse_manifest(
            data,
            sidecar_key=ref.sidecar_key,
            drop_bucket=self._bucket,
            extra_source_buckets=self._extra_buckets,
            allowed_source_hosts=self._allowed_hosts,
        )

    def wait_for_inputs(
        self, ref: JobRef, manifest: Manifest, photo: ObjectInfo | Unknown | None = UNKNOWN
    ) -> NotReady | None:
        """None when every S3 input is there; else the job is WAITING for the first missing one.

        `photo`: the photo's HEAD as the caller just made it (None: missing), so it is not made twice."""
        known: dict[tuple[str, str], ObjectInfo | None] = {}
        if not isinstance(photo, Unknown):
            known[(ref.bucket, ref.image_key)] = photo
        for _ in range(len(manifest.swaps) + 2):
            try:
                missing = self._missing(inputs(ref, manifest), ref, known)
            except _PhotoVersionChanged as changed:
                return NotReady(waiting=False, detail=changed.version, superseded=True)
            known = {}  # the first pass only: later passes look again
            if not missing:
                return None
            first = missing[0]
            # Only drop-bucket keys get upload events; other buckets wait for the reconciler.
            marker = first.key if first.bucket == self._bucket else f"s3://{first.bucket}/{first.key}"
            # The metadata goes on the record now, into the WAITING report and however the job ends.
            res = self._store.transition(
                ref.job_id, Status.WAITING,
                set_fields={**ref.fields(), "waiting_for": marker, "metadata_json": manifest.metadata_json},
            )
            if not res.applied or res.job is None:
                return NotReady(waiting=False, detail=res.job.status.value if res.job else "?")
            # The missing object's upload event may have looked for waiting jobs just before our
            # write: look once more, now that the marker is visible to any later event.
            if self._objects.head(first.key, bucket=first.bucket) is None:
                log.info("job waiting for input", extra={"job_id": ref.job_id, "waiting_for": marker})
                self._report_waiting(res.job, ref, missing)
                return NotReady(waiting=True, detail=marker)
        return None

    def _report_waiting(self, job: Job, ref: JobRef, missing: list[Input]) -> None:
        """The WAITING report for inputs: every missing input by its resolved key, with a hint where one
        helps, and when the job gives up."""
        waiting: list[dict[str, Any]] = []
        listed: dict[str, list[str]] = {}  # each folder listed once for the whole report
        for item in missing:
            where = f"s3://{item.bucket}/{item.key}"
            entry: dict[str, Any] = {"field": item.field, "key": where}
            what = "the photo" if item.raw is None else f"{item.field} {item.raw!r}"
            entry["message"] = f"{what}: {where} is not there yet; the job starts when it is uploaded"
            entry.update(self._hint(ref, item, listed))
            waiting.append(entry)
        # What ends this wait is the reconciler's expiry, counted from the record's creation (reconcile.py).
        report = waiting_report(
            job, WAITING_INPUT, expires_at=expires_at(job.created_at, self._max_waiting_age),
            extra={"missing": waiting},
        )
        publish_report(self._objects, ref.image_key, Status.WAITING, report)

    def _hint(self, ref: JobRef, item: Input, listed: dict[str, list[str]]) -> dict[str, Any]:
        """`hint` and `did_you_mean` (s3:// URIs, likeliest first) for a missing drop-bucket input, or {}:
        a relative source one folder off (`faces/a.jpg` missing, `../faces/a.jpg` there, or the other
        way round), then the near misses among the photos of the missing key's folder (near_miss.py),
        listed once per folder for the whole report (`listed`): one LIST of at most LIST_BOUND keys."""
        if item.bucket != self._bucket:
            return {}  # only the drop bucket is listed; an extra bucket's source waits unhinted
        raw = item.raw.strip() if item.raw else ""
        found: list[tuple[str, Suggestion]] = []
        off = self._off_by_a_folder(ref, raw, item)
        if off is not None:
            found.append((off[1], Suggestion(off[0], self._uri(off[1]))))
        for hit in self.near_misses(item.key, listed):
            found.append((hit.key, Suggestion(_spelled(raw, hit.key), self._uri(hit.key), hit.why)))
        if not found:
            return {}
        hint = did_you_mean([s for _, s in found])
        if item.raw is None and not keys.is_folder_manifest(ref.sidecar_key):
            hint += "; " + rename_sidecar(found[0][0])  # the photo's name is the sidecar's to fix
        return {"hint": hint, "did_you_mean": [s.where for _, s in found]}

    def near_misses(self, key: str, listed: dict[str, list[str]] | None = None) -> list[NearMiss]:
        """The photos of a missing drop-bucket key's folder it most likely meant (near_miss.py), from one
        LIST of at most LIST_BOUND keys; `listed` keeps each folder's listing for the caller's next key."""
        folder = keys.folder_of(key)
        listed = {} if listed is None else listed
        if folder not in listed:
            listed[folder] = list(itertools.islice(self._objects.list_folder(folder, LIST_BOUND), LIST_BOUND))
        return near_misses(key, listed[folder])

    def _uri(self, key: str) -> str:
        return f"s3://{self._bucket}/{key}"

    def _off_by_a_folder(self, ref: JobRef, raw: str, item: Input) -> tuple[str, str] | None:
        """(the source as it would be written, its key) when a relative source is missing but one
        folder up (or, for a `../` source, in the sidecar's own folder) there is such an object."""
        if not raw or "://" in raw:
            return None
        other = raw[3:] if raw.startswith("../") else "../" + raw
        try:
            guess = resolve_source(other, item.field, keys.folder_of(ref.sidecar_key), (self._bucket,))
        except ManifestError:
            return None  # e.g. one folder up would leave inbox/
        if guess.key is None or guess.key == item.key or self._objects.head(guess.key) is None:
            return None
        return other, guess.key

    def _missing(
        self, needed: list[Input], ref: JobRef, known: dict[tuple[str, str], ObjectInfo | None]
    ) -> list[Input]:
        """Every input not there yet; an unusable one (type, empty, size) raises, even if others are
        missing, so all that can be said at once is said at once."""
        limit = self._max_image_bytes
        problems: list[ManifestError] = []
        # Types (and key lengths) first: never wait for an upload that could not be used anyway.
        for item in needed:
            try:
                check_key_length(item.key, item.field, code=ErrorCode.LIMIT)
            except ManifestError as exc:
                problems.append(exc)
                continue
            ext = keys.extension(item.key)
            if ext not in keys.IMAGE_EXTENSIONS:
                supported = ", ".join(sorted(keys.IMAGE_EXTENSIONS))
                problems.append(ManifestError(
                    item.field,
                    f"{item.key} is not a supported image (.{ext or '?'}); use one of: {supported}",
                    code=ErrorCode.UNSUPPORTED_TYPE,
                ))
        if problems:
            raise ManifestError.all_of(problems)
        missing: list[Input] = []
        for item in needed:
            where = (item.bucket, item.key)
            info = known[where] if where in known else self._objects.head(item.key, bucket=item.bucket)
            if info is None:
                missing.append(item)
                continue
            if item.field == "image" and info.version != ref.image_version:
                raise _PhotoVersionChanged(info.version)
            try:
                image_header.check_size(info.size, limit)
            except ImageProblem as exc:
                problems.append(_problem(item, exc))
        if problems:
            raise ManifestError.all_of(problems)
        return missing


@dataclass(frozen=True)
class CheckedInput:
    """An input whose bytes were checked: the version (ETag) checked and what its header says."""

    item: Input
    etag: str
    header: ImageHeader


def check_contents(
    objects: InputContent,
    needed: list[Input],
    *,
    max_image_bytes: int,
    max_image_pixels: int,
    versions: Mapping[tuple[str, str], str] | None = None,
) -> list[CheckedInput]:
    """Each input's bytes, checked (see the module's docstring): ManifestError naming the field of the
    first that cannot succeed; ObjectChanged when one was replaced or deleted while being read, or is not
    the version `versions` names for its (bucket, key) (the photo's version is part of the job's id)."""
    pinned = versions or {}
    return [
        _check_content(objects, item, max_image_bytes, max_image_pixels, pinned.get((item.bucket, item.key)))
        for item in needed
    ]


def _check_content(
    objects: InputContent, item: Input, max_bytes: int, max_pixels: int, version: str | None
) -> CheckedInput:
    first = objects.read_range(item.key, f"bytes=0-{HEAD_BYTES - 1}", bucket=item.bucket)
    if first is None or first.data is None:
        raise ObjectChanged(f"s3://{item.bucket}/{item.key}")
    if version and version != first.info.version:
        raise ObjectChanged(f"s3://{item.bucket}/{item.key}")  # not the version the job is for
    size, etag = first.info.size, first.info.etag

    def fetch(offset: int, length: int) -> bytes:
        return _read(objects, item, f"bytes={offset}-{offset + length - 1}", etag)

    try:
        header = image_header.check_image(
            size, first.data, fetch, lambda: _read(objects, item, f"bytes=-{TAIL_BYTES}", etag),
            max_bytes=max_bytes, max_pixels=max_pixels,
        )
    except ImageProblem as exc:
        raise _problem(item, exc) from None
    return CheckedInput(item, etag, header)


def _read(objects: InputContent, item: Input, byte_range: str, etag: str) -> bytes:
    """A range of the version that was checked so far: ObjectChanged when it is gone or replaced."""
    part = objects.read_range(item.key, byte_range, bucket=item.bucket, if_match=etag)
    if part is None or part.data is None:
        raise ObjectChanged(f"s3://{item.bucket}/{item.key}")
    return part.data


def _problem(item: Input, exc: ImageProblem) -> ManifestError:
    return ManifestError(item.field, f"{item.key} {exc.message}", code=exc.code)


def inputs(ref: JobRef, manifest: Manifest) -> list[Input]:
    """Every S3 object the job reads, the photo first, each once (https sources are AKOOL's to fetch)."""
    out = [Input("image", ref.bucket, ref.image_key)]
    for swap in manifest.swaps:
        src = swap.source
        if src.bucket is not None and src.key is not None:
            out.append(Input(f"{swap.field}.source", src.bucket, src.key, src.raw))
    seen: set[tuple[str, str]] = set()
    unique = []
    for item in out:
        if (item.bucket, item.key) not in seen:
            seen.add((item.bucket, item.key))
            unique.append(item)
    return unique


def _spelled(raw: str, key: str) -> str:
    """A near miss (in the same folder as what `raw` named) as the manifest would write it: `raw` with
    its last part replaced; for the photo (no `raw`), its file name."""
    if not raw:
        return posixpath.basename(key)
    head, slash, _ = raw.rpartition("/")  # a relative key or an s3:// URI alike
    return head + slash + posixpath.basename(key)

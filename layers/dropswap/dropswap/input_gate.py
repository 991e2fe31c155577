"""The input gate: a job starts only once its manifest parses and every S3 object it names is usable.

- The inputs of a manifest: the photo, then each `s3://`/relative source, each object once.
- Types first, before anything is fetched: a job never waits for an upload it could not use anyway.
- Then existence and size, by HEAD: empty or oversized inputs are refused.
- The WAITING protocol: a job with an input missing is marked WAITING for the first missing one (the
  `waiting-for` index lets that key's upload find it), then that input is looked for once more: its upload
  event may have searched for waiting jobs just before the mark became visible.
- The photo's version is part of the job's identity (jobs.job_id_for). A job made while its photo was
  missing is keyed with photo version "": it WAITS for the photo, and once the photo is there (in any
  version) that job is superseded, never continued: the caller closes it quietly and goes on with the job
  of the photo's actual version (submit.py), which the photo's own upload event creates anyway. Likewise a
  job whose photo was replaced since. So one photo version is one job, whichever event arrives first.
Unusable input raises ManifestError naming the manifest field (the caller REJECTS the job under its claim).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dropswap import keys
from dropswap.error_codes import ErrorCode
from dropswap.jobs import JobRef, Status
from dropswap.manifest import MAX_MANIFEST_BYTES, Manifest, ManifestError, check_key_length, parse_manifest
from dropswap.ports import InputReader, JobTransitions

if TYPE_CHECKING:  # a value only: the logic never imports the boto3 adapters
    from dropswap.object_store import ObjectInfo

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


class InputGate:
    def __init__(
        self,
        objects: InputReader,
        store: JobTransitions,
        *,
        bucket: str,
        max_image_bytes: int,
        extra_source_buckets: tuple[str, ...] = (),
        allowed_source_hosts: tuple[str, ...] = (),
    ) -> None:
        self._objects = objects
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
                missing = self._first_missing(inputs(ref, manifest), ref, known)
            except _PhotoVersionChanged as changed:
                return NotReady(waiting=False, detail=changed.version, superseded=True)
            known = {}  # the first pass only: later passes look again
            if missing is None:
                return None
            # Only drop-bucket keys get upload events; other buckets wait for the reconciler.
            marker = missing.key if missing.bucket == self._bucket else f"s3://{missing.bucket}/{missing.key}"
            res = self._store.transition(
                ref.job_id, Status.WAITING, set_fields={**ref.fields(), "waiting_for": marker}
            )
            if not res.applied:
                return NotReady(waiting=False, detail=res.job.status.value if res.job else "?")
            # The missing object's upload event may have looked for waiting jobs just before our
            # write: look once more, now that the marker is visible to any later event.
            if self._objects.head(missing.key, bucket=missing.bucket) is None:
                log.info("job waiting for input", extra={"job_id": ref.job_id, "waiting_for": marker})
                return NotReady(waiting=True, detail=marker)
        return None

    def _first_missing(
        self, needed: list[Input], ref: JobRef, known: dict[tuple[str, str], ObjectInfo | None]
    ) -> Input | None:
        limit = self._max_image_bytes
        # Types (and key lengths) first: never wait for an upload that could not be used anyway.
        for item in needed:
            check_key_length(item.key, item.field, code=ErrorCode.LIMIT)
            ext = keys.extension(item.key)
            if ext not in keys.IMAGE_EXTENSIONS:
                supported = ", ".join(sorted(keys.IMAGE_EXTENSIONS))
                raise ManifestError(
                    item.field,
                    f"{item.key} is not a supported image (.{ext or '?'}); use one of: {supported}",
                    code=ErrorCode.UNSUPPORTED_TYPE,
                )
        for item in needed:
            where = (item.bucket, item.key)
            info = known[where] if where in known else self._objects.head(item.key, bucket=item.bucket)
            if info is None:
                return item
            if item.field == "image" and info.version != ref.image_version:
                raise _PhotoVersionChanged(info.version)
            if info.size == 0:
                raise ManifestError(
                    item.field, f"{item.key} is empty; upload the image again", code=ErrorCode.EMPTY_IMAGE
                )
            if info.size > limit:
                raise ManifestError(
                    item.field,
                    f"{item.key} is {_size(info.size)}; images may be at most {_size(limit)}, resize it",
                    code=ErrorCode.TOO_LARGE,
                )
        return None


def inputs(ref: JobRef, manifest: Manifest) -> list[Input]:
    """Every S3 object the job reads, the photo first, each once (https sources are AKOOL's to fetch)."""
    out = [Input("image", ref.bucket, ref.image_key)]
    for swap in manifest.swaps:
        src = swap.source
        if src.bucket is not None and src.key is not None:
            out.append(Input(f"{swap.field}.source", src.bucket, src.key))
    seen: set[tuple[str, str]] = set()
    unique = []
    for item in out:
        if (item.bucket, item.key) not in seen:
            seen.add((item.bucket, item.key))
            unique.append(item)
    return unique


def _size(size: int) -> str:
    return f"{size} bytes" if size < 1024 * 1024 else f"{size / (1024 * 1024):.1f} MB"

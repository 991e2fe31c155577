"""The submit path: an upload under inbox/ → a job submitted to AKOOL, or WAITING, REJECTED or FAILED.

Business rules only: S3, DynamoDB and AKOOL are reached through ObjectStore, JobStore and AkoolClient.

Exactly once: the job id comes from the sidecar's bucket, key and ETag/version, so every delivery of the
same upload maps to one record; only the holder of the record's claim (a conditional write with a lease)
may call AKOOL's submit, and only a job still WAITING can be claimed. A job past WAITING makes any later
delivery a no-op. Reports are written before the status change that makes them final, so a crash in
between is repaired by the retry (the report write is an idempotent overwrite).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from dropswap import keys, tokens
from dropswap.akool_client import AkoolClient, AkoolError
from dropswap.config import Settings
from dropswap.error_codes import ErrorCode, akool_refusal, job_error
from dropswap.faces import DetectedFace, FaceSelectionError, SelectedFace, largest, order_faces, select
from dropswap.job_store import JobStore
from dropswap.jobs import Job, Status, job_id_for
from dropswap.manifest import MAX_MANIFEST_BYTES, Manifest, ManifestError, Source, Swap, parse_manifest
from dropswap.object_store import ObjectStore
from dropswap.report import build_report

log = logging.getLogger(__name__)

V3_MAX_FACES = 8
PRO_MAX_PAIRS = 50

# What happened to one job for one event (the handler turns these into metrics).
OutcomeKind = Literal["SUBMITTED", "REJECTED", "WAITING", "FAILED", "DUPLICATE", "BUSY", "IGNORED"]

InputError = ManifestError | FaceSelectionError


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    key: str
    job_id: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class _JobRef:
    """What identifies a job and is written with every transition."""

    bucket: str
    job_id: str
    sidecar_key: str
    sidecar_version: str

    @property
    def image_key(self) -> str:
        return keys.image_key_for_sidecar(self.sidecar_key)

    @property
    def report_key(self) -> str:
        return keys.report_key(self.image_key)

    def fields(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "image_key": self.image_key,
            "sidecar_key": self.sidecar_key,
            "sidecar_etag": self.sidecar_version,
            "report_key": self.report_key,
        }


@dataclass
class _Plan:
    engine: Literal["pro", "v3"]
    targets: list[dict[str, str]]
    sources: list[dict[str, str]]
    summary: list[dict[str, Any]] = field(default_factory=list)
    faces_detected: int | None = None


class Submitter:
    def __init__(
        self,
        store: JobStore,
        objects: ObjectStore,
        akool: AkoolClient | Callable[[], AkoolClient],
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        lease_seconds: int = 300,
        new_owner: Callable[[], str] = lambda: uuid.uuid4().hex,
        new_token: Callable[[], str] = tokens.new_token,
    ) -> None:
        self._store = store
        self._objects = objects
        self._akool_source = akool
        self._akool: AkoolClient | None = akool if isinstance(akool, AkoolClient) else None
        self._settings = settings
        self._clock = clock
        # Longer than one invocation can run, so a live holder never loses its claim; a crashed
        # holder's claim lapses and the reconciler's recheck_waiting takes the job over.
        self._lease = lease_seconds
        self._new_owner = new_owner
        self._new_token = new_token
        self._bucket = settings.drop_bucket

    # -- entry points --------------------------------------------------------------------------
    def handle_object_created(self, bucket: str, key: str) -> list[Outcome]:
        """One S3 ObjectCreated record (key already URL-decoded)."""
        if bucket != self._bucket:
            log.warning("ignoring event from another bucket", extra={"bucket": bucket, "key": key})
            return [Outcome("IGNORED", key, detail="not the drop bucket")]
        outcomes: list[Outcome] = []
        kind = keys.classify(key)
        if kind is keys.KeyKind.SIDECAR:
            outcomes.append(
                self._process_sidecar(key) or Outcome("IGNORED", key, detail="sidecar no longer exists")
            )
        elif kind is keys.KeyKind.IMAGE:
            # The image's own sidecar may be waiting for it. Its job's waiting-for marker would find it
            # too, but that GSI is eventually consistent: a marker written just now may not show yet.
            outcome = self._process_sidecar(keys.sidecar_key_for_image(key))
            if outcome is not None:
                outcomes.append(outcome)
        if kind is keys.KeyKind.IMAGE:
            # Only images are ever waited for: every input must be an image (see _first_missing), so a
            # sidecar or any other upload cannot unblock a job and costs no query.
            seen = {o.job_id for o in outcomes}
            error: Exception | None = None
            # Every job this upload may unblock; one failing must not starve the others.
            for job_id in self._store.jobs_waiting_for(key):
                if job_id in seen:
                    continue
                try:
                    outcomes.append(self._recheck(job_id))
                except Exception as exc:
                    log.exception("re-check of waiting job failed", extra={"job_id": job_id})
                    error = error or exc
            if error is not None:
                raise error
        if not outcomes:
            outcomes.append(Outcome("IGNORED", key, detail=f"{kind.value}: nothing to do"))
        return outcomes

    def recheck_waiting(self, job_id: str) -> None:
        """Try a WAITING job again (the reconciler calls this for jobs waiting too long)."""
        self._recheck(job_id)

    # -- the pipeline --------------------------------------------------------------------------
    def _recheck(self, job_id: str) -> Outcome:
        job = self._store.get(job_id)
        if job is None or job.status is not Status.WAITING or not job.sidecar_key:
            return Outcome("DUPLICATE", job.sidecar_key if job else "", job_id, "not waiting")
        sidecar = self._objects.read_small(job.sidecar_key, MAX_MANIFEST_BYTES)
        ref = _JobRef(self._bucket, job_id, job.sidecar_key, job.sidecar_etag)
        if sidecar is None:
            gone = ManifestError(
                "manifest",
                f"{job.sidecar_key} was deleted before the job could start; upload it again",
                code=ErrorCode.SIDECAR_GONE,
            )
            return self._reject(ref, gone, owner=None)
        if sidecar.info.version != job.sidecar_etag:
            # A newer sidecar replaced this one and has its own job; close this one quietly, without
            # a report, since the report key is shared with the newer job.
            error = job_error(ErrorCode.SUPERSEDED, "a newer version of the sidecar replaced this one")
            fields = {"error": error, "finished_at": self._now()}
            self._store.transition(job_id, Status.REJECTED, set_fields=fields)
            return Outcome("IGNORED", job.sidecar_key, job_id, "superseded")
        return self._run(ref, sidecar.data)

    def _process_sidecar(self, sidecar_key: str) -> Outcome | None:
        """The job of the sidecar as it is now; None when there is no sidecar (any more)."""
        # One GET gives the content and the version it belongs to, so the job id (from the version)
        # and the manifest always match, even if the sidecar is overwritten meanwhile.
        sidecar = self._objects.read_small(sidecar_key, MAX_MANIFEST_BYTES)
        if sidecar is None:
            return None
        version = sidecar.info.version
        ref = _JobRef(self._bucket, job_id_for(self._bucket, sidecar_key, version), sidecar_key, version)
        existing = self._store.get(ref.job_id)
        if existing is not None and existing.status is not Status.WAITING:
            return Outcome("DUPLICATE", sidecar_key, ref.job_id, existing.status.value)
        return self._run(ref, sidecar.data)

    def _run(self, ref: _JobRef, sidecar: bytes | None) -> Outcome:
        """`sidecar` is the content of the sidecar version `ref` names (None: over the size limit)."""
        try:
            manifest = self._parse_manifest(ref, sidecar)
            waiting = self._wait_for_inputs(ref, manifest)
        except ManifestError as exc:
            return self._reject(ref, exc, owner=None)
        if waiting is not None:
            return waiting
        owner = self._new_owner()
        claim = self._store.claim(ref.job_id, owner, self._lease, create_fields=ref.fields())
        if not claim.applied:
            current = claim.job.status if claim.job else None
            kind: OutcomeKind = "BUSY" if current is Status.WAITING else "DUPLICATE"
            log.info("job already being handled", extra={"job_id": ref.job_id, "status": str(current)})
            return Outcome(kind, ref.sidecar_key, ref.job_id, str(current))
        try:
            return self._submit(ref, manifest, owner)
        except BaseException:
            # Retryable AKOOL failure or anything unexpected: give the claim back so Lambda's retry
            # (or the reconciler) can run the job; a terminal job has no claim left to release.
            self._store.release(ref.job_id, owner)
            raise

    def _parse_manifest(self, ref: _JobRef, data: bytes | None) -> Manifest:
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
            extra_source_buckets=self._settings.extra_source_buckets,
        )

    def _inputs(self, ref: _JobRef, manifest: Manifest) -> list[tuple[str, str, str]]:
        """(field, bucket, key) of every S3 object the job reads, image first, each once."""
        out = [("image", self._bucket, ref.image_key)]
        for swap in manifest.swaps:
            src = swap.source
            if src.bucket is not None and src.key is not None:
                out.append((f"{swap.field}.source", src.bucket, src.key))
        seen: set[tuple[str, str]] = set()
        unique = []
        for item in out:
            if (item[1], item[2]) not in seen:
                seen.add((item[1], item[2]))
                unique.append(item)
        return unique

    def _first_missing(self, ref: _JobRef, manifest: Manifest) -> tuple[str, str] | None:
        limit = self._settings.max_image_bytes
        inputs = self._inputs(ref, manifest)
        # Types first: never wait for an upload that could not be used anyway.
        for fld, _, key in inputs:
            ext = keys.extension(key)
            if ext not in keys.IMAGE_EXTENSIONS:
                supported = ", ".join(sorted(keys.IMAGE_EXTENSIONS))
                raise ManifestError(
                    fld,
                    f"{key} is not a supported image (.{ext or '?'}); use one of: {supported}",
                    code=ErrorCode.UNSUPPORTED_TYPE,
                )
        for fld, bucket, key in inputs:
            info = self._objects.head(key, bucket=bucket)
            if info is None:
                return bucket, key
            if info.size == 0:
                empty = f"{key} is empty; upload the image again"
                raise ManifestError(fld, empty, code=ErrorCode.EMPTY_IMAGE)
            if info.size > limit:
                raise ManifestError(
                    fld,
                    f"{key} is {_size(info.size)}; images may be at most {_size(limit)}, resize it",
                    code=ErrorCode.TOO_LARGE,
                )
        return None

    def _wait_for_inputs(self, ref: _JobRef, manifest: Manifest) -> Outcome | None:
        """None when every S3 input exists; else the job is WAITING for the first missing one."""
        for _ in range(len(manifest.swaps) + 2):
            missing = self._first_missing(ref, manifest)
            if missing is None:
                return None
            bucket, key = missing
            # Only drop-bucket keys get upload events; other buckets wait for the reconciler.
            marker = key if bucket == self._bucket else f"s3://{bucket}/{key}"
            res = self._store.transition(
                ref.job_id, Status.WAITING, set_fields={**ref.fields(), "waiting_for": marker}
            )
            if not res.applied:
                current = res.job.status.value if res.job else "?"
                return Outcome("DUPLICATE", ref.sidecar_key, ref.job_id, current)
            # The missing object's upload event may have looked for waiting jobs just before our
            # write: look once more, now that the marker is visible to any later event.
            if self._objects.head(key, bucket=bucket) is None:
                log.info("job waiting for input", extra={"job_id": ref.job_id, "waiting_for": marker})
                return Outcome("WAITING", ref.sidecar_key, ref.job_id, marker)
        return None

    def _submit(self, ref: _JobRef, manifest: Manifest, owner: str) -> Outcome:
        client = self._client()
        ttl = self._settings.presign_ttl_seconds
        image_url = self._objects.presign_get(ref.image_key, ttl)
        source_urls = {s.index: self._source_url(s.source, ttl) for s in manifest.swaps}
        try:
            plan = self._plan(client, manifest, image_url, source_urls)
        except (ManifestError, FaceSelectionError) as exc:
            return self._reject(ref, exc, owner=owner)
        except AkoolError as exc:
            if exc.retryable:
                raise
            return self._fail(ref, exc, owner, engine=None)

        token = self._new_token()
        webhook_url = (
            f"{self._settings.webhook_base_url}/webhooks/akool/{ref.job_id}?token={token}"
            if self._settings.webhook_base_url
            else ""  # no public endpoint configured: the reconciler polls instead
        )
        try:
            if plan.engine == "pro":
                result = client.faceswap_pro(
                    plan.sources, plan.targets, face_enhance=manifest.face_enhance, webhook_url=webhook_url
                )
            else:
                result = client.faceswap_v3(
                    image_url,
                    plan.sources,
                    plan.targets,
                    face_enhance=manifest.face_enhance,
                    webhook_url=webhook_url,
                )
        except AkoolError as exc:
            if exc.retryable:
                log.warning("AKOOL submit failed, will retry", extra={"job_id": ref.job_id, "code": exc.code})
                raise
            return self._fail(ref, exc, owner, engine=plan.engine)

        summary = {
            "engine": plan.engine,
            "face_enhance": manifest.face_enhance,
            "faces_detected": plan.faces_detected,
            "pairs": plan.summary,
        }
        res = self._store.transition(
            ref.job_id,
            Status.SUBMITTED,
            set_fields={
                **ref.fields(),
                "engine": plan.engine,
                "akool_id": result.akool_id,
                "akool_job_id": result.akool_job_id,
                "token_hash": tokens.hash_token(token),
                "submitted_at": self._now(),
                "request_summary": summary,
            },
            expect_owner=owner,
        )
        if not res.applied:
            # Only possible if our lease lapsed and another delivery took the job over.
            log.error(
                "submitted to AKOOL but lost the claim",
                extra={"job_id": ref.job_id, "akool_id": result.akool_id},
            )
            return Outcome("DUPLICATE", ref.sidecar_key, ref.job_id, "claim lost after submit")
        log.info(
            "job submitted",
            extra={
                "job_id": ref.job_id,
                "akool_id": result.akool_id,
                "engine": plan.engine,
                "pairs": len(plan.targets),
            },
        )
        return Outcome("SUBMITTED", ref.sidecar_key, ref.job_id, plan.engine)

    # -- planning: faces, engine, request ------------------------------------------------------
    def _plan(
        self, client: AkoolClient, manifest: Manifest, image_url: str, source_urls: dict[int, str]
    ) -> _Plan:
        swaps = manifest.swaps
        if manifest.engine in ("pro", "auto") and len(swaps) == 1 and swaps[0].target == "largest":
            # Pro picks the dominant face itself and needs no opts for one pair: skip detection.
            only = swaps[0]
            return _Plan(
                "pro",
                targets=[{"path": image_url}],
                sources=[{"path": source_urls[only.index]}],
                summary=[{"swap": only.index, "source": only.source.raw, "face": "largest"}],
            )

        ordered = order_faces(self._detect(client, image_url, "image"))
        pairs: list[tuple[Swap, SelectedFace]] = []
        taken: dict[int, int] = {}
        for swap in swaps:
            fld = f"{swap.field}.target"
            for chosen in select(ordered, swap.target, fld):
                if chosen.index in taken:
                    raise FaceSelectionError(
                        fld,
                        f"face {chosen.index} {chosen.face.region} is already replaced by "
                        f"swaps[{taken[chosen.index]}]; each face can be swapped only once",
                        code=ErrorCode.DUPLICATE_FACE,
                    )
                taken[chosen.index] = swap.index
                pairs.append((swap, chosen))

        engine: Literal["pro", "v3"] = (
            "pro" if manifest.engine == "pro" or (manifest.engine == "auto" and len(pairs) == 1) else "v3"
        )
        if engine == "v3" and len(pairs) > V3_MAX_FACES:
            raise ManifestError(
                "swaps",
                f"{len(pairs)} faces selected; AKOOL v3 replaces at most {V3_MAX_FACES} faces in one image, "
                'so select at most 8 (by index or point instead of "all")',
                code=ErrorCode.LIMIT,
            )
        if engine == "pro" and len(pairs) > PRO_MAX_PAIRS:
            raise ManifestError(
                "swaps",
                f"{len(pairs)} faces selected; Face Swap Pro takes at most {PRO_MAX_PAIRS}",
                code=ErrorCode.LIMIT,
            )

        # The opts rule (akool-api.md §2b): with more than one pair every item of both arrays needs
        # opts; v3 expects them always. Then the source's face must be located too.
        needs_source_opts = engine == "v3" or len(pairs) > 1
        source_opts: dict[int, str] = {}
        if needs_source_opts:
            by_source: dict[str, str] = {}
            for swap, _ in pairs:
                where = swap.source.describe()
                if where not in by_source:
                    face = largest(self._detect(client, source_urls[swap.index], f"{swap.field}.source"))
                    if face is None:
                        raise FaceSelectionError(
                            f"{swap.field}.source",
                            f"no face found in {where}; use a photo with one clearly visible face",
                            code=ErrorCode.NO_FACE,
                        )
                    by_source[where] = face.landmarks_str
                source_opts[swap.index] = by_source[where]

        # opts are pixel coordinates in the image the same item's `path` points to. We send the full
        # photos (presigned S3 URLs or the user's URL) as paths, so the matching opts are the
        # detector's full-image `landmarks_str`. `crop_landmarks` would only fit AKOOL's cropped
        # face_urls, which expire in 7 days, and a crop as Pro's target would swap the crop, not the photo.
        targets = [{"path": image_url, "opts": chosen.face.landmarks_str} for _, chosen in pairs]
        sources = [
            {"path": source_urls[swap.index], "opts": source_opts[swap.index]}
            if needs_source_opts
            else {"path": source_urls[swap.index]}
            for swap, _ in pairs
        ]
        summary = [
            {
                "swap": swap.index,
                "source": swap.source.raw,
                "face": chosen.index,
                "region": _box(chosen.face),
            }
            for swap, chosen in pairs
        ]
        return _Plan(engine, targets, sources, summary, faces_detected=len(ordered))

    def _detect(self, client: AkoolClient, url: str, fld: str) -> list[DetectedFace]:
        try:
            return client.detect_faces(url=url)
        except AkoolError as exc:
            # The detector's own refusals (no business code, not transient) mean it cannot read
            # this image: the user's input to fix. Account errors (a code) and retryables go up.
            if exc.retryable or exc.code is not None:
                raise
            raise ManifestError(
                fld,
                f"AKOOL could not read this image ({exc.message}); check that it is a valid photo",
                code=ErrorCode.UNREADABLE_IMAGE,
            ) from None

    def _source_url(self, source: Source, ttl: int) -> str:
        if source.key is not None:
            return self._objects.presign_get(source.key, ttl, bucket=source.bucket)
        return str(source.url)

    # -- terminal outcomes ---------------------------------------------------------------------
    def _reject(self, ref: _JobRef, exc: InputError, owner: str | None) -> Outcome:
        error = job_error(exc.code, str(exc))
        now = self._now()
        self._objects.put_json(
            ref.report_key,
            build_report(
                self._job_for_report(ref), status=Status.REJECTED, error=error, timings={"finished_at": now}
            ),
        )
        res = self._store.transition(
            ref.job_id,
            Status.REJECTED,
            set_fields={**ref.fields(), "error": error, "finished_at": now},
            expect_owner=owner,
        )
        log.info(
            "job rejected",
            extra={"job_id": ref.job_id, "code": exc.code, "field": exc.field, "applied": res.applied},
        )
        return Outcome("REJECTED", ref.sidecar_key, ref.job_id, str(exc))

    def _fail(self, ref: _JobRef, exc: AkoolError, owner: str, engine: str | None) -> Outcome:
        error = job_error(akool_refusal(exc.code), exc.message)
        now = self._now()
        akool: dict[str, Any] = {"code": exc.code} if exc.code is not None else {}
        if engine:
            akool["engine"] = engine
        self._objects.put_json(
            ref.report_key,
            build_report(
                self._job_for_report(ref),
                status=Status.FAILED,
                error=error,
                akool=akool,
                timings={"finished_at": now},
            ),
        )
        fields: dict[str, Any] = {**ref.fields(), "error": error, "finished_at": now}
        if engine:
            fields["engine"] = engine
        self._store.transition(ref.job_id, Status.FAILED, set_fields=fields, expect_owner=owner)
        log.warning("job failed at submit", extra={"job_id": ref.job_id, "code": exc.code})
        return Outcome("FAILED", ref.sidecar_key, ref.job_id, error["message"])

    def _job_for_report(self, ref: _JobRef) -> Job:
        job = self._store.get(ref.job_id)
        if job is not None:
            return job
        now = self._now()
        return Job(
            job_id=ref.job_id,
            status=Status.WAITING,
            bucket=ref.bucket,
            image_key=ref.image_key,
            sidecar_key=ref.sidecar_key,
            sidecar_etag=ref.sidecar_version,
            report_key=ref.report_key,
            created_at=now,
            updated_at=now,
        )

    # -- helpers -------------------------------------------------------------------------------
    def _client(self) -> AkoolClient:
        if self._akool is None:
            factory = self._akool_source
            assert callable(factory)
            self._akool = factory()
        return self._akool

    def _now(self) -> str:
        return datetime.fromtimestamp(self._clock(), tz=UTC).isoformat(timespec="milliseconds")


def _box(face: DetectedFace) -> list[int]:
    r = face.region
    return [r.x, r.y, r.w, r.h]


def _size(size: int) -> str:
    return f"{size} bytes" if size < 1024 * 1024 else f"{size / (1024 * 1024):.1f} MB"

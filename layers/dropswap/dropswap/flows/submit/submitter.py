"""The submit path: an upload under inbox/ → a job submitted to AKOOL, or WAITING, REJECTED or FAILED.

The orchestrator over ports (ports.py): which jobs an upload concerns, deduplication and the claim. It
delegates the inputs and the WAITING protocol to input_gate.py, and what the claim holder does (plan and
send the swap, or end the job) to submission.py, which uses planning.py, akool_swap.py and job_end.py.

Folder manifests (`inbox/<path>/_folder.faceswap.json`) stand in for the sidecar of every photo directly in
their folder that has none of its own (a sidecar wins, even over a job already made: latest.py). Their
arrival lists the folder and sends one `folder_photo` message per photo to the SubmitQueue, so each photo's
job is paced like any other; a photo uploaded later finds the manifest on its own event. When a photo's turn
comes and its folder manifest is gone, its job is rejected as for a deleted sidecar.

Exactly once: the job id comes from the bucket, the manifest's (sidecar or folder manifest) key and
ETag/version and the photo's key and ETag/version (the photo's is "" while it is missing: input_gate.py
says how such a job is superseded by the photo's), so every delivery of the same uploads maps to one
record, and a replaced photo is a new job. Only the holder of the record's claim (a conditional write with
a lease) may call AKOOL's submit or end the job, and only a job still WAITING can be claimed. A job past
WAITING makes any later delivery a no-op, and a delivery that finds the claim held does nothing (BUSY).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from dropswap.domain import keys, messages
from dropswap.domain.error_codes import ErrorCode
from dropswap.domain.jobs import AKOOL_SLOT, Job, JobRef, Status
from dropswap.domain.manifest import MAX_MANIFEST_BYTES, ManifestError
from dropswap.domain.near_miss import Suggestion, did_you_mean, rename_sidecar
from dropswap.domain.ports import (
    BatchSink,
    DetectionCache,
    FolderListing,
    JobEvents,
    JobReader,
    JobTransitions,
    SubmitClaims,
    WaitingIndex,
)
from dropswap.flows.common.credit_budget import CreditBudget
from dropswap.flows.common.job_end import Hold, Refused, under_claim
from dropswap.flows.common.pacing import NoRoom, Pacer
from dropswap.flows.submit.input_gate import UNKNOWN, InputGate, Unknown
from dropswap.flows.submit.submission import Outcome, OutcomeKind, Submission, SubmitObjects

if TYPE_CHECKING:  # a value only: the logic never imports the boto3 adapters
    from dropswap.domain.ports import ObjectInfo, SmallObject

__all__ = ["Outcome", "OutcomeKind", "Submitter"]

log = logging.getLogger(__name__)

# Files a manifest may name but that are never swapped: each gets a report saying why (_not_a_photo).
_NOT_PHOTOS = (keys.KeyKind.UNSUPPORTED, keys.KeyKind.OUTPUT)


class SubmitStore(JobReader, JobTransitions, SubmitClaims, WaitingIndex, DetectionCache, Protocol): ...


class SubmitterObjects(SubmitObjects, FolderListing, Protocol): ...


class Submitter:
    def __init__(
        self,
        store: SubmitStore,
        objects: SubmitterObjects,
        gate: InputGate,
        holder: Submission,
        *,
        bucket: str,
        queue: BatchSink | None = None,
        list_page_size: int = 1000,
        pacer: Pacer | None = None,
        budget: CreditBudget | None = None,
        clock: Callable[[], float] = time.time,
        lease_seconds: int = 300,
        new_owner: Callable[[], str] = lambda: uuid.uuid4().hex,
        events: JobEvents | None = None,
    ) -> None:
        # Built by the composition root (app/submit.py), which also builds `gate` and `holder`.
        self._store = store
        self._objects = objects
        self._events = events
        self._clock = clock
        self._bucket = bucket
        self._queue = queue  # the SubmitQueue: a folder manifest's photos go through it
        self._page_size = list_page_size
        self._gate = gate
        self._pacer = pacer or Pacer.unlimited()
        self._budget = budget or CreditBudget.uncounted()
        self._holder = holder
        # Longer than one invocation can run, so a live holder never loses its claim; a crashed
        # holder's claim lapses and the reconciler's recheck_waiting takes the job over.
        self._lease = lease_seconds
        self._new_owner = new_owner

    # -- entry points --------------------------------------------------------------------------
    def handle_object_created(self, bucket: str, key: str, version: str | None = None) -> list[Outcome]:
        """One S3 ObjectCreated record (key already URL-decoded; `version`: the object's, as the record
        names it)."""
        if bucket != self._bucket:
            log.warning("ignoring event from another bucket", extra={"bucket": bucket, "key": key})
            return [Outcome("IGNORED", key, detail="not the drop bucket")]
        outcomes: list[Outcome] = []
        kind = keys.classify(key)
        if kind is keys.KeyKind.SIDECAR:
            done = self._process_sidecar(key)
            outcomes.append(done[1] if done else Outcome("IGNORED", key, detail="sidecar no longer exists"))
        elif kind is keys.KeyKind.FOLDER_MANIFEST:
            outcomes.append(self._fan_out(key, version))
        elif kind in _NOT_PHOTOS:
            unsupported = self._unsupported_upload(key)
            if unsupported is not None:
                outcomes.append(unsupported)
        elif kind is keys.KeyKind.IMAGE:
            # The image's own sidecar may be waiting for it. Its job's waiting-for marker would find it
            # too, but that GSI is eventually consistent: a marker written just now may not show yet.
            done = self._process_sidecar(keys.sidecar_key_for_image(key))
            if done is None:  # no sidecar of its own: its folder's manifest applies, if there is one
                done = self._process(keys.folder_manifest_key_for(key), key)
            current = done[0] if done else None
            if done is not None:
                outcomes.append(done[1])
            # Only images are ever waited for (every input must be an image: input_gate.py), so a
            # sidecar or any other upload cannot unblock a job and costs no query.
            outcomes.extend(self._unblocked_by(key, {o.job_id for o in outcomes}, current))
        if not outcomes:
            outcomes.append(Outcome("IGNORED", key, detail=f"{kind.value}: nothing to do"))
        return outcomes

    def recheck_waiting(self, job_id: str) -> Outcome:
        """Try a WAITING job again (the reconciler's recheck message asks for it)."""
        return self._recheck(job_id, None)

    def handle_folder_photo(self, manifest_key: str, manifest_version: str, image_key: str) -> Outcome:
        """One photo of a folder manifest's listing (its `folder_photo` message), now that its turn came."""
        if self._objects.head(keys.sidecar_key_for_image(image_key)) is not None:
            return Outcome("IGNORED", image_key, detail="the photo has its own sidecar, which wins")
        manifest = self._objects.read_small(manifest_key, MAX_MANIFEST_BYTES)
        if manifest is not None and manifest.info.version != manifest_version:
            # The newer folder manifest's own listing sends this photo again.
            return Outcome("IGNORED", image_key, detail="a newer folder manifest replaced this one")
        photo = self._objects.head(image_key)
        if photo is None:
            return Outcome("IGNORED", image_key, detail="the photo no longer exists")
        if manifest is not None and keys.classify(image_key) in _NOT_PHOTOS:
            return self._report_unsupported(manifest_key, manifest, image_key, photo)
        if manifest is not None:
            done = self._process(manifest_key, image_key, manifest, photo)
            return done[1] if done else Outcome("IGNORED", image_key, detail="no manifest")
        ref = JobRef.of(self._bucket, manifest_key, manifest_version, photo.version, image_key)
        existing = self._store.get(ref.job_id)
        if existing is not None and existing.status is not Status.WAITING:
            return Outcome("DUPLICATE", manifest_key, ref.job_id, existing.status.value)
        return self._manifest_gone(ref)

    # -- a folder manifest's arrival ------------------------------------------------------------
    def _fan_out(self, manifest_key: str, event_version: str | None = None) -> Outcome:
        """One `folder_photo` message per photo directly in the folder without a sidecar of its own.

        `event_version`: the version the upload event is of. A newer version has its own event, which
        fans out instead. A manifest deleted before its event is handled still fans out, by the event's
        version: each photo it covered then gets its SIDECAR_GONE outcome (report and event) in its turn,
        as a photo does whose turn comes after the deletion (README: Folder manifest)."""
        manifest = self._objects.head(manifest_key)
        if manifest is not None and event_version and manifest.version != event_version:
            return Outcome("IGNORED", manifest_key, detail="a newer folder manifest replaced this one")
        version = manifest.version if manifest is not None else event_version
        if version is None:
            return Outcome("IGNORED", manifest_key, detail="folder manifest no longer exists")
        if self._queue is None:
            raise RuntimeError("a folder manifest needs the SubmitQueue to send its photos through")
        # All keys first: a photo's sidecar sorts right after it, maybe on the next page.
        present = list(self._objects.list_folder(keys.folder_of(manifest_key), self._page_size))
        names = set(present)
        # Its photos, and the images it cannot swap (they get an UNSUPPORTED_TYPE report in their turn).
        photos = [
            k for k in present if keys.looks_like_an_image(k) and keys.sidecar_key_for_image(k) not in names
        ]
        self._queue.send_batch([messages.folder_photo_body(manifest_key, version, k) for k in photos])
        log.info(
            "folder manifest: photos queued",
            extra={"key": manifest_key, "photos": len(photos), "deleted": manifest is None},
        )
        return Outcome("IGNORED", manifest_key, detail=f"{len(photos)} photos queued")

    # -- which jobs -----------------------------------------------------------------------------
    def _unblocked_by(self, key: str, seen: set[str | None], current: JobRef | None) -> list[Outcome]:
        outcomes: list[Outcome] = []
        error: Exception | None = None
        # Every job this upload may unblock; one failing must not starve the others.
        for job_id in self._store.jobs_waiting_for(key):
            if job_id in seen:
                continue
            try:
                outcomes.append(self._recheck(job_id, current))
            except NoRoom:
                raise  # the others would not find a slot either: the whole message comes back later
            except Exception as exc:
                log.exception("re-check of waiting job failed", extra={"job_id": job_id})
                error = error or exc
        if error is not None:
            raise error
        return outcomes

    def _recheck(self, job_id: str, current: JobRef | None) -> Outcome:
        """`current`: the job of the same sidecar as this event just read it (its versions are current)."""
        job = self._store.get(job_id)
        if job is None or job.status is not Status.WAITING or not job.sidecar_key:
            return Outcome("DUPLICATE", job.sidecar_key if job else "", job_id, "not waiting")
        ref = JobRef(
            self._bucket, job_id, job.sidecar_key, job.sidecar_etag, job.image_etag, job.image_key
        )
        same_photo = current is not None and (current.sidecar_key, current.image_key) == (
            ref.sidecar_key, ref.image_key
        )
        if current is not None and same_photo and current.job_id != job_id:
            # This event has just read the sidecar and the photo: this job is of an older version of one
            # of them (e.g. made while its photo was missing), and `current` is the photo's job now.
            return self._claimed(ref, lambda held, hold: self._holder.close_superseded(ref, held, hold))
        if keys.is_folder_manifest(ref.sidecar_key) and self._objects.head(
            keys.sidecar_key_for_image(ref.image_key)
        ) is not None:
            # The photo has a sidecar of its own now, which wins (its upload made its own job).
            return self._claimed(ref, lambda held, hold: self._holder.close_superseded(ref, held, hold))
        sidecar = self._objects.read_small(job.sidecar_key, MAX_MANIFEST_BYTES)
        if sidecar is None:
            return self._manifest_gone(ref)
        if sidecar.info.version != job.sidecar_etag:
            # A newer sidecar replaced this one and has its own job: close this one quietly, without
            # a report, since the report key is shared with the newer job.
            return self._claimed(ref, lambda held, hold: self._holder.close_superseded(ref, held, hold))
        return self._run(ref, sidecar.data, UNKNOWN, job=job)

    def _manifest_gone(self, ref: JobRef) -> Outcome:
        gone = ManifestError(
            "manifest",
            f"{ref.sidecar_key} was deleted before the job could start; upload it again",
            code=ErrorCode.SIDECAR_GONE,
        )
        return self._claimed(ref, lambda held, hold: self._holder.reject(ref, held, hold, gone))

    def _process_sidecar(self, sidecar_key: str, *, again: bool = True) -> tuple[JobRef, Outcome] | None:
        """The job of the sidecar and photo as they are now; None when there is no sidecar (any more)."""
        return self._process(sidecar_key, keys.image_key_for_sidecar(sidecar_key), again=again)

    def _process(
        self,
        manifest_key: str,
        image_key: str,
        manifest: SmallObject | None = None,
        photo: ObjectInfo | Unknown | None = UNKNOWN,
        *,
        again: bool = True,
    ) -> tuple[JobRef, Outcome] | None:
        """The job of the manifest (a sidecar, or a folder manifest) and photo as they are now; None when
        there is no manifest (any more). `manifest`, `photo`: as the caller just read them, if it did."""
        # One GET gives the content and the version it belongs to, so the job id (from the version)
        # and the manifest always match, even if the manifest is overwritten meanwhile.
        manifest = manifest or self._objects.read_small(manifest_key, MAX_MANIFEST_BYTES)
        if manifest is None:
            return None
        # The photo's version is part of the job's identity; "" while it is missing (input_gate.py).
        if isinstance(photo, Unknown):
            photo = self._objects.head(image_key)
        ref = JobRef.of(
            self._bucket, manifest_key, manifest.info.version, photo.version if photo else "", image_key
        )
        existing = self._store.get(ref.job_id)
        if existing is not None and existing.status is not Status.WAITING:
            return ref, Outcome("DUPLICATE", manifest_key, ref.job_id, existing.status.value)
        return ref, self._run(ref, manifest.data, photo, again=again, job=existing)

    def _unsupported_upload(self, key: str) -> Outcome | None:
        """An upload of a file that is not a supported image or is named like the stack's own output, or of
        its sidecar: a report if the file is meant for processing (it has a sidecar, or it is an image in a
        folder with a folder manifest)."""
        image_key = keys.image_key_for_sidecar(key) if key.endswith(keys.SIDECAR_SUFFIX) else key
        sidecar_key = keys.sidecar_key_for_image(image_key)
        manifest = self._objects.read_small(sidecar_key, MAX_MANIFEST_BYTES)
        if manifest is not None:
            return self._report_unsupported(sidecar_key, manifest, image_key)
        if key != image_key or not keys.looks_like_an_image(image_key):
            return None
        folder_key = keys.folder_manifest_key_for(image_key)
        folder = self._objects.read_small(folder_key, MAX_MANIFEST_BYTES)
        if folder is None:
            return None
        return self._report_unsupported(folder_key, folder, image_key)

    def _report_unsupported(
        self, manifest_key: str, manifest: SmallObject, image_key: str, photo: ObjectInfo | None = None
    ) -> Outcome:
        """An UNSUPPORTED_TYPE (or OUTPUT_NAME) report for a file a manifest applies to, once: under the
        claim of the job id it would have had (so a second upload event of the file or its sidecar is a
        DUPLICATE). It carries the manifest's metadata, unless that is invalid (the manifest is read for it,
        not judged). Never a credit: nothing reaches AKOOL."""
        photo = photo or self._objects.head(image_key)
        version = photo.version if photo else ""
        ref = JobRef.of(self._bucket, manifest_key, manifest.info.version, version, image_key)
        try:
            parsed = self._gate.manifest(ref, manifest.data)
        except ManifestError as exc:
            metadata_json, sources = exc.metadata_json, set()
        else:
            metadata_json = parsed.metadata_json
            sources = {s.source.key for s in parsed.swaps if s.source.bucket == self._bucket}
        if keys.is_folder_manifest(manifest_key) and image_key in sources:
            # A face the folder manifest swaps in, kept beside the photos (as in _run): an input, not a photo.
            return Outcome("IGNORED", image_key, ref.job_id, "a source of its folder manifest")
        refused = _not_a_photo(manifest_key, image_key)
        if photo is None and not keys.is_folder_manifest(manifest_key):
            # A sidecar naming no file that exists (`noext.faceswap.json`): name the photos it likely meant.
            refused = self._near_misses(refused, image_key)
        log.info("not a photo to swap", extra={"job_id": ref.job_id, "key": image_key, "code": refused.code})
        return self._claimed(
            ref, lambda held, hold: self._holder.reject(ref, held, hold, refused), metadata_json
        )

    # -- one job --------------------------------------------------------------------------------
    def _run(
        self,
        ref: JobRef,
        sidecar: bytes | None,
        photo: ObjectInfo | Unknown | None,
        *,
        again: bool = True,
        job: Job | None = None,
    ) -> Outcome:
        """`sidecar` is the content of the sidecar version `ref` names (None: over the size limit);
        `photo` the photo's HEAD if the caller made one; `job` the record as the caller just read it."""
        metadata_json: str | None = None
        try:
            manifest = self._gate.manifest(ref, sidecar)
            metadata_json = manifest.metadata_json
            if keys.is_folder_manifest(ref.sidecar_key) and ref.image_key in {
                s.source.key for s in manifest.swaps if s.source.bucket == self._bucket
            }:
                # A face the folder manifest swaps in, kept beside the photos: not one to swap.
                return Outcome("IGNORED", ref.image_key, ref.job_id, "a source of its folder manifest")
            not_ready = self._gate.wait_for_inputs(ref, manifest, photo)
        except ManifestError as exc:
            problem = exc  # the name `exc` is unbound after the except block
            # An invalid manifest's error carries its metadata if that alone is valid (manifest.py).
            return self._claimed(
                ref, lambda held, hold: self._holder.reject(ref, held, hold, problem),
                metadata_json or exc.metadata_json,
            )
        if not_ready is not None and not_ready.superseded:
            # The photo is there in another version than this job is for: close this job, go on with
            # the photo's job as it is now (once: a photo replaced again meanwhile has its own event).
            closed = self._claimed(ref, lambda held, hold: self._holder.close_superseded(ref, held, hold))
            done = self._process(ref.sidecar_key, ref.image_key, again=False) if again else None
            return done[1] if done is not None else closed
        if not_ready is not None:
            kind: OutcomeKind = "WAITING" if not_ready.waiting else "DUPLICATE"
            return Outcome(kind, ref.sidecar_key, ref.job_id, not_ready.detail)
        # The swap is prepared before its slot is waited for (pacing.py: the hand-over), except once this
        # invocation's wait has found no slot: then, with every slot still in use, NoRoom sends the
        # message back shortly, unprepared (the job stays WAITING, claimable by that delivery). A
        # faces-only job sends no swap, so it needs no slot and no credit.
        if manifest.mode != "faces":
            if not self._budget.has_room():
                # Today's credits are spent (a read): wait for the budget without staging or detecting.
                return self._claimed(
                    ref, lambda held, hold: self._holder.wait_for_credit(ref, held, hold),
                    manifest.metadata_json,
                )
            try:
                self._pacer.room_to_prepare()
            except NoRoom:
                # Shown once: a record already marked costs this retry no write at all.
                if job is None or job.waiting_for != AKOOL_SLOT:
                    self._claimed(
                        ref, lambda held, hold: self._holder.wait_for_slot(ref, held, hold),
                        manifest.metadata_json,
                    )
                raise
        return self._claimed(
            ref, lambda held, hold: self._holder.submit(ref, held, hold, manifest), manifest.metadata_json
        )

    def _near_misses(self, refused: ManifestError, image_key: str) -> ManifestError:
        hits = self._gate.near_misses(image_key)
        if not hits:
            return refused
        hint = did_you_mean([Suggestion(h.name, f"s3://{self._bucket}/{h.key}", h.why) for h in hits])
        return ManifestError(
            refused.field, f"{refused.message}; {hint}; {rename_sidecar(hits[0].key)}", code=refused.code
        )

    def _claimed(
        self, ref: JobRef, work: Callable[[Job, Hold], Outcome], metadata_json: str | None = None
    ) -> Outcome:
        """`work` under the job's claim; BUSY (or DUPLICATE) without doing anything if that is refused.

        `metadata_json`: the manifest's metadata, when it was read. The claim puts it on the record unless
        it is there already (a job is one version of its manifest, so it never changes), and `work` gets
        the record: every report and event of the job carry it from there."""
        create_fields = {**ref.fields(), "metadata_json": metadata_json}
        outcome = under_claim(
            self._store, ref.job_id, self._new_owner(), self._lease, work, create_fields=create_fields
        )
        if not isinstance(outcome, Refused):
            return outcome
        current = outcome.job.status if outcome.job else None
        log.info("job already being handled", extra={"job_id": ref.job_id, "status": str(current)})
        kind: OutcomeKind = "BUSY" if current is Status.WAITING else "DUPLICATE"
        return Outcome(kind, ref.sidecar_key, ref.job_id, str(current))


def _not_a_photo(manifest_key: str, image_key: str) -> ManifestError:
    """Why a file a manifest applies to is not swapped, and what to do about it."""
    name = "to the same folder" if keys.is_folder_manifest(manifest_key) else (
        "with its sidecar named after the new file"
    )
    if keys.is_own_output(image_key):
        return ManifestError(
            "image",
            f"{image_key} is named like one of dropswap's own outputs (*.swapped.<ext>, *.faces.json|html, "
            f"*.result.json), so it is a result, not a photo, and is never swapped again (no credit spent); "
            f"to swap it anyway, rename it without that suffix and upload it {name}",
            code=ErrorCode.OUTPUT_NAME,
        )
    ext = keys.extension(image_key)
    supported = ", ".join(f".{e}" for e in sorted(keys.IMAGE_EXTENSIONS))
    return ManifestError(
        "image",
        f"{image_key} is not a supported image type ({f'.{ext}' if ext else 'no extension'}); dropswap"
        f" swaps faces in {supported} photos: convert it, and upload it {name}",
        code=ErrorCode.UNSUPPORTED_TYPE,
    )

"""The ports the business logic reaches AWS and AKOOL through: small Protocols that job_store.JobStore,
object_store.ObjectStore and akool_client.AkoolClient satisfy, and that tests can replace. Each logic
module asks for the few it uses.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from dropswap.domain.akool import SubmitResult
from dropswap.domain.faces import DetectedFace
from dropswap.domain.jobs import Job, Status, TransitionResult


# -- the job store --------------------------------------------------------------------------------
class JobReader(Protocol):
    def get(self, job_id: str) -> Job | None: ...


class JobTransitions(Protocol):
    def transition(
        self,
        job_id: str,
        new_status: Status,
        *,
        set_fields: Mapping[str, Any] | None = None,
        expect_owner: str | None = None,
        expect_finaliser: str | None = None,
    ) -> TransitionResult: ...


class SubmitClaims(Protocol):
    """The submission claim: who may submit (or otherwise end) a WAITING job."""

    def claim(
        self, job_id: str, owner: str, lease_seconds: int, *, create_fields: Mapping[str, Any]
    ) -> TransitionResult: ...

    def release(self, job_id: str, owner: str) -> None: ...


class FinaliseLeases(Protocol):
    """The finalisation lease: who may finalise an open (SUBMITTED/PROCESSING) job."""

    def claim_finalisation(self, job_id: str, owner: str, lease_seconds: int) -> TransitionResult: ...

    def release_finalisation(self, job_id: str, owner: str) -> None: ...


class AkoolSlots(Protocol):
    """This account's AKOOL job slots (slot_store.SlotStore): who holds one, take one, give one back."""

    def holders(self) -> frozenset[str]: ...

    def take(self, job_id: str, limit: int) -> bool: ...

    def release(self, job_id: str) -> None: ...


class CreditCounter(Protocol):
    """AKOOL credits counted per UTC day (credit_store.CreditStore): one conditional write per swap call."""

    def spent(self, day: str) -> int: ...

    def spend(self, day: str, credits: int, per_day: int) -> bool:
        """Count `credits` on `day` if they fit in `per_day` (0: no limit, always counted); False: they
        do not fit, nothing was counted."""
        ...

    def refund(self, day: str, credits: int) -> None: ...


class WaitingIndex(Protocol):
    def jobs_waiting_for(self, key: str) -> list[str]: ...


class DetectionCache(Protocol):
    """The faces found in one version of a source image, for every job that uses it (detections.py)."""

    def cached_faces(self, cache_id: str) -> list[DetectedFace] | None: ...

    def cache_faces(self, cache_id: str, faces: Sequence[DetectedFace], *, source: str) -> None: ...


# -- the object store -----------------------------------------------------------------------------
class ReportSink(Protocol):
    def put_json(self, key: str, document: Any) -> None: ...


class ResultsFolder(ReportSink, Protocol):
    """The public names under results/: reports written, an older job's swapped image removed; and the
    current versions of the inputs under inbox/ (latest.py: is a job still the latest of its photo?)."""

    def delete(self, key: str) -> None: ...

    def head(self, key: str, bucket: str | None = None) -> ObjectInfo | None: ...


class InputReader(Protocol):
    """Reads of the user's uploads (sidecars and inputs), and URLs AKOOL can fetch them by."""

    def head(self, key: str, bucket: str | None = None) -> ObjectInfo | None: ...

    def read_small(self, key: str, max_bytes: int, bucket: str | None = None) -> SmallObject | None: ...

    def presign_get(self, key: str, expires_seconds: int, bucket: str | None = None) -> str: ...


class FolderListing(Protocol):
    """The keys directly in a folder of the drop bucket (a folder manifest's photos)."""

    def list_folder(self, folder: str, page_size: int = 1000) -> Iterator[str]: ...


class ObjectChanged(Exception):
    """An object is no longer the version a conditional read or copy named (replaced or deleted)."""


class InputContent(Protocol):
    """Ranged reads of an input's bytes (image_header.py checks them)."""

    def read_range(
        self, key: str, byte_range: str, *, bucket: str | None = None, if_match: str | None = None
    ) -> SmallObject | None: ...


class Staging(Protocol):
    """Pinned copies of checked inputs under staging/, which AKOOL fetches instead of the originals."""

    def copy_pinned(
        self, src_key: str, etag: str, dest_key: str, *, src_bucket: str | None = None
    ) -> None: ...


# -- events ---------------------------------------------------------------------------------------
class JobEvents(Protocol):
    """Where completion events go (event_bus.EventBus): one per terminal job (job_events.py)."""

    def publish(self, detail_type: str, detail: Mapping[str, Any]) -> None: ...


# -- queues ---------------------------------------------------------------------------------------
class MessageSink(Protocol):
    """A queue to send to (queues.SqsQueue)."""

    def send(self, body: str, delay_seconds: int = 0) -> None: ...


class BatchSink(Protocol):
    """A queue to send many messages to at once (queues.SqsQueue)."""

    def send_batch(self, bodies: Sequence[str]) -> None: ...


# -- AKOOL ----------------------------------------------------------------------------------------
class SwapApi(Protocol):
    """AKOOL's detector and its two swap endpoints (docs/akool.md §2–§3)."""

    def detect_faces(self, *, url: str | None = None) -> list[DetectedFace]: ...

    def faceswap_pro(
        self,
        source_images: Sequence[Mapping[str, str]],
        target_images: Sequence[Mapping[str, str]],
        *,
        face_enhance: bool,
        webhook_url: str,
    ) -> SubmitResult: ...

    def faceswap_v3(
        self,
        modify_image: str,
        source_images: Sequence[Mapping[str, str]],
        target_images: Sequence[Mapping[str, str]],
        *,
        face_enhance: bool,
        webhook_url: str,
    ) -> SubmitResult: ...


@dataclass(frozen=True)
class ObjectInfo:
    bucket: str
    key: str
    size: int
    etag: str
    content_type: str
    version_id: str | None = None

    @property
    def version(self) -> str:
        """The object's identity for job ids: the version id when versioning is on, else the ETag."""
        return self.version_id or self.etag


@dataclass(frozen=True)
class SmallObject:
    info: ObjectInfo
    data: bytes | None  # None: larger than the limit the caller gave

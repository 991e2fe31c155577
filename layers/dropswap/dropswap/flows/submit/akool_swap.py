"""The AKOOL side of one submission: detect faces (the photo first, then every source: no swap is sent
with an image that shows no face), plan (planning.py), then send the swap.

Each image is asked about once per job, and a source once per version for all jobs (detections.py): the
Detector answers from what the job kept, then from the shared cache of source versions, and only then
asks AKOOL. AKOOL errors go up as they are (the caller tells retryable from final), except the detector's
own refusals of an image, which are the user's input to fix (UNREADABLE_IMAGE).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from dropswap.domain import planning
from dropswap.domain.akool import AkoolError, SubmitResult
from dropswap.domain.detections import Detections, ImageRef
from dropswap.domain.error_codes import ErrorCode
from dropswap.domain.faces import DetectedFace, FaceSelectionError
from dropswap.domain.manifest import Manifest, ManifestError
from dropswap.domain.planning import Plan
from dropswap.domain.ports import DetectionCache, SwapApi


class Detector:
    """AKOOL's detector for one job: what the job already knows (`kept`, from its record), then the cache
    of source versions, then AKOOL. `kept.calls` counts the job's detect requests (the report's cost);
    `changed`: `kept` has news to write back on the job."""

    def __init__(
        self, akool: SwapApi, kept: Detections | None = None, cache: DetectionCache | None = None
    ) -> None:
        self._akool = akool
        self._cache = cache
        self.kept = kept if kept is not None else Detections()
        self.changed = False

    @property
    def calls(self) -> int:
        return self.kept.calls

    def faces(self, image: ImageRef, field: str) -> list[DetectedFace]:
        known = self.kept.faces.get(image.kept_as)
        if known is not None:
            return known
        found = self._cache.cached_faces(image.cache_id) if self._cache and image.cache_id else None
        if found is None:
            self.kept.calls += 1
            found = detect(self._akool, image.url, field)
            if self._cache is not None and image.cache_id is not None:
                self._cache.cache_faces(image.cache_id, found, source=image.kept_as)
        self.kept.faces[image.kept_as] = found
        self.changed = True
        return found


def plan_swap(
    detector: Detector, manifest: Manifest, photo: ImageRef, sources: Mapping[int, ImageRef]
) -> Plan:
    """The plan for `manifest`. The photo is detected first, so a photo without a face (or without the
    faces the targets name) is REJECTED before anything else; then every source, each once, and each must
    show a face (NO_FACE naming every one that does not), whatever the engine: Pro given a faceless face
    image would take the credit and fail."""
    in_photo = detector.faces(photo, "image")
    urls = {i: s.url for i, s in sources.items()}
    # The targets are chosen before any source is detected: a target error costs no more detections.
    chosen = planning.shortcut(manifest, in_photo, photo.url, urls) or planning.pick(manifest, in_photo)
    located = _source_faces(detector, manifest, sources)
    if isinstance(chosen, planning.Picked):
        chosen = planning.request(chosen, photo.url, urls, located)
    return replace(chosen, detect_calls=detector.calls)


def _source_faces(
    detector: Detector, manifest: Manifest, sources: Mapping[int, ImageRef]
) -> dict[str, DetectedFace]:
    """The face each distinct source gives (its largest), by `Source.describe()`; all faceless at once."""
    located: dict[str, DetectedFace] = {}
    problems: list[FaceSelectionError] = []
    seen: set[str] = set()
    for swap in manifest.swaps:
        image = sources[swap.index]
        if image.kept_as in seen:
            continue
        seen.add(image.kept_as)
        try:
            located[swap.source.describe()] = planning.source_face(
                swap, detector.faces(image, f"{swap.field}.source")
            )
        except FaceSelectionError as exc:
            problems.append(exc)
    if problems:
        raise _all_of(problems)
    return located


def _all_of(errors: list[FaceSelectionError]) -> FaceSelectionError:
    """Every faceless source at once (the first's field and code), as ManifestError.all_of does."""
    first = errors[0]
    if len(errors) == 1:
        return first
    others = "; ".join(str(e) for e in errors[1:])
    return FaceSelectionError(first.field, f"{first.message}; also {others}", code=first.code)


def send(akool: SwapApi, plan: Plan, image_url: str, *, face_enhance: bool, webhook_url: str) -> SubmitResult:
    if plan.engine == "pro":
        return akool.faceswap_pro(
            plan.sources, plan.targets, face_enhance=face_enhance, webhook_url=webhook_url
        )
    return akool.faceswap_v3(
        image_url, plan.sources, plan.targets, face_enhance=face_enhance, webhook_url=webhook_url
    )


def detect(akool: SwapApi, url: str, field: str) -> list[DetectedFace]:
    try:
        return akool.detect_faces(url=url)
    except AkoolError as exc:
        # The detector's own refusals (no business code, not transient) mean it cannot read
        # this image: the user's input to fix. Account errors (a code) and retryables go up.
        if exc.retryable or exc.code is not None:
            raise
        raise ManifestError(
            field,
            f"AKOOL could not read this image ({exc.message}); check that it is a valid photo",
            code=ErrorCode.UNREADABLE_IMAGE,
        ) from None

"""The AKOOL side of one submission: detect faces (the photo always, sources when the plan needs
their landmarks: planning.py), then send the swap.

AKOOL errors go up as they are (the caller tells retryable from final), except the detector's own
refusals of an image, which are the user's input to fix (UNREADABLE_IMAGE).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from dropswap.domain import planning
from dropswap.domain.akool import AkoolError, SubmitResult
from dropswap.domain.error_codes import ErrorCode
from dropswap.domain.faces import DetectedFace
from dropswap.domain.manifest import Manifest, ManifestError
from dropswap.domain.planning import Plan
from dropswap.domain.ports import SwapApi


class Detector:
    """AKOOL's detector for one job, counting its requests (what detection cost goes in the report)."""

    def __init__(self, akool: SwapApi) -> None:
        self._akool = akool
        self.calls = 0

    def faces(self, url: str, field: str) -> list[DetectedFace]:
        self.calls += 1
        return detect(self._akool, url, field)


def plan_swap(detector: Detector, manifest: Manifest, image_url: str, source_urls: Mapping[int, str]) -> Plan:
    """The plan for `manifest`. The photo is always detected first, so a photo without a face is
    REJECTED (NO_FACE) before any swap; sources only when the plan needs their landmarks."""
    in_photo = detector.faces(image_url, "image")
    plan = planning.shortcut(manifest, in_photo, image_url, source_urls)
    if plan is None:
        picked = planning.pick(manifest, in_photo)
        located: dict[str, DetectedFace] = {}
        for swap in picked.sources_to_locate():
            found = detector.faces(source_urls[swap.index], f"{swap.field}.source")
            located[swap.source.describe()] = planning.source_face(swap, found)
        plan = planning.request(picked, image_url, source_urls, located)
    return replace(plan, detect_calls=detector.calls)


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

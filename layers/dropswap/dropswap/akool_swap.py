"""The AKOOL side of one submission: detect the faces the plan needs (planning.py), then send the swap.

AKOOL errors go up as they are (the caller tells retryable from final), except the detector's own
refusals of an image, which are the user's input to fix (UNREADABLE_IMAGE).
"""

from __future__ import annotations

from collections.abc import Mapping

from dropswap import planning
from dropswap.akool_client import AkoolError, SubmitResult
from dropswap.error_codes import ErrorCode
from dropswap.faces import DetectedFace
from dropswap.manifest import Manifest, ManifestError
from dropswap.planning import Plan
from dropswap.ports import SwapApi


def plan_swap(akool: SwapApi, manifest: Manifest, image_url: str, source_urls: Mapping[int, str]) -> Plan:
    """The plan for `manifest`, asking AKOOL's detector only for what the plan needs."""
    plan = planning.shortcut(manifest, image_url, source_urls)
    if plan is not None:
        return plan
    picked = planning.pick(manifest, detect(akool, image_url, "image"))
    located: dict[str, DetectedFace] = {}
    for swap in picked.sources_to_locate():
        found = detect(akool, source_urls[swap.index], f"{swap.field}.source")
        located[swap.source.describe()] = planning.source_face(swap, found)
    return planning.request(picked, image_url, source_urls, located)


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

"""Near-miss hints on the local stack, acting as a user (issue 18 item 2): a WAITING report for a missing
input says "did you mean …" when a photo of its folder differs by extension or a small misspelling, and a
sidecar that names no photo is answered at once. The report's `expires_at` belongs to the live states
(helper `live`), not asserted here."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.integration.helpers import ASTRONAUT, HOPPER, User

pytestmark = pytest.mark.integration


def _waiting(user: User, image: str, timeout: float = 120.0) -> dict[str, Any]:
    """The photo's report once it is WAITING (it is written at once; the wait is the pipeline's latency)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = user.report(image)
        if last and last["status"] == "WAITING":
            return last
        time.sleep(0.3)
    raise AssertionError(f"no WAITING report for {image} within {timeout}s; last: {last}")


def _missing(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The missing inputs: `missing` by the live-states contract (issue 18), the `waiting_for` list before."""
    entries = report.get("missing", report["waiting_for"])
    assert isinstance(entries, list), report
    return entries


def test_given_a_jpeg_photo_and_a_sidecar_for_jpg_then_waiting_report_says_did_you_mean(user: User) -> None:
    # Given the face, the camera's IMG_1.jpeg, and a sidecar written for IMG_1.jpg
    user.put(user.prefix + "faces/hopper.jpg", HOPPER)
    user.put(user.prefix + "IMG_1.jpeg", ASTRONAUT)
    image = user.prefix + "IMG_1.jpg"
    user.put_sidecar(image, {"version": 1, "swaps": [{"source": "faces/hopper.jpg", "target": 0}]})
    # Then the WAITING report for IMG_1.jpg names IMG_1.jpeg, and the sidecar name to use
    [photo] = _missing(_waiting(user, image))
    assert photo["field"] == "image"
    assert photo["did_you_mean"] == [f"s3://{user.bucket}/{user.prefix}IMG_1.jpeg"]
    assert photo["hint"].startswith("did you mean 'IMG_1.jpeg'?"), photo
    assert "rename it to 'IMG_1.jpeg.faceswap.json'" in photo["hint"]
    assert user.submissions() == []


def test_given_a_misspelt_source_then_waiting_report_says_did_you_mean_the_right_name(user: User) -> None:
    # Given the face hopper.jpg, and a photo whose sidecar names faces/hoper.jpg
    user.put(user.prefix + "faces/hopper.jpg", HOPPER)
    image = user.prefix + "team.jpg"
    user.put(image, ASTRONAUT)
    user.put_sidecar(image, {"version": 1, "swaps": [{"source": "faces/hoper.jpg", "target": "largest"}]})
    # Then the WAITING report names faces/hopper.jpg as the manifest would write it
    [source] = _missing(_waiting(user, image))
    assert source["field"] == "swaps[0].source"
    assert source["key"] == f"s3://{user.bucket}/{user.prefix}faces/hoper.jpg"
    assert source["did_you_mean"] == [f"s3://{user.bucket}/{user.prefix}faces/hopper.jpg"]
    assert source["hint"].startswith("did you mean 'faces/hopper.jpg'?"), source
    assert user.submissions() == []


def test_given_a_sidecar_naming_no_photo_pattern_then_rejected_at_once_with_the_near_miss(user: User) -> None:
    # Given the photo noext.jpg, and a sidecar uploaded as noext.faceswap.json
    user.put(user.prefix + "noext.jpg", ASTRONAUT)
    user.put_sidecar(user.prefix + "noext", {"version": 1, "swaps": [{"source": "a.jpg", "target": 0}]})
    # Then its report says at once that it names no photo, and which one it likely meant
    report = user.wait_report(user.prefix + "noext")
    assert report["status"] == "REJECTED" and report["error"]["code"] == "UNSUPPORTED_TYPE", report
    message = report["error"]["message"]
    assert "did you mean 'noext.jpg'?" in message and "rename it to 'noext.jpg.faceswap.json'" in message
    assert user.submissions() == []

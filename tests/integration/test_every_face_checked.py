"""Every face is checked before a swap (issue 17, item 1), on the local stack acting as a user, with the
AKOOL emulator's request log as the witness: a face file without a face costs no swap call, and no image
is detected twice (a retried job keeps its detections; photos sharing one face detect it once)."""

from __future__ import annotations

from typing import Any

import pytest

from devkit import images
from tests.integration.helpers import ASTRONAUT, COLLAGE, HOPPER, User

pytestmark = pytest.mark.integration

# A real, complete JPEG (a gradient) in which the emulator's real detector finds no face: `--face cat.jpg`.
FACELESS = images.jpeg()


@pytest.mark.parametrize("target", ["largest", 0], ids=["largest", "index"])
def test_given_a_faceless_face_file_when_dropped_then_rejected_no_face_with_zero_swap_calls(
    user: User, target: Any
) -> None:
    # Given a photo with a face, and as the face to swap in a real image that has none
    face = user.prefix + "faces/cat.jpg"
    user.put(face, FACELESS)
    image = user.prefix + "team.jpg"
    user.put(image, ASTRONAUT)
    # When its sidecar asks for one face: Pro's single-face path, where the face's landmarks are not needed
    user.put_sidecar(image, {"version": 1, "swaps": [{"source": "faces/cat.jpg", "target": target}]})
    # Then the report says REJECTED NO_FACE, naming the face file
    report = user.wait_report(image)
    assert report["status"] == "REJECTED" and report["error"]["code"] == "NO_FACE", report
    assert f"swaps[0].source: no face found in s3://{user.bucket}/{face}" in report["error"]["message"]
    # And AKOOL's log shows the photo and the face each detected once, and not one swap call
    assert user.submissions() == []
    assert len(user.detections()) == 2 == report["akool"]["detect_calls"]


def test_given_akool_busy_at_the_first_submit_when_the_job_is_retried_then_no_image_is_detected_again(
    user: User,
) -> None:
    # Given AKOOL answers "Operation is too frequent" (1005) to the next submission, and a v3 swap (whose
    # plan needs the landmarks of the photo and of the face)
    user.put(user.prefix + "faces/hopper.jpg", HOPPER)
    user.admin("POST", "faults", {"submit_error": {"code": 1005, "count": 1}})
    image = user.prefix + "team.jpg"
    user.put(image, ASTRONAUT)
    # When the user drops the sidecar (its message comes back after the backoff, and the job is retried)
    swaps = [{"source": "faces/hopper.jpg", "target": 0}]
    user.put_sidecar(image, {"version": 1, "swaps": swaps, "engine": "v3"})
    report = user.wait_report(image, timeout=180.0)
    # Then the job succeeded at its second submission, having detected the photo and the face once each
    assert report["status"] == "SUCCEEDED", report
    assert len(user.submissions()) == 2
    assert len(user.detections()) == 2 == report["akool"]["detect_calls"]


def test_given_photos_sharing_one_face_then_the_face_is_detected_once(user: User) -> None:
    # Given one face file, and three photos dropped one after the other, each with a sidecar naming it
    user.put(user.prefix + "faces/hopper.jpg", HOPPER)
    photos = [user.prefix + n for n in ("a.jpg", "b.jpg", "c.jpg")]
    reports = []
    for photo, body in zip(photos, (ASTRONAUT, COLLAGE, ASTRONAUT), strict=True):
        user.put(photo, body)
        user.put_sidecar(photo, {"version": 1, "swaps": [{"source": "faces/hopper.jpg", "target": 0}]})
        # When each job has ended
        reports.append(user.wait_report(photo, timeout=180.0))
    # Then all succeeded, and AKOOL detected each photo once and the face only for the first job
    assert [r["status"] for r in reports] == ["SUCCEEDED"] * 3, reports
    assert [r["akool"]["detect_calls"] for r in reports] == [2, 1, 1]
    assert len(user.detections()) == 4

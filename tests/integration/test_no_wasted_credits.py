"""No AKOOL swap credit on an input that cannot succeed, and AKOOL gets exactly the bytes that were
checked: on the local stack, acting as a user, with the emulator's request log as the witness."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from devkit import images
from local.emulator import engine
from tests.integration.helpers import ASTRONAUT, COLLAGE, HOPPER, User

pytestmark = pytest.mark.integration

ONE_SWAP = {"version": 1, "swaps": [{"source": "faces/hopper.jpg", "target": "largest"}]}
DETECT_PATH = "/interface/detect-api/detect_faces"


def _detections(user: User) -> list[dict[str, Any]]:
    return [e for e in user.admin("GET", "requests")["requests"] if e.get("path") == DETECT_PATH]


@pytest.mark.parametrize(
    ("photo", "code", "detections"),
    [
        # A real, complete photo without a face: one detection of the photo, then no swap.
        (images.jpeg(), "NO_FACE", 1),
        (ASTRONAUT[: len(ASTRONAUT) * 6 // 10], "TRUNCATED_IMAGE", 0),
        (images.HTML_NAMED_JPG, "NOT_AN_IMAGE", 0),
        (images.png_pixel_bomb(), "TOO_MANY_PIXELS", 0),
    ],
    ids=["faceless", "truncated-jpeg", "html-named-jpg", "pixel-bomb"],
)
def test_given_photo_that_cannot_succeed_when_dropped_then_rejected_with_zero_swap_calls(
    user: User, photo: bytes, code: str, detections: int
) -> None:
    # Given a face source; When the user drops a photo that cannot succeed (named .jpg) and its sidecar
    # asking for the largest face (where detection used to be skipped)
    user.put(user.prefix + "faces/hopper.jpg", HOPPER)
    image = user.prefix + "team.jpg"
    user.put(image, photo)
    user.put_sidecar(image, ONE_SWAP)
    # Then the report says REJECTED with the code that says what to fix
    report = user.wait_report(image)
    assert report["status"] == "REJECTED", report
    assert report["error"]["code"] == code, report
    # And AKOOL's request log shows no swap submission at all, and detection only for the faceless photo
    assert user.submissions() == []
    assert len(_detections(user)) == detections
    assert report["akool"].get("detect_calls", 0) == detections


def test_given_photo_replaced_right_after_submission_then_akool_swapped_the_checked_photo(user: User) -> None:
    # Given AKOOL fetches inputs a while after accepting a job (realistic mode: queued for 2 s first)
    user.admin("POST", "mode", {"mode": "realistic"})
    user.put(user.prefix + "faces/hopper.jpg", HOPPER)
    image = user.prefix + "team.jpg"
    user.put(image, ASTRONAUT)
    # When the user drops the sidecar, and replaces the photo as soon as the job is submitted
    user.put_sidecar(image, ONE_SWAP)
    deadline = time.monotonic() + 120
    while not user.submissions():
        assert time.monotonic() < deadline, "the job was never submitted"
        time.sleep(0.05)
    user.put(image, COLLAGE)
    # Then the job AKOOL ran swapped the photo as it was checked (the astronaut), not the replacement
    [submission] = user.submissions()
    job = _finished_akool_job(user, submission["job_id"])
    assert job["status"] == 3, job
    result = requests.get(job["result_url"], timeout=10, verify=str(user.stack.tls.bundle))
    result.raise_for_status()
    out = engine.decode_image(result.content)
    assert out.shape == engine.decode_image(ASTRONAUT).shape != engine.decode_image(COLLAGE).shape
    # And what AKOOL was given is a private copy, never the user's inbox key
    target = submission["entry"]["body"]["targetImage"][0]["path"]
    assert "/staging/" in target and "/inbox/" not in target.split("/staging/", 1)[0]


def _finished_akool_job(user: User, job_id: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        jobs = [j for j in user.admin("GET", "jobs")["jobs"]
                if job_id in str(j.get("inputs", {}).get("webhookUrl", ""))]
        if jobs and jobs[0]["status"] in (3, 4):
            found: dict[str, Any] = jobs[0]
            return found
        assert time.monotonic() < deadline, f"AKOOL job of {job_id} not finished: {jobs}"
        time.sleep(0.2)

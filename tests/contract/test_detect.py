"""detect_faces on real photos: response shapes for url and img input, crops, and the documented errors."""

from __future__ import annotations

import base64
from typing import Any

import cv2
import numpy as np
import pytest
import requests

from devkit import photos
from tests.contract.helpers import DETECT, Akool, ImageServer


def frame_of(answer: dict[str, Any]) -> dict[str, Any]:
    assert answer["error_code"] == 0, answer
    assert answer["error_msg"] == "SUCCESS"
    assert list(answer["faces_obj"]) == ["0"]  # an image has only frame "0"
    frame: dict[str, Any] = answer["faces_obj"]["0"]
    return frame


def assert_frame_shape(frame: dict[str, Any], faces: int) -> None:
    assert frame["frame_time"] is None
    assert frame["removed"] == []
    assert len(frame["landmarks"]) == len(frame["landmarks_str"]) == len(frame["region"]) == faces
    for points, text, region in zip(frame["landmarks"], frame["landmarks_str"], frame["region"], strict=True):
        assert len(points) == 6 and all(len(p) == 2 and all(isinstance(v, int) for v in p) for p in points)
        assert text == ":".join(f"{x},{y}" for x, y in points[:4])
        x, y, w, h = region
        assert w > 0 and h > 0
        # The eyes lie inside the face box, left eye (smaller x) first.
        assert points[0][0] < points[1][0]
        assert all(x <= px <= x + w and y <= py <= y + h for px, py in points[:2])


def test_detect_by_url(akool: Akool, images: ImageServer) -> None:
    # Given the astronaut photo at a loopback URL
    # When detect_faces is called with url
    resp = akool.post(DETECT, {"url": f"{images.url}/astronaut.jpg"})
    # Then HTTP 200 with one face in frame "0" and no crop fields
    assert resp.status_code == 200
    frame = frame_of(resp.json())
    assert_frame_shape(frame, 1)
    assert "face_urls" not in frame


@pytest.mark.parametrize("data_uri", [False, True])
def test_detect_by_base64_img(akool: Akool, data_uri: bool) -> None:
    # Given the Grace Hopper photo as base64, plain or as a data URI
    encoded = base64.b64encode(photos.jpeg_bytes(photos.grace_hopper_bgr())).decode()
    img = f"data:image/jpeg;base64,{encoded}" if data_uri else encoded
    # When detect_faces is called with img
    answer = akool.post(DETECT, {"img": img}).json()
    # Then one face is found
    assert_frame_shape(frame_of(answer), 1)


def test_url_wins_over_img(akool: Akool, images: ImageServer) -> None:
    # Given a url with two faces and an img with one
    img = base64.b64encode(photos.jpeg_bytes(photos.astronaut_bgr())).decode()
    # When both are sent
    frame = frame_of(akool.post(DETECT, {"url": f"{images.url}/collage.jpg", "img": img}).json())
    # Then the url is used: two faces, ordered left to right
    assert_frame_shape(frame, 2)
    assert frame["region"][0][0] < frame["region"][1][0]


def test_single_face_keeps_the_largest(akool: Akool, images: ImageServer) -> None:
    # Given the collage (Hopper's face is the larger one, on the left)
    url = f"{images.url}/collage.jpg"
    both = frame_of(akool.post(DETECT, {"url": url}).json())
    # When single_face is true
    one = frame_of(akool.post(DETECT, {"url": url, "single_face": True}).json())
    # Then only the largest face by area is returned
    areas = [w * h for _, _, w, h in both["region"]]
    assert_frame_shape(one, 1)
    assert one["region"][0] == both["region"][areas.index(max(areas))]


def test_return_face_url_gives_crops(akool: Akool, images: ImageServer) -> None:
    # Given the two-face collage
    # When return_face_url is true
    frame = frame_of(akool.post(DETECT, {"url": f"{images.url}/collage.jpg", "return_face_url": True}).json())
    assert_frame_shape(frame, 2)
    # Then each face has a crop URL served by the emulator, its crop_region and crop_landmarks
    for i in range(2):
        cx, cy, cw, ch = frame["crop_region"][i]
        expected = ":".join(f"{x - cx},{y - cy}" for x, y in frame["landmarks"][i][:4])
        assert frame["crop_landmarks"][i] == expected  # landmarks minus the crop origin
        crop = requests.get(frame["face_urls"][i], timeout=5)
        assert crop.status_code == 200
        assert crop.headers["Content-Type"] == "image/png"
        decoded = cv2.imdecode(np.frombuffer(crop.content, np.uint8), cv2.IMREAD_COLOR)
        assert decoded.shape[:2] == (ch, cw)


def test_crop_urls_need_no_auth_and_unknown_ones_are_404(akool: Akool, images: ImageServer) -> None:
    # Given a crop URL from detect_faces
    frame = frame_of(akool.post(DETECT, {"url": f"{images.url}/hopper.jpg", "return_face_url": True}).json())
    # When it is fetched without credentials, and a made-up crop id is fetched
    ok = requests.get(frame["face_urls"][0], timeout=5)
    missing = requests.get(f"{akool.url}/crops/{'0' * 24}.png", timeout=5)
    # Then the first is served and the second is 404
    assert ok.status_code == 200
    assert missing.status_code == 404


def test_given_truncated_photo_when_detecting_then_500_failed_to_process_media(akool: Akool) -> None:
    # Given a JPEG of a real face cut off at 60% (an interrupted upload)
    whole = photos.jpeg_bytes(photos.grace_hopper_bgr())
    cut = whole[: int(len(whole) * 0.6)]
    # When detect_faces gets it, and the whole photo
    resp = akool.post(DETECT, {"img": base64.b64encode(cut).decode()})
    ok = akool.post(DETECT, {"img": base64.b64encode(whole).decode()})
    # Then AKOOL's answer for media it cannot process (akool-api.md §3a), while the whole photo has a face
    assert resp.status_code == 500
    assert resp.json() == {"error_code": 1, "error_msg": "Failed to process media", "faces_obj": {}}
    assert ok.status_code == 200 and len(frame_of(ok.json())["region"]) == 1


@pytest.mark.parametrize(
    ("body", "status", "msg"),
    [
        ({}, 400, "Either 'url' or 'img' parameter must be provided"),
        ({"url": "", "img": ""}, 400, "Either 'url' or 'img' parameter must be provided"),
        ({"url": "not a url"}, 400, "Invalid URL format"),
        ({"url": "ftp://127.0.0.1/a.jpg"}, 400, "Invalid URL format"),
        ({"img": "!!! not base64 !!!"}, 400, "Media type detection failed"),
        ({"img": base64.b64encode(b"plain text, not an image").decode()}, 400, "Media type detection failed"),
        (
            {"img": base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 64).decode()},
            500,
            "Failed to process media",
        ),
        (
            {"img": "aGVsbG8=", "num_frames": 0},
            400,
            "Invalid parameter: num_frames must be an integer from 1 to 100",
        ),
        ({"img": "aGVsbG8=", "single_face": "yes"}, 400, "Invalid parameter: single_face must be a boolean"),
    ],
)
def test_detect_input_errors(akool: Akool, body: dict[str, Any], status: int, msg: str) -> None:
    # Given a request with missing, malformed or undecodable input
    # When detect_faces is called
    resp = akool.post(DETECT, body)
    # Then the documented error body with the matching HTTP status
    assert resp.status_code == status
    assert resp.json() == {"error_code": 1, "error_msg": msg, "faces_obj": {}}


@pytest.mark.parametrize(
    ("name", "status", "msg"),
    [
        ("missing.jpg", 400, "Failed to download media from URL"),
        ("garbage.jpg", 400, "Media type detection failed"),
        ("blank.jpg", 400, "No faces detected"),
    ],
)
def test_detect_url_errors(akool: Akool, images: ImageServer, name: str, status: int, msg: str) -> None:
    # Given a URL that 404s, serves no image, or an image without faces
    # When detect_faces is called
    resp = akool.post(DETECT, {"url": f"{images.url}/{name}"})
    # Then the documented error
    assert resp.status_code == status
    assert resp.json() == {"error_code": 1, "error_msg": msg, "faces_obj": {}}


def test_detect_refuses_non_loopback_urls(akool: Akool) -> None:
    # Given a URL on the internet (no internet here; the allow-list is loopback by default)
    # When detect_faces is called
    resp = akool.post(DETECT, {"url": "https://example.com/face.jpg"})
    # Then it fails as a download failure, without any network access
    assert resp.status_code == 400
    assert resp.json()["error_msg"] == "Failed to download media from URL"


def test_detect_blank_base64_has_no_faces(akool: Akool) -> None:
    # Given a face-less image as base64
    img = base64.b64encode(photos.jpeg_bytes(np.full((64, 64, 3), 200, np.uint8))).decode()
    # When detect_faces is called
    resp = akool.post(DETECT, {"img": img})
    # Then "No faces detected"
    assert resp.status_code == 400
    assert resp.json()["error_msg"] == "No faces detected"

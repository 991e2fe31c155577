"""POST /interface/detect-api/detect_faces (akool-api.md §3a) on the real face engine.

HTTP status per error (AKOOL documents 400 for input errors and 500 for processing errors):
- 400 "Either 'url' or 'img' parameter must be provided", "Invalid URL format",
  "Failed to download media from URL", "Media type detection failed" (bad base64, not an image),
  "No faces detected", "Invalid parameter: ..." (num_frames, single_face, return_face_url);
- 500 "Failed to process media": a recognised image the decoder rejects, or a video (the emulator does
  images only).
Detection always uses the real engine, also when swaps run in passthrough mode.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Any
from urllib.parse import urlsplit

from local.emulator import engine
from local.emulator.core import Emulator
from local.emulator.engine import EngineError, Face
from local.emulator.fetch import FetchError
from local.emulator.media import sniff_image_type
from local.emulator.validation import is_http_url

_VIDEO_EXTS = (".mp4", ".mov", ".avi", ".webm")
_DATA_URI = re.compile(r"data:[\w/+.-]*(;[\w=.-]+)*;base64,", re.IGNORECASE)


class DetectError(Exception):
    def __init__(self, http_status: int, msg: str) -> None:
        super().__init__(msg)
        self.http_status = http_status
        self.msg = msg


def error_body(msg: str) -> dict[str, Any]:
    return {"error_code": 1, "error_msg": msg, "faces_obj": {}}


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):  # the service is lax about 0/1, like pydantic
        return bool(value)
    raise DetectError(400, f"Invalid parameter: {name} must be a boolean")


def _looks_like_video(data: bytes, content_type: str, url: str | None) -> bool:
    if content_type.startswith("video/"):
        return True
    if url is not None and urlsplit(url).path.lower().endswith(_VIDEO_EXTS):
        return True
    return (
        data[4:8] == b"ftyp"
        or data.startswith(b"\x1a\x45\xdf\xa3")
        or (data[:4] == b"RIFF" and data[8:12] == b"AVI ")
    )


def _decode_base64(img: str) -> bytes:
    text = img.strip()
    match = _DATA_URI.match(text)
    if match:
        text = text[match.end() :]
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise DetectError(400, "Media type detection failed") from None


def _points(points: tuple[tuple[int, int], ...], dx: int = 0, dy: int = 0) -> str:
    return ":".join(f"{x - dx},{y - dy}" for x, y in points[:4])


def detect_faces(emu: Emulator, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The detector's JSON answer and its HTTP status."""
    try:
        return _detect(emu, body), 200
    except DetectError as exc:
        return error_body(exc.msg), exc.http_status


def _detect(emu: Emulator, body: dict[str, Any]) -> dict[str, Any]:
    url, img = body.get("url"), body.get("img")
    if url in (None, "") and img in (None, ""):
        raise DetectError(400, "Either 'url' or 'img' parameter must be provided")
    single_face = _flag(body, "single_face")
    return_face_url = _flag(body, "return_face_url")
    num_frames = body.get("num_frames", 5)
    if isinstance(num_frames, bool) or not isinstance(num_frames, int) or not 1 <= num_frames <= 100:
        raise DetectError(400, "Invalid parameter: num_frames must be an integer from 1 to 100")

    content_type = ""
    if url not in (None, ""):  # url wins when both are given
        if not is_http_url(url):
            raise DetectError(400, "Invalid URL format")
        try:
            fetched = emu.fetcher.fetch(url)
        except FetchError:
            raise DetectError(400, "Failed to download media from URL") from None
        data, content_type = fetched.data, fetched.content_type
    else:
        if not isinstance(img, str):
            raise DetectError(400, "Media type detection failed")
        data = _decode_base64(img)
        url = None

    if sniff_image_type(data) is None:
        if _looks_like_video(data, content_type, url):
            raise DetectError(500, "Failed to process media")
        raise DetectError(400, "Media type detection failed")
    try:
        image = engine.decode_image(data)
        faces = engine.detect(image, emu.config.max_faces)
    except EngineError:
        raise DetectError(500, "Failed to process media") from None
    if not faces:
        raise DetectError(400, "No faces detected")
    if single_face:
        faces = [max(faces, key=lambda f: f.region[2] * f.region[3])]

    frame: dict[str, Any] = {
        "landmarks": [[[x, y] for x, y in f.landmarks] for f in faces],
        "landmarks_str": [f.landmarks_str for f in faces],
        "region": [list(f.region) for f in faces],
        "frame_time": None,
        "removed": [],
    }
    if return_face_url:
        frame.update(_crops(emu, image, faces, hashlib.sha256(data).hexdigest()))
    return {"error_code": 0, "error_msg": "SUCCESS", "faces_obj": {"0": frame}}


def _crops(emu: Emulator, image: engine.Image, faces: list[Face], origin_sha: str) -> dict[str, Any]:
    urls: list[str] = []
    regions: list[list[int]] = []
    crop_landmarks: list[str] = []
    for face in faces:
        try:
            crop_img, region = engine.crop_face(image, face)
            png = engine.encode_image(crop_img, ".png")
        except EngineError:
            raise DetectError(500, "Failed to process media") from None
        crop = emu.crops.add(png, region, face.landmarks_str, origin_sha)
        urls.append(f"{emu.base_url}/crops/{crop.id}.png")
        regions.append(list(region))
        crop_landmarks.append(_points(face.landmarks, region[0], region[1]))
    return {"face_urls": urls, "crop_region": regions, "crop_landmarks": crop_landmarks}

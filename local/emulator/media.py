"""Face crops served at /crops/<id>.png, and sniffing an image's type from its bytes."""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass

MAX_CROPS = 2000  # oldest crops are forgotten first (AKOOL's crops expire too)


@dataclass(frozen=True)
class Crop:
    id: str
    png: bytes
    region: tuple[int, int, int, int]  # crop_region [x, y, w, h] in the original image
    face_landmarks: str  # the face's landmarks_str in original-image coordinates
    origin_sha256: str  # hash of the original image bytes the crop was cut from


class CropStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._crops: OrderedDict[str, Crop] = OrderedDict()

    def add(
        self, png: bytes, region: tuple[int, int, int, int], face_landmarks: str, origin_sha256: str
    ) -> Crop:
        crop = Crop(secrets.token_hex(12), png, region, face_landmarks, origin_sha256)
        with self._lock:
            self._crops[crop.id] = crop
            while len(self._crops) > MAX_CROPS:
                self._crops.popitem(last=False)
        return crop

    def get(self, crop_id: str) -> Crop | None:
        with self._lock:
            return self._crops.get(crop_id)

    def clear(self) -> None:
        with self._lock:
            self._crops.clear()


def sniff_image_type(data: bytes) -> str | None:
    """The image media type from magic bytes, for the formats AKOOL's detector lists; None otherwise."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"BM"):
        return "image/bmp"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


_COM_MAX = 0xFFFF - 2  # payload bytes one JPEG comment segment can hold (its length field counts itself)


def pad_jpeg(data: bytes, size: int) -> bytes:
    """The same JPEG grown to at least `size` bytes with comment (COM) segments right after SOI: still a
    valid JPEG that decodes to the same pixels (load tests of big results). Returned unchanged when it is
    already that big or is not a JPEG."""
    missing = size - len(data)
    if missing <= 0 or not data.startswith(b"\xff\xd8"):
        return data
    chunk = b"\xff\xfe" + (_COM_MAX + 2).to_bytes(2, "big") + b"\0" * _COM_MAX
    count = -(-missing // len(chunk))  # whole segments: the result is at most one segment over `size`
    return b"".join((data[:2], chunk * count, data[2:]))

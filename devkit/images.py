"""Generated image files for the input checks (no photos): valid images of each supported type, and the
inputs that must never reach AKOOL (truncated, renamed text, pixel bombs). Plain functions, no pytest, and
no imaging library: tests/unit also runs on the python3.13 venv, which has none.

- PNG and BMP are written here from scratch (zlib, struct);
- JPEG and WebP need a real encoder, so they are small files in devkit/samples/: a 333×217 colour gradient
  made by `make_samples()` with Pillow (dev venv only; run it again to regenerate them).
"""

from __future__ import annotations

import struct
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parent / "samples"
SIZE = (333, 217)  # odd sizes catch swapped or off-by-one fields
# name → (format, mode, encoder options) of each sample in devkit/samples/
_SAMPLES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "gradient.jpg": ("JPEG", "RGB", {"quality": 40}),
    "gradient-progressive.jpg": ("JPEG", "RGB", {"quality": 40, "progressive": True}),
    "gradient-grey.jpg": ("JPEG", "L", {"quality": 40}),
    "gradient-lossy.webp": ("WEBP", "RGB", {"quality": 30}),
    "gradient-lossless.webp": ("WEBP", "RGB", {"lossless": True}),
    "gradient-alpha.webp": ("WEBP", "RGBA", {"quality": 30}),  # alpha: the extended (VP8X) header
}


def sample(name: str) -> bytes:
    """A file of devkit/samples/ (see _SAMPLES)."""
    return (SAMPLES / name).read_bytes()


def jpeg() -> bytes:
    return sample("gradient.jpg")


def png(width: int = SIZE[0], height: int = SIZE[1], *, alpha: bool = False) -> bytes:
    """A valid 8-bit RGB(A) PNG of a colour gradient."""
    channels = 4 if alpha else 3
    rows = []
    for y in range(height):
        px = bytearray()
        green = (y * 255) // max(height - 1, 1)
        for x in range(width):
            px += bytes(((x * 255) // max(width - 1, 1), green, 128, 255)[:channels])
        rows.append(b"\x00" + bytes(px))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6 if alpha else 2, 0, 0, 0)
    return _png(ihdr, zlib.compress(b"".join(rows)))


def bmp(width: int = SIZE[0], height: int = SIZE[1], *, top_down: bool = False) -> bytes:
    """A valid uncompressed 24-bit BMP of a colour gradient (rows bottom-up, or top-down)."""
    stride = (width * 3 + 3) // 4 * 4
    rows = b"".join(
        _bgr_row(width, (y * 255) // max(height - 1, 1)).ljust(stride, b"\x00")
        for y in range(height)
    )
    info = struct.pack("<IiiHHIIiiII", 40, width, -height if top_down else height, 1, 24, 0, len(rows),
                       2835, 2835, 0, 0)
    header = b"BM" + struct.pack("<IHHI", 14 + len(info) + len(rows), 0, 0, 14 + len(info))
    return header + info + rows


def _bgr_row(width: int, green: int) -> bytes:
    return bytes(c for x in range(width) for c in (128, green, (x * 255) // max(width - 1, 1)))


def with_big_metadata(jpeg_bytes: bytes, total: int = 300_000) -> bytes:
    """The JPEG with `total` bytes of APPn segments (e.g. an ICC profile) before its frame header."""
    segments = []
    left = total
    while left > 0:
        payload = bytes(range(256)) * 255 + bytes(range(253))  # 65533: the most one segment holds
        payload = payload[: min(left, len(payload))]
        segments.append(b"\xff\xe2" + struct.pack(">H", len(payload) + 2) + payload)
        left -= len(payload)
    return jpeg_bytes[:2] + b"".join(segments) + jpeg_bytes[2:]


def truncated(data: bytes, fraction: float = 0.6) -> bytes:
    """The first `fraction` of a file: an interrupted upload."""
    return data[: int(len(data) * fraction)]


@lru_cache(maxsize=2)
def png_pixel_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A valid 1-bit greyscale PNG of width × height, all black: a few hundred KB that decode to
    `width * height` pixels."""
    row = b"\x00" + bytes((width + 7) // 8)  # filter byte + packed pixels
    z = zlib.compressobj(1)
    full, rest = divmod(height, 1000)
    idat = b"".join(z.compress(row * 1000) for _ in range(full)) + z.compress(row * rest) + z.flush()
    return _png(struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0), idat)


def _png(ihdr: bytes, idat: bytes) -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + payload))
        return struct.pack(">I", len(payload)) + kind + payload + crc

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


HTML_NAMED_JPG = (
    b"<!DOCTYPE html>\n<html><head><title>team</title></head><body><img src=team.jpg></body></html>\n"
)
SVG_NAMED_JPG = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480">'
    b'<circle cx="320" cy="240" r="100"/></svg>\n'
)


def make_samples() -> None:  # pragma: no cover - run by hand in the dev venv to regenerate the files
    import io

    from PIL import Image

    w, h = SIZE
    gradient = Image.new("RGB", SIZE)
    gradient.putdata([((x * 255) // (w - 1), (y * 255) // (h - 1), 128) for y in range(h) for x in range(w)])
    SAMPLES.mkdir(exist_ok=True)
    for name, (fmt, mode, params) in _SAMPLES.items():
        buf = io.BytesIO()
        gradient.convert(mode).save(buf, fmt, **params)
        (SAMPLES / name).write_bytes(buf.getvalue())


# The picture `dropswap doctor --swap-sample` swaps (a drawing of a face, no photo of a person), shipped
# with the CLI so an installed `dropswap` has it.
DOCTOR_SAMPLE = Path(__file__).resolve().parents[1] / "dropswap_cli" / "samples" / "drawn-face.jpg"


def make_doctor_sample() -> None:  # pragma: no cover - run by hand in the dev venv to regenerate the file
    import cv2
    import numpy as np

    w = h = 512
    cx, cy = w // 2, h // 2
    img = np.full((h, w, 3), (200, 220, 235), np.uint8)  # BGR
    cv2.ellipse(img, (cx, cy), (130, 170), 0, 0, 360, (150, 180, 225), -1)  # the head
    for dx in (-55, 55):  # eyes, irises, brows
        cv2.ellipse(img, (cx + dx, cy - 40), (28, 14), 0, 0, 360, (255, 255, 255), -1)
        cv2.circle(img, (cx + dx, cy - 40), 10, (60, 40, 30), -1)
        cv2.ellipse(img, (cx + dx, cy - 75), (35, 8), 0, 180, 360, (50, 40, 40), -1)
    nose = np.array([[cx, cy - 20], [cx - 18, cy + 35], [cx + 18, cy + 35]], np.int32)
    cv2.polylines(img, [nose], False, (110, 140, 190), 4)
    cv2.ellipse(img, (cx, cy + 80), (50, 18), 0, 0, 180, (80, 80, 170), -1)  # the mouth
    img = np.asarray(cv2.GaussianBlur(img, (7, 7), 0), np.uint8)
    DOCTOR_SAMPLE.parent.mkdir(exist_ok=True)
    ok, data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    DOCTOR_SAMPLE.write_bytes(data.tobytes())

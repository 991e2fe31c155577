"""Generated image files for the input checks (no photos): valid images of each supported type, and the
inputs that must never reach AKOOL (truncated, renamed text, pixel bombs). Plain functions, no pytest."""

from __future__ import annotations

import io
import struct
import zlib
from functools import lru_cache

from PIL import Image


def encoded(fmt: str, size: tuple[int, int] = (64, 48), mode: str = "RGB", **params: object) -> bytes:
    """A generated picture (a gradient, so it compresses like an image, not like a flat colour)."""
    w, h = size
    img = Image.new(mode, size)
    if len(mode) > 1:
        img.putdata([
            ((x * 255) // max(w - 1, 1), (y * 255) // max(h - 1, 1), 128, 255)[: len(mode)]
            for y in range(h) for x in range(w)
        ])
    else:
        img.putdata([(x + y) % 256 for y in range(h) for x in range(w)])
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


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

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + payload))
        return struct.pack(">I", len(payload)) + kind + payload + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


HTML_NAMED_JPG = (
    b"<!DOCTYPE html>\n<html><head><title>team</title></head><body><img src=team.jpg></body></html>\n"
)
SVG_NAMED_JPG = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480">'
    b'<circle cx="320" cy="240" r="100"/></svg>\n'
)

"""What an image file is, from its first and last bytes only: type (by magic bytes), pixel size, and
whether it is complete. Pure Python, no decoding (no imaging library in the layer).

- `read_header(read, size)`: the type and dimensions of JPEG, PNG, WebP and BMP files. `read(offset,
  length)` gives bytes of the object; a JPEG's frame header can sit behind large metadata segments, so
  the walk reads on from where each segment ends (`BlockReader` turns that into a few ranged reads).
- `check_complete(header, tail, size)`: a cheap truncation check from the file's last bytes (`TAIL_BYTES`)
  and its size: a PNG ends with IEND, a WebP/BMP is as long as its header says, and a JPEG ends with EOI
  unless foreign data (e.g. a phone's motion-photo video) follows the image.
Every problem is an ImageProblem with the error code of the job it ends (error_codes.ErrorCode).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from dropswap.domain.error_codes import ErrorCode

HEAD_BYTES = 64 * 1024  # the first read: holds the whole header of almost every image
TAIL_BYTES = 4096  # the last read: enough to see how the file ends
MAX_READS = 16  # ranged reads one header may take (a JPEG walking its metadata segments)

JPEG, PNG, WEBP, BMP = "image/jpeg", "image/png", "image/webp", "image/bmp"
SUPPORTED = "JPEG, PNG, WebP or BMP"

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"IEND\xaeB`\x82"
# JPEG start-of-frame markers (they carry the size): C0-CF but DHT (C4), JPG (C8) and DAC (CC).
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field: TEM, RST0-7 (SOI and EOI are handled on their own).
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
# What other files start with, so the message can say what the file is instead.
_LOOKS_LIKE = (
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"PK\x03\x04", "a ZIP archive"),
)


class ImageProblem(ValueError):
    """The file cannot be used as an image; `code` is the job's error code, `message` says what to do."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class ImageHeader:
    media_type: str
    width: int
    height: int
    # The size the header says the file has at least (WebP's RIFF size, an uncompressed BMP's pixel
    # data); None when the format does not say (JPEG, PNG: their end marker tells).
    min_size: int | None = None
    # Where a JPEG's compressed data starts (after its first start-of-scan header).
    data_start: int | None = None

    @property
    def pixels(self) -> int:
        return self.width * self.height


Read = Callable[[int, int], bytes]


class BlockReader:
    """`read(offset, length)` over `fetch(offset, length)` (e.g. a ranged GET), reading whole blocks and
    at most `max_reads` of them; past that the header is refused as unreadable."""

    def __init__(
        self,
        fetch: Read,
        size: int,
        *,
        first: bytes = b"",
        block: int = HEAD_BYTES,
        max_reads: int = MAX_READS,
    ) -> None:
        self._fetch = fetch
        self._size = size
        self._block = block
        self._max = max_reads
        self._start = 0
        self._data = first  # the object's first bytes, when the caller has read them already
        self.reads = 1 if first else 0

    def __call__(self, offset: int, length: int) -> bytes:
        end = min(offset + length, self._size)
        if offset < self._start or end > self._start + len(self._data):
            if self.reads >= self._max:
                raise ImageProblem(
                    ErrorCode.UNREADABLE_IMAGE,
                    f"its metadata is too large to find the image size within {self._max} reads; "
                    "save it again without the extra metadata",
                )
            self.reads += 1
            self._start = offset
            self._data = self._fetch(offset, max(self._block, length))
        return self._data[offset - self._start : end - self._start]


def sniff(head: bytes) -> str | None:
    """The media type from the first bytes, for the types dropswap takes; None for anything else."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(_PNG_MAGIC):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"BM") and len(head) >= 18 and struct.unpack_from("<I", head, 14)[0] in _BMP_DIB_SIZES:
        return BMP
    return None


def read_header(read: Read, size: int) -> ImageHeader:
    """The type and dimensions of the image whose bytes `read` gives (`size` bytes long)."""
    head = read(0, 32)
    media_type = sniff(head)
    if media_type is None:
        raise ImageProblem(ErrorCode.NOT_AN_IMAGE, f"is not a {SUPPORTED} image{_what_it_is(head)}")
    if media_type == JPEG:
        header = _jpeg(read, size)
    elif media_type == PNG:
        header = _png(head)
    elif media_type == WEBP:
        header = _webp(read(0, 64))
    else:
        header = _bmp(read(0, 64))
    if header.width <= 0 or header.height <= 0:
        raise ImageProblem(
            ErrorCode.UNREADABLE_IMAGE, f"its header gives a size of {header.width}×{header.height} pixels"
        )
    return header


def check_size(size: int, max_bytes: int) -> None:
    """EMPTY_IMAGE or TOO_LARGE, from the file's size alone (a HEAD tells it before any byte is read)."""
    if size == 0:
        raise ImageProblem(ErrorCode.EMPTY_IMAGE, "is empty; upload the image again")
    if size > max_bytes:
        raise ImageProblem(
            ErrorCode.TOO_LARGE, f"is {_bytes(size)}; images may be at most {_bytes(max_bytes)}, resize it"
        )


def check_image(
    size: int, first: bytes, fetch: Read, last: Callable[[], bytes], *, max_bytes: int, max_pixels: int
) -> ImageHeader:
    """Every check of a file meant as a photo or a face, as the stack runs it before any AKOOL call (and
    `dropswap plan` before any upload): its size, type and dimensions by its header, its pixels, and that
    it ends as a complete image. `first` is its first HEAD_BYTES (or all of it), `fetch(offset, length)`
    reads more of the header, `last()` its last TAIL_BYTES. ImageProblem says what is wrong."""
    check_size(size, max_bytes)
    header = read_header(BlockReader(fetch, size, first=first), size)
    check_pixels(header, max_pixels)
    check_complete(header, first[-TAIL_BYTES:] if size <= len(first) else last(), size)
    return header


def check_pixels(header: ImageHeader, max_pixels: int) -> None:
    if header.pixels > max_pixels:
        raise ImageProblem(
            ErrorCode.TOO_MANY_PIXELS,
            f"is {header.width}×{header.height} pixels ({_mp(header.pixels)}); images may have at most "
            f"{_mp(max_pixels)}, resize it",
        )


def check_complete(header: ImageHeader, tail: bytes, size: int) -> None:
    """TRUNCATED_IMAGE unless the file ends as a complete image of its type; `tail` is its last bytes."""
    if header.min_size is not None and size < header.min_size:
        complete = False
    elif header.media_type == PNG:
        complete = _PNG_IEND in tail
    elif header.media_type == JPEG:
        # Only the tail's part past the header counts (header segments hold arbitrary bytes).
        skip = max(0, (header.data_start or 0) - (size - len(tail)))
        complete = _jpeg_ends(tail[skip:])
    else:
        complete = True
    if not complete:
        raise ImageProblem(
            ErrorCode.TRUNCATED_IMAGE,
            "is cut off (the file ends before the image does, e.g. an interrupted upload or copy); "
            "upload the complete file again",
        )


# -- per format ---------------------------------------------------------------------------------
def _jpeg(read: Read, size: int) -> ImageHeader:
    """The frame header's size, and where the compressed data starts: segments are walked up to the
    first start of scan, so a file cut off in its header is caught here."""
    pos = 2  # after SOI
    frame: tuple[int, int] | None = None
    while True:
        seg = read(pos, 4)
        if len(seg) < 2:
            raise _cut("before its image data")
        if seg[0] != 0xFF:
            raise ImageProblem(ErrorCode.UNREADABLE_IMAGE, f"has a broken JPEG structure at byte {pos}")
        marker = seg[1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        if marker == 0xD9 or (marker == 0xDA and frame is None):  # EOI, or a scan before any frame
            raise ImageProblem(ErrorCode.UNREADABLE_IMAGE, "is a JPEG without a frame header (no image size)")
        if len(seg) < 4:
            raise _cut("in its header")
        length = struct.unpack_from(">H", seg, 2)[0]
        if length < 2:
            raise ImageProblem(ErrorCode.UNREADABLE_IMAGE, f"has a broken JPEG segment at byte {pos}")
        if marker == 0xDA and frame is not None:
            return ImageHeader(JPEG, frame[1], frame[0], data_start=pos + 2 + length)
        if marker in _SOF and frame is None:
            fields = read(pos + 4, 5)  # precision, height, width
            if len(fields) < 5:
                raise _cut("in its frame header")
            height, width = struct.unpack_from(">HH", fields, 1)
            frame = (height, width)
        pos += 2 + length
        if pos >= size:
            raise _cut("before its image data")


def _png(head: bytes) -> ImageHeader:
    if len(head) < 24:
        raise _cut("in its header")
    if head[12:16] != b"IHDR":
        raise ImageProblem(ErrorCode.UNREADABLE_IMAGE, "is a PNG without its IHDR header")
    width, height = struct.unpack_from(">II", head, 16)
    return ImageHeader(PNG, width, height)


def _webp(head: bytes) -> ImageHeader:
    riff_size = struct.unpack_from("<I", head, 4)[0]
    chunk = head[12:16]
    data = head[20:]
    needed = {b"VP8X": 10, b"VP8 ": 10, b"VP8L": 5}
    if len(chunk) < 4 or len(data) < needed.get(chunk, 0):
        raise _cut("in its header")
    if chunk == b"VP8X":
        width = 1 + int.from_bytes(data[4:7], "little")
        height = 1 + int.from_bytes(data[7:10], "little")
    elif chunk == b"VP8 " and len(data) >= 10 and data[3:6] == b"\x9d\x01\x2a":
        width = struct.unpack_from("<H", data, 6)[0] & 0x3FFF
        height = struct.unpack_from("<H", data, 8)[0] & 0x3FFF
    elif chunk == b"VP8L" and len(data) >= 5 and data[0] == 0x2F:
        bits = int.from_bytes(data[1:5], "little")
        width = 1 + (bits & 0x3FFF)
        height = 1 + ((bits >> 14) & 0x3FFF)
    else:
        raise ImageProblem(ErrorCode.UNREADABLE_IMAGE, "is a WebP file without a readable image header")
    return ImageHeader(WEBP, width, height, min_size=8 + riff_size)


# BITMAPCOREHEADER, INFOHEADER, V2, V3, V4, V5: the DIB header sizes a BMP can have.
_BMP_DIB_SIZES = frozenset({12, 40, 52, 56, 108, 124})


def _bmp(head: bytes) -> ImageHeader:
    if len(head) < 26:
        raise _cut("in its header")
    data_offset = struct.unpack_from("<I", head, 10)[0]
    dib = struct.unpack_from("<I", head, 14)[0]
    if dib == 12:
        width, height, _, bpp = struct.unpack_from("<HHHH", head, 18)
        compression, image_size = 0, 0
    else:
        if len(head) < 54:
            raise _cut("in its header")
        width, height, _, bpp, compression, image_size = struct.unpack_from("<iiHHII", head, 18)
        height = abs(height)  # negative: rows stored top-down
    if compression in (0, 3, 6):  # uncompressed (BI_RGB, BI_BITFIELDS, BI_ALPHABITFIELDS)
        stride = (width * bpp + 31) // 32 * 4
        min_size = data_offset + stride * height
    else:
        min_size = data_offset + image_size
    return ImageHeader(BMP, width, height, min_size=min_size)


def _jpeg_ends(tail: bytes) -> bool:
    """A JPEG is complete when its compressed data reaches EOI (trailing bytes after it allowed). Inside
    compressed data every 0xFF is followed by 0x00, a restart marker or another marker (C0-FE); a tail
    holding 0xFF followed by anything else is foreign data appended after the image (a motion photo's
    video, a camera's trailer), so the image ended before it. A tail of compressed data without EOI is a
    cut-off file."""
    if b"\xff\xd9" in tail:
        # In compressed data 0xFF is never followed by D9: this is EOI, whatever follows it.
        return True
    # Only compressed data counts: skip to after the last start-of-scan header the tail holds, if any.
    sos = tail.rfind(b"\xff\xda")
    start = sos + 2 + struct.unpack_from(">H", tail, sos + 2)[0] if 0 <= sos <= len(tail) - 4 else 0
    i = tail.find(b"\xff", start)
    while 0 <= i < len(tail) - 1:
        if 0x01 <= tail[i + 1] <= 0xBF:
            return True
        i = tail.find(b"\xff", i + 1)
    return False


def _cut(where: str) -> ImageProblem:
    return ImageProblem(
        ErrorCode.TRUNCATED_IMAGE, f"is cut off {where}; upload the complete file again"
    )


def _what_it_is(head: bytes) -> str:
    for magic, name in _LOOKS_LIKE:
        if head.startswith(magic):
            return f": it is {name}"
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypavif"):
        return ": it is a HEIC/AVIF image; export it as JPEG"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<svg", b"<?xml")):
        return ": it is an SVG or XML text file; export the picture as JPEG or PNG"
    if text.startswith((b"<!doctype", b"<html", b"<")):
        return ": it is an HTML or text file (e.g. a web page saved under an image name)"
    return " (its first bytes match none of these formats)"


def _bytes(size: int) -> str:
    return f"{size} bytes" if size < 1024 * 1024 else f"{size / (1024 * 1024):.1f} MB"


def _mp(pixels: int) -> str:
    return f"{pixels / 1_000_000:.1f} megapixels"

"""The image header reader (dropswap/image_header.py) on generated files of each supported type, and on
the inputs that must be refused before AKOOL: truncated files, text renamed as images, pixel bombs."""

from __future__ import annotations

import io
import os
import random

import pytest
from PIL import Image

from dropswap import image_header
from dropswap.error_codes import ErrorCode
from dropswap.image_header import BlockReader, ImageHeader, ImageProblem
from tests import images


def _reader(data: bytes) -> image_header.Read:
    return lambda offset, length: data[offset : offset + length]


def _check(data: bytes, max_pixels: int = 50_000_000) -> ImageHeader:
    """What the submit path does: header, pixel limit, then the end of the file."""
    header = image_header.read_header(BlockReader(_reader(data), len(data)), len(data))
    image_header.check_pixels(header, max_pixels)
    image_header.check_complete(header, data[-image_header.TAIL_BYTES :], len(data))
    return header


def _problem(data: bytes, max_pixels: int = 50_000_000) -> ImageProblem:
    with pytest.raises(ImageProblem) as err:
        _check(data, max_pixels)
    return err.value


VALID: list[tuple[str, dict[str, object], str, str]] = [
    ("JPEG", {}, "RGB", "image/jpeg"),
    ("JPEG", {"progressive": True}, "RGB", "image/jpeg"),
    ("JPEG", {}, "L", "image/jpeg"),
    ("PNG", {}, "RGB", "image/png"),
    ("PNG", {}, "RGBA", "image/png"),
    ("WEBP", {"quality": 80}, "RGB", "image/webp"),
    ("WEBP", {"lossless": True}, "RGB", "image/webp"),
    ("WEBP", {"quality": 80}, "RGBA", "image/webp"),  # alpha: the extended (VP8X) header
    ("BMP", {}, "RGB", "image/bmp"),
    ("BMP", {}, "L", "image/bmp"),
]


@pytest.mark.parametrize(("fmt", "params", "mode", "media_type"), VALID)
def test_given_generated_image_of_each_type_then_type_and_size_read_and_complete(
    fmt: str, params: dict[str, object], mode: str, media_type: str
) -> None:
    # Given a 333×217 image (odd sizes catch swapped or off-by-one fields) / When checked / Then its header
    data = images.encoded(fmt, (333, 217), mode, **params)
    header = _check(data)
    assert (header.media_type, header.width, header.height) == (media_type, 333, 217)


@pytest.mark.parametrize(("fmt", "params", "mode", "_"), VALID)
@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.95])
def test_given_truncated_image_then_truncated(
    fmt: str, params: dict[str, object], mode: str, _: str, fraction: float
) -> None:
    # Given the first part of a valid image (an interrupted upload) / When checked / Then TRUNCATED_IMAGE
    data = images.truncated(images.encoded(fmt, (333, 217), mode, **params), fraction)
    assert _problem(data).code is ErrorCode.TRUNCATED_IMAGE


def test_given_jpeg_cut_just_before_its_end_marker_then_truncated() -> None:
    data = images.encoded("JPEG", (333, 217))
    assert _problem(data[:-2]).code is ErrorCode.TRUNCATED_IMAGE


def test_given_jpeg_with_metadata_larger_than_one_read_then_frame_header_found_in_few_reads() -> None:
    # Given a JPEG whose ICC profile (300 KB, several APP2 segments) sits before the frame header
    data = images.encoded("JPEG", (120, 90), icc_profile=os.urandom(300_000))
    reads: list[tuple[int, int]] = []

    def fetch(offset: int, length: int) -> bytes:
        reads.append((offset, length))
        return data[offset : offset + length]

    # When the header is read through 64 KiB blocks / Then the size is found, in a bounded number of reads
    header = image_header.read_header(BlockReader(fetch, len(data)), len(data))
    assert (header.width, header.height) == (120, 90)
    assert 2 <= len(reads) <= 8


def test_given_header_needing_more_reads_than_allowed_then_unreadable() -> None:
    data = images.encoded("JPEG", (120, 90), icc_profile=os.urandom(300_000))
    reader = BlockReader(_reader(data), len(data), block=1024, max_reads=2)
    with pytest.raises(ImageProblem) as err:
        image_header.read_header(reader, len(data))
    assert err.value.code is ErrorCode.UNREADABLE_IMAGE


def test_given_jpeg_with_foreign_data_after_its_end_then_complete() -> None:
    # Given a JPEG followed by other data, as phones append a motion photo's video after the image
    trailer = b"\x00\x00\x00\x18ftypmp42" + random.Random(7).randbytes(20_000)  # compressed video: noise
    data = images.encoded("JPEG", (64, 48)) + trailer
    # When checked / Then it is accepted (the image itself is complete)
    assert _check(data).media_type == "image/jpeg"


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (images.HTML_NAMED_JPG, "HTML"),
        (b"\xef\xbb\xbf  <html><body>hi</body></html>", "HTML"),
        (images.SVG_NAMED_JPG, "SVG"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "SVG"),
        (b"GIF89a" + bytes(64), "GIF"),
        (b"\x00\x00\x00\x18ftypheic" + bytes(64), "HEIC"),
        (b"%PDF-1.7\n" + bytes(64), "PDF"),
        (b"\x13\x37garbage" + bytes(100), "match none"),
        (b"BM" + bytes(100), "match none"),  # "BM" alone is not a bitmap
    ],
)
def test_given_bytes_that_are_not_a_supported_image_then_not_an_image_saying_what_it_is(
    data: bytes, says: str
) -> None:
    problem = _problem(data)
    assert problem.code is ErrorCode.NOT_AN_IMAGE
    assert "is not a JPEG, PNG, WebP or BMP image" in problem.message and says in problem.message


def test_given_png_pixel_bomb_under_1_mb_then_too_many_pixels_from_its_header() -> None:
    # Given a valid 30000×30000 PNG of under 1 MB / When checked / Then refused by its declared size
    data = images.png_pixel_bomb()
    assert len(data) < 1_000_000
    problem = _problem(data)
    assert problem.code is ErrorCode.TOO_MANY_PIXELS
    assert "30000×30000 pixels (900.0 megapixels)" in problem.message and "50.0 megapixels" in problem.message


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP"])
def test_given_pixel_limit_then_an_image_at_it_passes_and_one_pixel_more_does_not(fmt: str) -> None:
    data = images.encoded(fmt, (40, 25))
    assert _check(data, max_pixels=1000).pixels == 1000
    assert _problem(data, max_pixels=999).code is ErrorCode.TOO_MANY_PIXELS


def test_given_jpeg_without_frame_header_then_unreadable() -> None:
    data = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
    assert _problem(data).code is ErrorCode.UNREADABLE_IMAGE


def test_given_top_down_bmp_then_its_height_is_positive() -> None:
    data = bytearray(images.encoded("BMP", (30, 20)))
    height = int.from_bytes(data[22:26], "little", signed=True)
    data[22:26] = (-height).to_bytes(4, "little", signed=True)
    assert (_check(bytes(data)).width, _check(bytes(data)).height) == (30, 20)


def test_given_pil_opens_the_generated_files_then_the_samples_are_real_images() -> None:
    # The fixtures above are what an imaging library reads too (guards the generators themselves).
    for fmt, params, mode, _ in VALID:
        with Image.open(io.BytesIO(images.encoded(fmt, (33, 21), mode, **params))) as img:
            assert img.size == (33, 21)

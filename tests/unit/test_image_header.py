"""The image header reader (dropswap/image_header.py) on generated files of each supported type, and on
the inputs that must be refused before AKOOL: truncated files, text renamed as images, pixel bombs."""

from __future__ import annotations

import random

import pytest

from devkit import images
from dropswap.domain import image_header
from dropswap.domain.error_codes import ErrorCode
from dropswap.domain.image_header import BlockReader, ImageHeader, ImageProblem


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


# (name, bytes, media type): each supported type and variant, 333×217 (odd sizes catch swapped fields)
VALID: list[tuple[str, bytes, str]] = [
    ("jpeg", images.sample("gradient.jpg"), "image/jpeg"),
    ("jpeg-progressive", images.sample("gradient-progressive.jpg"), "image/jpeg"),
    ("jpeg-grey", images.sample("gradient-grey.jpg"), "image/jpeg"),
    ("png", images.png(), "image/png"),
    ("png-alpha", images.png(alpha=True), "image/png"),
    ("webp-lossy", images.sample("gradient-lossy.webp"), "image/webp"),
    ("webp-lossless", images.sample("gradient-lossless.webp"), "image/webp"),
    ("webp-alpha", images.sample("gradient-alpha.webp"), "image/webp"),  # the extended (VP8X) header
    ("bmp", images.bmp(), "image/bmp"),
    ("bmp-top-down", images.bmp(top_down=True), "image/bmp"),
]
IDS = [v[0] for v in VALID]


@pytest.mark.parametrize(("name", "data", "media_type"), VALID, ids=IDS)
def test_given_generated_image_of_each_type_then_type_and_size_read_and_complete(
    name: str, data: bytes, media_type: str
) -> None:
    # Given a complete 333×217 image / When checked / Then its type and size, and no problem
    header = _check(data)
    assert (header.media_type, header.width, header.height) == (media_type, 333, 217)


@pytest.mark.parametrize(("name", "data", "_"), VALID, ids=IDS)
@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.6, 0.95])
def test_given_truncated_image_then_truncated(name: str, data: bytes, _: str, fraction: float) -> None:
    # Given the first part of a valid image (an interrupted upload) / When checked / Then TRUNCATED_IMAGE
    assert _problem(images.truncated(data, fraction)).code is ErrorCode.TRUNCATED_IMAGE


def test_given_jpeg_cut_just_before_its_end_marker_then_truncated() -> None:
    assert _problem(images.jpeg()[:-2]).code is ErrorCode.TRUNCATED_IMAGE


def test_given_jpeg_with_metadata_larger_than_one_read_then_frame_header_found_in_few_reads() -> None:
    # Given a JPEG with 300 KB of metadata (several APP2 segments, as an ICC profile) before its frame header
    data = images.with_big_metadata(images.jpeg())
    reads: list[tuple[int, int]] = []

    def fetch(offset: int, length: int) -> bytes:
        reads.append((offset, length))
        return data[offset : offset + length]

    # When the header is read through 64 KiB blocks / Then the size is found, in a bounded number of reads
    header = image_header.read_header(BlockReader(fetch, len(data)), len(data))
    assert (header.width, header.height) == (333, 217)
    assert 2 <= len(reads) <= 8


def test_given_header_needing_more_reads_than_allowed_then_unreadable() -> None:
    data = images.with_big_metadata(images.jpeg())
    reader = BlockReader(_reader(data), len(data), block=1024, max_reads=2)
    with pytest.raises(ImageProblem) as err:
        image_header.read_header(reader, len(data))
    assert err.value.code is ErrorCode.UNREADABLE_IMAGE


def test_given_jpeg_with_foreign_data_after_its_end_then_complete() -> None:
    # Given a JPEG followed by other data, as phones append a motion photo's video after the image
    trailer = b"\x00\x00\x00\x18ftypmp42" + random.Random(7).randbytes(20_000)  # compressed video: noise
    data = images.jpeg() + trailer
    # When checked / Then it is accepted (the image itself is complete)
    assert _check(data).media_type == "image/jpeg"
    # And so is a JPEG with a few bytes of text after its end (EOI is still in the last bytes)
    assert _check(images.jpeg() + b"-replaced").media_type == "image/jpeg"


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


@pytest.mark.parametrize(("name", "data", "_"), VALID, ids=IDS)
def test_given_pixel_limit_then_an_image_at_it_passes_and_one_pixel_more_does_not(
    name: str, data: bytes, _: str
) -> None:
    assert _check(data, max_pixels=333 * 217).pixels == 333 * 217
    assert _problem(data, max_pixels=333 * 217 - 1).code is ErrorCode.TOO_MANY_PIXELS


def test_given_jpeg_without_frame_header_then_unreadable() -> None:
    data = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
    assert _problem(data).code is ErrorCode.UNREADABLE_IMAGE


def test_given_jpeg_cut_inside_its_header_tables_then_truncated_not_mistaken_for_a_trailer() -> None:
    # Given a JPEG cut after its frame header but before its image data (header bytes are arbitrary)
    data = images.jpeg()
    sos = data.index(b"\xff\xda")
    # When checked / Then TRUNCATED_IMAGE, wherever the cut falls in the tables
    for cut in range(data.index(b"\xff\xc0") + 12, sos, 7):
        assert _problem(data[:cut]).code is ErrorCode.TRUNCATED_IMAGE, cut


def test_given_the_samples_then_an_imaging_library_reads_them_as_the_header_does() -> None:
    # Guards the generators themselves (dev venv only: the python3.13 venv has no imaging library).
    image = pytest.importorskip("PIL.Image")
    import io

    for name, data, _ in VALID:
        with image.open(io.BytesIO(data)) as img:
            assert img.size == (333, 217), name

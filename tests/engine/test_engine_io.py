"""Image decoding/encoding of the face engine."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from devkit import photos
from local.emulator import engine

pytestmark = pytest.mark.engine


def test_decode_jpeg_photo(astronaut):
    # Given a JPEG of a real photo / When decoded / Then it is a BGR uint8 image of the same size and content
    img = engine.decode_image(photos.jpeg_bytes(astronaut))
    assert img.shape == astronaut.shape
    assert img.dtype == np.uint8
    assert np.abs(img.astype(int) - astronaut).mean() < 3


@pytest.mark.parametrize("ext", [".png", ".bmp", ".webp", "png"])
def test_encode_decode_round_trip(hopper, ext):
    # Given a photo / When encoded and decoded again / Then the size is kept (lossless formats: exactly)
    img = engine.decode_image(engine.encode_image(hopper, ext))
    assert img.shape == hopper.shape
    if ext in (".png", "png", ".bmp"):
        assert np.array_equal(img, hopper)


def test_decode_grey_and_alpha_become_bgr():
    # Given a greyscale PNG and an RGBA PNG / When decoded / Then both come back as 3-channel BGR
    grey = cv2.imencode(".png", np.full((7, 9), 100, np.uint8))[1].tobytes()
    rgba = cv2.imencode(".png", np.full((7, 9, 4), 100, np.uint8))[1].tobytes()
    for data in (grey, rgba):
        assert engine.decode_image(data).shape == (7, 9, 3)


@pytest.mark.parametrize("data", [b"", b"not an image", b"\xff\xd8\xff\xe0" + b"\x00" * 64])
def test_decode_unreadable_bytes_raises(data):
    # Given bytes that are not a decodable image / When decoded / Then EngineError
    with pytest.raises(engine.EngineError):
        engine.decode_image(data)


def test_encode_rejects_unknown_format_and_bad_arrays(astronaut):
    # Given an unknown extension or a non-BGR array / When encoded / Then EngineError
    with pytest.raises(engine.EngineError):
        engine.encode_image(astronaut, ".gif")
    with pytest.raises(engine.EngineError):
        engine.encode_image(astronaut.astype(np.float32), ".png")

"""Fixtures for the face-engine tests: real photos from installed packages (see devkit/photos.py) and a dlib
face-embedding helper used only to measure identity (dlib's models are non-commercial: test-only)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest

from devkit import photos
from local.emulator import engine

Image = npt.NDArray[np.uint8]
Embed = Callable[..., npt.NDArray[np.float64]]


@pytest.fixture
def astronaut() -> Image:
    return photos.astronaut_bgr()


@pytest.fixture
def hopper() -> Image:
    return photos.grace_hopper_bgr()


@pytest.fixture
def collage() -> Image:
    return photos.collage_bgr()


@pytest.fixture
def gradient() -> Image:
    """A smooth colour gradient: image-like, but no face."""
    x = np.linspace(0, 255, 640, dtype=np.float64)[None, :]
    y = np.linspace(0, 255, 480, dtype=np.float64)[:, None]
    channels = [np.broadcast_to(c, (480, 640)) for c in (x, y, (x + y) / 2)]
    return np.ascontiguousarray(np.stack(channels, axis=2).astype(np.uint8))


# Detection results are deterministic and the photos are read-only inputs, so detect once per session.
@pytest.fixture(scope="session")
def astronaut_faces() -> list[engine.Face]:
    return engine.detect(photos.astronaut_bgr())


@pytest.fixture(scope="session")
def hopper_faces() -> list[engine.Face]:
    return engine.detect(photos.grace_hopper_bgr())


@pytest.fixture(scope="session")
def collage_faces() -> list[engine.Face]:
    return engine.detect(photos.collage_bgr())


@pytest.fixture(scope="session")
def embed() -> Embed:
    """embed(image, near=(x, y, w, h) | None) -> dlib's 128-d face descriptor of the face nearest `near`'s
    centre (or the largest face). Distances below ~0.6 mean "same person" for this model."""
    dlib = pytest.importorskip("dlib")
    models = pytest.importorskip("face_recognition_models")
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(models.pose_predictor_model_location())
    recogniser = dlib.face_recognition_model_v1(models.face_recognition_model_location())

    def _embed(image: Image, near: tuple[int, int, int, int] | None = None) -> npt.NDArray[np.float64]:
        rgb = np.ascontiguousarray(image[:, :, ::-1])
        rects = list(detector(rgb, 1))
        assert rects, "dlib found no face to embed"
        if near is None:
            rect = max(rects, key=lambda r: r.area())
        else:
            cx, cy = near[0] + near[2] / 2, near[1] + near[3] / 2
            rect = min(rects, key=lambda r: (r.center().x - cx) ** 2 + (r.center().y - cy) ** 2)
        shape = predictor(rgb, rect)
        return np.array(recogniser.compute_face_descriptor(rgb, shape), dtype=np.float64)

    return _embed


def _changed_outside(before: Image, after: Image, region: tuple[int, int, int, int], margin: int) -> int:
    x, y, w, h = region
    diff = np.any(before != after, axis=2)
    diff[max(0, y - margin) : y + h + margin, max(0, x - margin) : x + w + margin] = False
    return int(diff.sum())


@pytest.fixture
def changed_outside() -> Callable[[Image, Image, tuple[int, int, int, int], int], int]:
    """changed_outside(before, after, region, margin): how many pixels differ outside `region` dilated by
    `margin` px."""
    return _changed_outside

"""Face detection on real photos."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from devkit import photos
from local.emulator import engine

pytestmark = pytest.mark.engine

LANDMARKS_STR = re.compile(r"^-?\d+,-?\d+(:-?\d+,-?\d+){3}$")


def _inside(point: tuple[int, int], region: tuple[int, int, int, int]) -> bool:
    x, y, w, h = region
    return x <= point[0] <= x + w and y <= point[1] <= y + h


def _check_face(face: engine.Face, shape: tuple[int, ...]) -> None:
    x, y, w, h = face.region
    assert all(isinstance(v, int) for v in face.region)
    assert x >= 0 and y >= 0 and w > 0 and h > 0 and x + w <= shape[1] and y + h <= shape[0]
    assert len(face.landmarks) == 6
    assert all(_inside(p, face.region) for p in face.landmarks), (face.landmarks, face.region)
    (lex, ley), (rex, rey), (_, ny), (mx, my), (lmx, _), (rmx, _) = face.landmarks
    assert lex < rex and lmx < rmx  # "left" means image-left
    assert max(ley, rey) < ny < my  # eyes above the nose tip above the mouth (upright portraits)
    assert lmx < mx < rmx
    assert face.dense.shape == (478, 2) and face.dense.dtype == np.float64
    assert LANDMARKS_STR.match(face.landmarks_str)
    assert face.landmarks_str == ":".join(f"{px},{py}" for px, py in face.landmarks[:4])


@pytest.mark.parametrize("fixture", ["astronaut_faces", "hopper_faces"])
def test_one_face_per_portrait(fixture, request, astronaut):
    # Given a single-person portrait / When detected / Then exactly one well-formed face
    faces = request.getfixturevalue(fixture)
    assert len(faces) == 1
    _check_face(faces[0], astronaut.shape if fixture == "astronaut_faces" else (600, 512, 3))


def test_astronaut_face_where_expected(astronaut_faces):
    # Given the astronaut photo (face at about x 180-270, y 70-180) / When detected / Then the box is there
    x, y, w, h = astronaut_faces[0].region
    assert 160 < x < 200 and 50 < y < 100 and 70 < w < 130 and 80 < h < 140


def test_collage_two_faces_left_to_right(collage, collage_faces, hopper_faces):
    # Given Hopper (left) and the astronaut (right) side by side / When detected
    # Then two faces, ordered by x, the first on the Hopper half, the second on the astronaut half
    assert len(collage_faces) == 2
    left, right = collage_faces
    for face in collage_faces:
        _check_face(face, collage.shape)
    hopper_width = collage.shape[1] - 512
    assert left.region[0] < right.region[0]
    assert left.region[0] + left.region[2] <= hopper_width <= right.region[0]


def test_max_faces_limits_the_result(collage):
    # Given a two-face image / When detecting with max_faces=1 / Then one face
    assert len(engine.detect(collage, max_faces=1)) == 1


def test_no_face_in_gradient(gradient):
    # Given a plain gradient / When detected / Then no face (and no error)
    assert engine.detect(gradient) == []


def test_tiny_image_has_no_face():
    # Given a 4×4 image / When detected / Then no face
    assert engine.detect(np.zeros((4, 4, 3), np.uint8)) == []


def test_large_image_2000px(astronaut_faces):
    # Given the astronaut scaled to 2000 px / When detected / Then one face whose box scales with the photo
    big = photos.resize_long_side(photos.astronaut_bgr(), 2000)
    faces = engine.detect(big)
    assert len(faces) == 1
    scale = 2000 / 512
    for got, small in zip(faces[0].region, astronaut_faces[0].region, strict=True):
        assert abs(got - small * scale) < 0.08 * 2000 / 4, (faces[0].region, astronaut_faces[0].region)


def test_detect_is_thread_safe(collage, collage_faces):
    # Given several threads detecting at once (the emulator server is threaded)
    # When they all detect on the collage / Then every result equals the single-threaded one
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: engine.detect(collage), range(6)))
    for faces in results:
        assert [f.landmarks for f in faces] == [f.landmarks for f in collage_faces]


def test_detect_rejects_non_images():
    # Given a float array / When detected / Then EngineError
    with pytest.raises(engine.EngineError):
        engine.detect(np.zeros((10, 10, 3), np.float32))

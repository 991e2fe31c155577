"""Choosing a face by AKOOL `opts`, and face crops."""

from __future__ import annotations

import numpy as np
import pytest

from local.emulator import engine

pytestmark = pytest.mark.engine


def test_pick_by_opts_selects_each_collage_face(collage_faces):
    # Given the two collage faces / When picking with each face's landmarks_str / Then that face comes back
    for face in collage_faces:
        assert engine.pick_face(collage_faces, face.landmarks_str) is face


def test_pick_by_slightly_off_opts(collage_faces):
    # Given opts a few pixels off the right face's points (e.g. from a re-encoded image)
    # When picking / Then the right face is still chosen
    right = collage_faces[1]
    opts = ":".join(f"{x + 4},{y - 3}" for x, y in right.landmarks[:4])
    assert engine.pick_face(collage_faces, opts) is right


def test_pick_accepts_all_six_points(collage_faces):
    # Given opts with all 6 AKOOL points / When picking / Then the matching face
    left = collage_faces[0]
    assert engine.pick_face(collage_faces, ":".join(f"{x},{y}" for x, y in left.landmarks)) is left


@pytest.mark.parametrize("opts", [None, "", "   "])
def test_pick_without_opts_takes_largest(collage_faces, opts):
    # Given no opts / When picking / Then the face with the largest region area
    largest = max(collage_faces, key=lambda f: f.region[2] * f.region[3])
    assert engine.pick_face(collage_faces, opts) is largest
    assert largest is collage_faces[0]  # Hopper's face is the larger one in the collage


def test_pick_far_opts_matches_none(collage_faces):
    # Given opts far from every face (image corner) / When picking / Then EngineError "no face matches opts"
    with pytest.raises(engine.EngineError, match="no face matches opts"):
        engine.pick_face(collage_faces, "0,0:5,0:3,4:3,8")


@pytest.mark.parametrize(
    "opts", ["garbage", "1,2:3", "1,2,3:4,5", "a,b:c,d:e,f:g,h", "1,2::3,4", "1;2:3;4", "1,2:" * 7]
)
def test_pick_garbage_opts_raises(collage_faces, opts):
    # Given malformed opts / When picking / Then EngineError
    with pytest.raises(engine.EngineError):
        engine.pick_face(collage_faces, opts)


def test_pick_from_no_faces_raises():
    # Given no faces / When picking / Then EngineError
    with pytest.raises(engine.EngineError):
        engine.pick_face([], None)


def test_crop_face_contains_face(collage, collage_faces):
    # Given a detected face / When cropped with the default margin
    # Then the crop is that slice of the image, it contains the face box plus margin, clipped to the image
    for face in collage_faces:
        crop, (cx, cy, cw, ch) = engine.crop_face(collage, face)
        x, y, w, h = face.region
        assert crop.shape == (ch, cw, 3)
        assert np.array_equal(crop, collage[cy : cy + ch, cx : cx + cw])
        assert cx <= x and cy <= y and cx + cw >= x + w and cy + ch >= y + h
        assert cx == max(0, int(x - 0.3 * w)) or cx == max(0, int(x - 0.3 * w) - 1)
        assert cx >= 0 and cy >= 0 and cx + cw <= collage.shape[1] and cy + ch <= collage.shape[0]
        # crop_landmarks (landmarks relative to the crop) stay inside the crop
        assert all(0 <= px - cx < cw and 0 <= py - cy < ch for px, py in face.landmarks)


def test_crop_face_zero_margin_is_region(astronaut, astronaut_faces):
    # Given margin 0 / When cropping / Then the crop region is exactly the face region
    _, region = engine.crop_face(astronaut, astronaut_faces[0], margin=0.0)
    assert region == astronaut_faces[0].region

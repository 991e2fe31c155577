"""The classical face swap: identity moves to the source, and nothing away from the face changes."""

from __future__ import annotations

import numpy as np
import pytest

from local.emulator import engine

pytestmark = pytest.mark.engine

MARGIN = 2  # px around the target region in which pixels may change


def test_swap_hopper_onto_astronaut_takes_source_identity(
    astronaut, astronaut_faces, hopper, hopper_faces, embed, changed_outside
):
    # Given Grace Hopper's face (source) and the astronaut photo (target)
    # When swapped / Then dlib's embedding of the result is closer to Hopper than to the astronaut,
    # and pixels outside the astronaut's face region are untouched
    target_face = astronaut_faces[0]
    out = engine.swap(astronaut, target_face, hopper, hopper_faces[0])
    assert out.shape == astronaut.shape and out.dtype == np.uint8
    e_out = embed(out, target_face.region)
    to_source = float(np.linalg.norm(e_out - embed(hopper)))
    to_target = float(np.linalg.norm(e_out - embed(astronaut)))
    assert to_source < to_target, (
        f"swapped face: distance to source {to_source:.3f}, to target {to_target:.3f}"
    )
    assert changed_outside(astronaut, out, target_face.region, MARGIN) == 0


def test_swap_in_collage_changes_only_the_right_face(
    collage, collage_faces, hopper, hopper_faces, embed, changed_outside
):
    # Given the collage (Hopper left, astronaut right) and Hopper's portrait as the source
    # When the right face only is swapped
    # Then the right face now embeds closer to Hopper than to the astronaut, and the left face's pixels
    # (indeed everything outside the right face's region) are exactly unchanged
    left, right = collage_faces
    out = engine.swap(collage, right, hopper, hopper_faces[0])
    e_out = embed(out, right.region)
    to_source = float(np.linalg.norm(e_out - embed(hopper)))
    to_target = float(np.linalg.norm(e_out - embed(collage, right.region)))
    assert to_source < to_target, (
        f"swapped face: distance to source {to_source:.3f}, to target {to_target:.3f}"
    )
    x, y, w, h = left.region
    assert np.array_equal(out[y : y + h, x : x + w], collage[y : y + h, x : x + w])
    assert changed_outside(collage, out, right.region, MARGIN) == 0
    assert not np.array_equal(out, collage)


def test_swap_astronaut_onto_hopper_keeps_outside(
    hopper, hopper_faces, astronaut, astronaut_faces, changed_outside
):
    # Given the reverse direction (small source face onto a larger target face) with enhance on
    # When swapped / Then the face changes a lot, pixels outside the region do not, and inputs are not mutated
    before_target, before_source = hopper.copy(), astronaut.copy()
    out = engine.swap(hopper, hopper_faces[0], astronaut, astronaut_faces[0], enhance=True)
    x, y, w, h = hopper_faces[0].region
    inner = np.abs(out[y : y + h, x : x + w].astype(int) - hopper[y : y + h, x : x + w])
    assert inner.mean() > 5
    assert changed_outside(hopper, out, hopper_faces[0].region, MARGIN) == 0
    assert np.array_equal(hopper, before_target) and np.array_equal(astronaut, before_source)


def test_enhance_sharpens_only_the_face(astronaut, astronaut_faces, hopper, hopper_faces, changed_outside):
    # Given the same swap with and without enhance / When compared
    # Then they differ (inside the face only)
    face = astronaut_faces[0]
    plain = engine.swap(astronaut, face, hopper, hopper_faces[0])
    sharp = engine.swap(astronaut, face, hopper, hopper_faces[0], enhance=True)
    assert not np.array_equal(plain, sharp)
    assert changed_outside(plain, sharp, face.region, MARGIN) == 0


def test_swap_degenerate_face_raises(astronaut, astronaut_faces, hopper):
    # Given a source "face" whose mesh collapses to one point / When swapped / Then EngineError
    collapsed = engine.Face(region=(10, 10, 1, 1), landmarks=((10, 10),) * 6, dense=np.full((478, 2), 10.0))
    with pytest.raises(engine.EngineError):
        engine.swap(astronaut, astronaut_faces[0], hopper, collapsed)
    with pytest.raises(engine.EngineError):
        engine.swap(astronaut, collapsed, hopper, astronaut_faces[0])


def test_swap_bad_mesh_or_image_raises(astronaut, astronaut_faces):
    # Given a face without a dense mesh, or a non-BGR image / When swapped / Then EngineError
    face = astronaut_faces[0]
    no_mesh = engine.Face(region=face.region, landmarks=face.landmarks, dense=np.zeros((5, 2)))
    with pytest.raises(engine.EngineError):
        engine.swap(astronaut, face, astronaut, no_mesh)
    with pytest.raises(engine.EngineError):
        engine.swap(astronaut[:, :, 0], face, astronaut, face)


def test_swap_face_cut_by_image_edge(astronaut, hopper, hopper_faces, changed_outside):
    # Given the astronaut cropped so her face touches the top-left corner
    # When detected and swapped / Then landmarks stay inside the image and only the face region changes
    cut = np.ascontiguousarray(astronaut[80:, 195:])
    faces = engine.detect(cut)
    assert len(faces) == 1
    face = faces[0]
    assert all(0 <= x < cut.shape[1] and 0 <= y < cut.shape[0] for x, y in face.landmarks)
    out = engine.swap(cut, face, hopper, hopper_faces[0])
    assert not np.array_equal(out, cut)
    assert changed_outside(cut, out, face.region, MARGIN) == 0

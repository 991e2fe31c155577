"""Face selection: left-to-right numbering, largest, all, points, and errors that list the faces."""

from __future__ import annotations

import pytest

from dropswap.domain.faces import (
    DetectedFace,
    FaceSelectionError,
    Point,
    Region,
    describe_faces,
    largest,
    order_faces,
    select,
)


def _face(x: int, y: int, w: int, h: int) -> DetectedFace:
    return DetectedFace(Region(x, y, w, h), ((x, y),) * 6, f"{x},{y}:{x},{y}:{x},{y}:{x},{y}")


# The contract's example: two faces, listed as 0:(120,80,90,110) 1:(300,95,88,104).
RIGHT = _face(300, 95, 88, 104)
LEFT = _face(120, 80, 90, 110)
ORDERED = order_faces([RIGHT, LEFT])


def test_given_faces_in_detector_order_when_ordered_then_left_to_right_by_box_x() -> None:
    assert ORDERED == [LEFT, RIGHT]
    assert order_faces([_face(10, 50, 5, 5), _face(10, 20, 5, 5)])[0].region.y == 20  # ties: top first


def test_given_index_when_selecting_then_that_face() -> None:
    assert [s.face for s in select(ORDERED, 1, "swaps[0].target")] == [RIGHT]
    assert select(ORDERED, 0, "swaps[0].target")[0].index == 0


def test_given_index_out_of_range_when_selecting_then_error_lists_faces() -> None:
    with pytest.raises(FaceSelectionError) as info:
        select(ORDERED, 2, "swaps[1].target")
    assert str(info.value) == (
        "swaps[1].target: no face with index 2 (faces are numbered from 0, left to right); "
        "faces found: 0:(120,80,90,110) 1:(300,95,88,104)"
    )


def test_given_point_outside_every_face_when_selecting_then_contract_message() -> None:
    with pytest.raises(FaceSelectionError) as info:
        select(ORDERED, Point(410, 220), "swaps[1].target")
    assert (
        str(info.value)
        == "swaps[1].target: no face at (410, 220); faces found: 0:(120,80,90,110) 1:(300,95,88,104)"
    )
    assert info.value.code == "FACE_NOT_FOUND"


def test_given_point_inside_a_box_when_selecting_then_that_face() -> None:
    assert select(ORDERED, Point(310, 100), "t")[0].face == RIGHT
    assert select(ORDERED, Point(120, 80), "t")[0].face == LEFT  # box edges count as inside


def test_given_point_inside_overlapping_boxes_when_selecting_then_nearest_centre_wins() -> None:
    big = _face(0, 0, 200, 200)  # centre (100, 100)
    small = _face(150, 150, 40, 40)  # centre (170, 170)
    faces = order_faces([big, small])
    assert select(faces, Point(165, 160), "t")[0].face == small
    assert select(faces, Point(151, 151), "t")[0].face == small
    assert select(faces, Point(110, 110), "t")[0].face == big


def test_given_largest_or_all_when_selecting_then_by_area_or_every_face() -> None:
    assert select(ORDERED, "largest", "t")[0].face == LEFT  # 90*110 > 88*104
    assert [s.index for s in select(ORDERED, "all", "t")] == [0, 1]
    assert largest([]) is None and largest([RIGHT, LEFT]) == LEFT


def test_given_no_faces_when_selecting_then_error_says_so() -> None:
    for target in (0, "largest", "all", Point(1, 1)):
        with pytest.raises(FaceSelectionError, match="no face found in the target image") as info:
            select([], target, "swaps[0].target")
        assert info.value.code == "NO_FACE" and info.value.field == "swaps[0].target"


def test_given_a_crowd_when_describing_then_list_is_capped() -> None:
    crowd = order_faces([_face(i * 10, 0, 8, 8) for i in range(30)])
    text = describe_faces(crowd)
    assert text.startswith("0:(0,0,8,8) 1:(10,0,8,8)") and text.endswith("… and 10 more")

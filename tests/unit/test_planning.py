"""Planning, as pure rules: detected faces in, engine and AKOOL request out (no AWS, no HTTP)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dropswap.domain import planning
from dropswap.domain.error_codes import ErrorCode
from dropswap.domain.faces import DetectedFace, FaceSelectionError, Region
from dropswap.domain.manifest import Manifest, ManifestError, parse_manifest

BUCKET = "drop"
IMAGE_URL = "https://s3.test/inbox/party/team.jpg"


def _face(x: int, y: int, w: int, h: int) -> DetectedFace:
    return DetectedFace(Region(x, y, w, h), ((x, y),) * 6, f"{x},{y}:{x},{y}:{x},{y}:{x},{y}")


LEFT, RIGHT = _face(120, 80, 90, 110), _face(300, 95, 88, 104)


def _manifest(*swaps: tuple[str, Any], **top: Any) -> Manifest:
    doc = {"version": 1, "swaps": [{"source": s, "target": t} for s, t in swaps], **top}
    return parse_manifest(json.dumps(doc).encode(), sidecar_key="inbox/party/team.jpg.faceswap.json",
                          drop_bucket=BUCKET)


def _urls(manifest: Manifest) -> dict[int, str]:
    return {s.index: f"https://s3.test/{s.source.key}" for s in manifest.swaps}


def test_given_one_largest_swap_on_auto_then_pro_without_landmarks() -> None:
    m = _manifest(("faces/alice.jpg", "largest"))
    plan = planning.shortcut(m, [RIGHT, LEFT], IMAGE_URL, _urls(m))
    assert plan is not None and plan.engine == "pro" and plan.faces_detected == 2
    assert plan.targets == [{"path": IMAGE_URL}] and plan.sources == [{"path": _urls(m)[0]}]
    # And the record (so the report) names the face replaced: the largest, index 0 from the left
    assert plan.summary == [{"swap": 0, "source": "faces/alice.jpg", "face": 0, "region": [120, 80, 90, 110]}]
    forced_v3 = _manifest(("faces/alice.jpg", "largest"), engine="v3")
    assert planning.shortcut(forced_v3, [RIGHT, LEFT], IMAGE_URL, _urls(m)) is None


def test_given_one_largest_swap_and_no_face_in_the_photo_then_no_face() -> None:
    # Given a photo the detector found no face in / When planning "largest" / Then NO_FACE, no plan
    m = _manifest(("faces/alice.jpg", "largest"))
    with pytest.raises(FaceSelectionError) as err:
        planning.shortcut(m, [], IMAGE_URL, _urls(m))
    assert err.value.code is ErrorCode.NO_FACE and err.value.field == "swaps[0].target"


def test_given_one_pair_on_auto_then_pro_and_no_source_opts() -> None:
    picked = planning.pick(_manifest(("faces/alice.jpg", 1)), [RIGHT, LEFT])
    assert picked.engine == "pro" and not picked.needs_source_opts
    m = _manifest(("faces/alice.jpg", 1))
    plan = planning.request(picked, IMAGE_URL, _urls(m), {})
    assert plan.targets == [{"path": IMAGE_URL, "opts": RIGHT.landmarks_str}]
    assert plan.sources == [{"path": _urls(m)[0]}]
    assert plan.request_summary(False) == {
        "engine": "pro", "face_enhance": False, "faces_detected": 2, "detect_calls": 0,
        "pairs": [{"swap": 0, "source": "faces/alice.jpg", "face": 1, "region": [300, 95, 88, 104]}],
    }


def test_given_two_pairs_sharing_a_source_then_v3_and_that_sources_face_in_both() -> None:
    m = _manifest(("faces/alice.jpg", "all"))
    picked = planning.pick(m, [RIGHT, LEFT])
    assert picked.engine == "v3" and picked.needs_source_opts
    alice = _face(20, 30, 120, 140)
    plan = planning.request(picked, IMAGE_URL, _urls(m), {m.swaps[0].source.describe(): alice})
    assert [t["opts"] for t in plan.targets] == [LEFT.landmarks_str, RIGHT.landmarks_str]
    assert plan.sources == [{"path": _urls(m)[0], "opts": alice.landmarks_str}] * 2


def test_given_the_same_face_chosen_twice_then_duplicate_face() -> None:
    m = _manifest(("faces/alice.jpg", 0), ("faces/bob.png", {"x": 130, "y": 90}))
    with pytest.raises(FaceSelectionError) as info:
        planning.pick(m, [RIGHT, LEFT])
    assert info.value.code == "DUPLICATE_FACE" and info.value.field == "swaps[1].target"


@pytest.mark.parametrize(("engine", "faces", "limit"), [("v3", 9, planning.V3_MAX_FACES),
                                                        ("pro", 51, planning.PRO_MAX_PAIRS)])
def test_given_more_faces_than_the_engine_takes_then_limit(engine: str, faces: int, limit: int) -> None:
    crowd = [_face(10 + 60 * i, 10, 50, 60) for i in range(faces)]
    with pytest.raises(ManifestError) as info:
        planning.pick(_manifest(("faces/alice.jpg", "all"), engine=engine), crowd)
    assert info.value.code == "LIMIT" and f"at most {limit}" in str(info.value)
    at_limit = planning.pick(_manifest(("faces/alice.jpg", "all"), engine=engine), crowd[:limit])
    assert len(at_limit.pairs) == limit


def test_given_a_source_without_a_face_then_no_face_naming_the_source() -> None:
    swap = _manifest(("faces/nobody.jpg", 0)).swaps[0]
    with pytest.raises(FaceSelectionError) as info:
        planning.source_face(swap, [])
    assert info.value.code == "NO_FACE" and info.value.field == "swaps[0].source"
    assert planning.source_face(swap, [LEFT, _face(0, 0, 200, 200)]).region == Region(0, 0, 200, 200)


def test_given_all_over_twelve_faces_then_limit_says_how_many_and_how_to_split() -> None:
    # Given a photo of 12 faces and "all" (auto → v3, which takes 8) / When picked
    crowd = [_face(10 + 60 * i, 10, 50, 60) for i in range(12)]
    with pytest.raises(ManifestError) as info:
        planning.pick(_manifest(("faces/alice.jpg", "all")), crowd)
    # Then the error names the field, the count, the limit and the rounds with indices to use
    err = info.value
    assert err.code == "LIMIT" and err.field == "swaps[0].target"
    assert '"all" means 12 faces in this photo' in err.message and "at most 8 faces" in err.message
    assert "into 2 rounds" in err.message and "list faces 0–7 as swaps by index" in err.message
    assert '{"source": "faces/alice.jpg", "target": 7}' in err.message
    assert "a sidecar for faces 8–11" in err.message and "11:(670,10,50,60)" in err.message


def test_given_all_over_twenty_faces_then_three_rounds() -> None:
    crowd = [_face(10 + 60 * i, 10, 50, 60) for i in range(20)]
    with pytest.raises(ManifestError) as info:
        planning.pick(_manifest(("faces/alice.jpg", "all")), crowd)
    assert "into 3 rounds" in info.value.message
    assert "for faces 8–15; repeat with each new result for faces 16–19" in info.value.message


def test_given_eight_indexed_swaps_plus_one_then_generic_limit() -> None:
    # Given 9 swaps by index (no "all") / Then the plain limit message on "swaps"
    crowd = [_face(10 + 60 * i, 10, 50, 60) for i in range(9)]
    m = _manifest(*[("faces/alice.jpg", i) for i in range(9)])
    with pytest.raises(ManifestError) as info:
        planning.pick(m, crowd)
    assert info.value.field == "swaps" and "9 faces selected" in info.value.message

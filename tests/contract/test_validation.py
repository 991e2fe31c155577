"""Submit validation for v4 Face Swap Pro and v3 specifyimage: codes 1003 and 1007, and accepted shapes."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.contract.helpers import V3, V4, Akool

OPTS = "204,102:247,104:224,132:224,147"
HOST = "http://127.0.0.1:9/"  # never fetched by these tests: they only look at the submit answer


def item(n: int, opts: str | None = OPTS) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": f"{HOST}img{n}.jpg"}
    if opts is not None:
        entry["opts"] = opts
    return entry


def v4_body(targets: int = 1, sources: int = 1, opts: str | None = OPTS, **extra: Any) -> dict[str, Any]:
    return {
        "targetImage": [item(i, opts) for i in range(targets)],
        "sourceImage": [item(100 + i, opts) for i in range(sources)],
        **extra,
    }


def v3_body(faces: int = 1, **extra: Any) -> dict[str, Any]:
    body = {
        "targetImage": [item(0) for _ in range(faces)],
        "sourceImage": [item(100 + i) for i in range(faces)],
        "modifyImage": f"{HOST}img0.jpg",
        "face_enhance": 0,
        "webhookUrl": "",
    }
    body.update(extra)
    return body


def code_of(akool: Akool, path: str, body: Any) -> int:
    code: int = akool.post(path, body).json()["code"]
    return code


# -- v4 Face Swap Pro -----------------------------------------------------------------------------------


def test_v4_accepts_a_minimal_pair_and_answers_without_url(akool: Akool) -> None:
    # Given one target and one source without opts (opts are optional for 1×1)
    # When submitted to Pro
    resp = akool.post(V4, v4_body(opts=None))
    answer = resp.json()
    # Then it is accepted with {_id, job_id} only: no url in a Pro submit answer
    assert resp.status_code == 200
    assert answer["code"] == 1000
    assert answer["msg"] == "OK"
    assert set(answer["data"]) == {"_id", "job_id"}
    assert re.fullmatch(r"[0-9a-f]{24}", answer["data"]["_id"])
    assert re.fullmatch(r"\d{17}-\d{4}", answer["data"]["job_id"])


@pytest.mark.parametrize(("targets", "sources"), [(0, 1), (1, 0), (51, 51)])
def test_v4_array_sizes_outside_1_to_50_are_1003(akool: Akool, targets: int, sources: int) -> None:
    # Given an empty array or 51 items
    # When submitted
    # Then 1003
    assert code_of(akool, V4, v4_body(targets, sources)) == 1003


def test_v4_50_pairs_are_accepted(akool: Akool) -> None:
    # Given 50 pairs with opts everywhere
    # When submitted
    # Then it is accepted (the upper bound is inclusive)
    assert code_of(akool, V4, v4_body(50, 50)) == 1000


@pytest.mark.parametrize("field", ["targetImage", "sourceImage"])
def test_v4_missing_array_is_1003(akool: Akool, field: str) -> None:
    # Given a body without one of the two required arrays
    body = v4_body()
    del body[field]
    # When submitted
    # Then 1003
    assert code_of(akool, V4, body) == 1003


@pytest.mark.parametrize(
    "path",
    ["ftp://127.0.0.1/a.jpg", "not a url", "/relative/a.jpg", "data:image/png;base64,AAAA", "", None, 7],
)
def test_v4_path_must_be_an_http_url(akool: Akool, path: Any) -> None:
    # Given a target whose path is not an http(s) URL (or is missing)
    body = v4_body(opts=None)
    body["targetImage"][0]["path"] = path
    # When submitted
    # Then 1003
    assert code_of(akool, V4, body) == 1003


def test_v4_https_path_is_accepted(akool: Akool) -> None:
    # Given https URLs (the job will fail to download later; submit only checks the shape)
    body = v4_body(opts=None)
    body["targetImage"][0]["path"] = "https://cdn.example.com/a.jpg"
    # When submitted
    # Then it is accepted
    assert code_of(akool, V4, body) == 1000


@pytest.mark.parametrize(
    ("field", "index"), [("targetImage", 0), ("targetImage", 1), ("sourceImage", 0), ("sourceImage", 1)]
)
def test_v4_opts_required_everywhere_when_an_array_has_two_items(
    akool: Akool, field: str, index: int
) -> None:
    # Given 2 pairs where one item lacks opts
    body = v4_body(2, 2)
    del body[field][index]["opts"]
    # When submitted
    # Then it is a validation error (1003)
    answer = akool.post(V4, body).json()
    assert answer["code"] == 1003
    assert "opts" in answer["msg"]


def test_v4_opts_optional_only_for_one_by_one(akool: Akool) -> None:
    # Given 1×1 without opts, and 2×2 with opts on every item
    # When each is submitted
    # Then both are accepted: the rule is "optional only when both arrays have exactly 1 item"
    assert code_of(akool, V4, v4_body(1, 1, opts=None)) == 1000
    assert code_of(akool, V4, v4_body(2, 2)) == 1000


def test_v4_mismatched_array_lengths_are_1003(akool: Akool) -> None:
    # Given 2 targets and 1 source (pairs match by index)
    # When submitted
    # Then 1003
    assert code_of(akool, V4, v4_body(2, 1)) == 1003


@pytest.mark.parametrize("value", ["true", 1, 0, "false", [True]])
@pytest.mark.parametrize("field", ["face_enhance", "single_face_mode"])
def test_v4_flags_must_be_booleans(akool: Akool, field: str, value: Any) -> None:
    # Given a non-boolean face_enhance or single_face_mode
    # When submitted
    # Then 1003
    assert code_of(akool, V4, v4_body(**{field: value})) == 1003


def test_v4_boolean_flags_and_model_name_are_accepted(akool: Akool) -> None:
    # Given proper booleans and the documented model
    body = v4_body(face_enhance=True, single_face_mode=False, model_name="akool_faceswap_image_hq")
    # When submitted
    # Then it is accepted
    assert code_of(akool, V4, body) == 1000


@pytest.mark.parametrize("model", ["akool_faceswap_image", "", 3])
def test_v4_unknown_model_name_is_1003(akool: Akool, model: Any) -> None:
    # Given a model_name outside {akool_faceswap_image_hq}
    # When submitted
    # Then 1003
    assert code_of(akool, V4, v4_body(model_name=model)) == 1003


@pytest.mark.parametrize("body", [None, [], "text"])
def test_v4_non_object_body_is_1003(akool: Akool, body: Any) -> None:
    # Given a JSON body that is not an object
    # When submitted
    # Then 1003
    assert code_of(akool, V4, body) == 1003


# -- v3 specifyimage -------------------------------------------------------------------------------------


def test_v3_answer_has_a_preallocated_url(akool: Akool) -> None:
    # Given a valid v3 request
    # When submitted
    answer = akool.post(V3, v3_body()).json()
    # Then it carries _id, job_id and a url allocated in advance, with AKOOL's "be patient" message
    assert answer["code"] == 1000
    assert answer["msg"].startswith("Please be patient!")
    data = answer["data"]
    assert set(data) == {"_id", "url", "job_id"}
    assert data["url"].startswith("http://127.0.0.1:")
    assert data["url"].endswith(f"/results/{data['_id']}.jpg")


@pytest.mark.parametrize("field", ["targetImage", "sourceImage", "modifyImage"])
def test_v3_required_fields_are_1003(akool: Akool, field: str) -> None:
    # Given a v3 body without one required field
    body = v3_body()
    del body[field]
    # When submitted
    answer = akool.post(V3, body).json()
    # Then 1003 naming the field
    assert answer["code"] == 1003
    assert field in answer["msg"]


def test_v3_nine_faces_are_1007(akool: Akool) -> None:
    # Given 9 target faces
    # When submitted
    answer = akool.post(V3, v3_body(faces=9)).json()
    # Then 1007 with AKOOL's message
    assert answer["code"] == 1007
    assert "cannot exceed 8" in answer["msg"]


def test_v3_eight_faces_are_accepted(akool: Akool) -> None:
    # Given 8 target faces (the limit)
    # When submitted
    # Then it is accepted
    assert code_of(akool, V3, v3_body(faces=8)) == 1000


@pytest.mark.parametrize("value", [True, False, 2, -1, "1", 0.5])
def test_v3_face_enhance_must_be_integer_0_or_1(akool: Akool, value: Any) -> None:
    # Given face_enhance that is not the integer 0 or 1 (booleans included: v3 wants an int)
    # When submitted
    # Then 1003
    assert code_of(akool, V3, v3_body(face_enhance=value)) == 1003


def test_v3_face_enhance_1_is_accepted(akool: Akool) -> None:
    # Given face_enhance 1 ("HD Optimized")
    # When submitted
    # Then accepted
    assert code_of(akool, V3, v3_body(face_enhance=1)) == 1000


def test_v3_modify_image_must_be_an_http_url(akool: Akool) -> None:
    # Given a modifyImage that is not a URL
    # When submitted
    # Then 1003
    assert code_of(akool, V3, v3_body(modifyImage="file:///etc/passwd")) == 1003


def test_v3_opts_rule_applies_to_several_faces(akool: Akool) -> None:
    # Given 2 faces where one target lacks opts (the shared schema's conditional rule)
    body = v3_body(faces=2)
    del body["targetImage"][1]["opts"]
    # When submitted
    # Then 1003
    assert code_of(akool, V3, body) == 1003


def test_v3_webhook_url_must_be_a_string(akool: Akool) -> None:
    # Given a webhookUrl that is not a string
    # When submitted
    # Then 1003
    assert code_of(akool, V3, v3_body(webhookUrl=42)) == 1003

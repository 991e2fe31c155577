"""The manifest's `metadata` (ARCHITECTURE §5): validated, then carried unchanged into the job's report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import responses

from devkit import images
from dropswap.domain.error_codes import ErrorCode
from dropswap.domain.jobs import Status
from dropswap.domain.manifest import MAX_METADATA_BYTES, ManifestError, parse_manifest
from dropswap.flows.common.finaliser import AkoolTruth
from events.generate import AKOOL_ID, JOB_ID
from tests.unit.akool_fake import FakeAkool, face, fake_akool
from tests.unit.submit_harness import Harness, make_harness
from tests.unit.test_finalise_support import JPEG, REPORT_KEY, finaliser, make_job, s3_json, store

SIDECAR = "inbox/party/team.jpg.faceswap.json"
IMAGE = "inbox/party/team.jpg"
ALICE = "inbox/party/faces/alice.jpg"
# Floats, nesting, Unicode, big integers and key order: what a user's object may hold, all kept as is.
METADATA: dict[str, Any] = {
    "order": "A-1042", "score": 0.1, "tags": ["é", {"n": 12345678901234567890}], "z": None, "a": True,
}


def _doc(**top: Any) -> dict[str, Any]:
    return {"version": 1, "swaps": [{"source": "faces/alice.jpg", "target": 0}], **top}


def _parse(doc: dict[str, Any]) -> Any:
    return parse_manifest(json.dumps(doc).encode(), sidecar_key=SIDECAR, drop_bucket="drop")


# -- validation -----------------------------------------------------------------------------------
def test_given_metadata_object_when_parsed_then_kept_unchanged_as_compact_json() -> None:
    manifest = _parse(_doc(metadata=METADATA))
    assert manifest.metadata_json is not None
    assert json.loads(manifest.metadata_json) == METADATA
    assert list(json.loads(manifest.metadata_json)) == list(METADATA)  # key order too


def test_given_no_metadata_then_none() -> None:
    assert _parse(_doc()).metadata_json is None


@pytest.mark.parametrize("value", [["A-1042"], "A-1042", 7, None, True])
def test_given_metadata_not_an_object_then_error_names_the_field_and_shows_the_shape(value: Any) -> None:
    with pytest.raises(ManifestError) as info:
        _parse(_doc(metadata=value))
    assert info.value.field == "metadata"
    assert 'must be a JSON object of your own, like {"order": "A-1042"}' in info.value.message


def test_given_metadata_of_exactly_2_kib_then_accepted_and_one_byte_more_rejected_with_its_size() -> None:
    # {"k":"xxx…"} is 8 bytes of JSON around the string
    fits = {"k": "x" * (MAX_METADATA_BYTES - 8)}
    assert len(_parse(_doc(metadata=fits)).metadata_json.encode()) == MAX_METADATA_BYTES
    with pytest.raises(ManifestError) as info:
        _parse(_doc(metadata={"k": "x" * (MAX_METADATA_BYTES - 7)}))
    assert info.value.field == "metadata" and info.value.code is ErrorCode.LIMIT
    assert "is 2049 bytes as compact JSON; at most 2048 (2 KiB)" in info.value.message


def test_given_metadata_too_big_and_a_bad_source_then_both_named_at_once() -> None:
    doc = _doc(metadata={"k": "é" * MAX_METADATA_BYTES})
    doc["swaps"][0]["source"] = "http://example.com/a.jpg"
    with pytest.raises(ManifestError) as info:
        _parse(doc)
    assert info.value.field == "swaps[0].source" and "also metadata: is 4104 bytes" in info.value.message


@pytest.mark.parametrize(
    ("doc", "kept"),
    [
        pytest.param(_doc(metadata=METADATA, engine="v4"), True, id="another field invalid: kept"),
        pytest.param({"version": 1, "swaps": [{"source": "http://example.com/a.jpg", "target": 0}],
                      "metadata": METADATA}, True, id="bad source: kept"),
        pytest.param(_doc(metadata={"k": "x" * MAX_METADATA_BYTES}, engine="v4"), False, id="too big: none"),
        pytest.param(_doc(metadata=["A-1042"]), False, id="not an object: none"),
    ],
)
def test_given_invalid_manifest_when_parsed_then_its_error_carries_the_metadata_only_if_that_is_valid(
    doc: dict[str, Any], kept: bool
) -> None:
    with pytest.raises(ManifestError) as info:
        _parse(doc)
    expected = json.dumps(METADATA, ensure_ascii=False, separators=(",", ":")) if kept else None
    assert info.value.metadata_json == expected


def test_given_metadata_with_a_lone_surrogate_when_parsed_then_its_error_carries_none() -> None:
    data = b'{"version": 1, "swaps": [], "metadata": {"k": "\\ud800"}}'
    with pytest.raises(ManifestError) as info:
        parse_manifest(data, sidecar_key=SIDECAR, drop_bucket="drop")
    assert info.value.code is ErrorCode.INVALID_JSON and info.value.metadata_json is None


# -- into the report ------------------------------------------------------------------------------
@pytest.fixture
def h(resources: dict[str, str]) -> Iterator[Harness]:
    for akool in fake_akool():
        yield _harness(akool)


def _harness(akool: FakeAkool) -> Harness:
    akool.faces["party/team.jpg"] = [face(120, 80, 90, 110)]
    akool.faces["faces/alice.jpg"] = [face(20, 30, 120, 140)]
    return make_harness(akool)


def test_given_metadata_when_submitted_then_the_job_record_holds_it(h: Harness) -> None:
    h.put(ALICE)
    h.put(IMAGE)
    [outcome] = h.event(h.put_manifest(IMAGE, _doc(metadata=METADATA)))
    assert outcome.kind == "SUBMITTED"
    assert h.job(IMAGE).metadata == METADATA


def test_given_metadata_when_rejected_at_submit_then_the_report_carries_it(h: Harness) -> None:
    h.put(ALICE)
    h.put(IMAGE)
    doc = _doc(metadata=METADATA)
    doc["swaps"][0]["target"] = 5  # the photo has one face
    [outcome] = h.event(h.put_manifest(IMAGE, doc))
    assert outcome.kind == "REJECTED"
    report = h.report(IMAGE)
    assert report["status"] == "REJECTED" and report["metadata"] == METADATA


def test_given_no_metadata_when_rejected_then_the_report_says_null(h: Harness) -> None:
    h.put(IMAGE)
    [outcome] = h.event(h.put_manifest(IMAGE, _doc(metadata=[1])))
    assert outcome.kind == "REJECTED"
    assert h.report(IMAGE)["metadata"] is None


@responses.activate
def test_given_submitted_job_with_metadata_when_succeeded_then_the_report_carries_it(resources) -> None:
    responses.get("https://results.akool.test/final.jpg", body=JPEG, content_type="image/jpeg")
    make_job()
    res = store().transition(JOB_ID, Status.PROCESSING, set_fields={"metadata_json": json.dumps(METADATA)})
    assert res.job is not None
    fin, _ = finaliser()
    fin.apply(res.job, AkoolTruth(akool_id=AKOOL_ID, status=3, url="https://results.akool.test/final.jpg"))
    report = s3_json(REPORT_KEY)
    assert report["status"] == "SUCCEEDED" and report["metadata"] == METADATA


@pytest.mark.parametrize(
    ("photo", "source", "code"),
    [
        pytest.param(b"", "faces/alice.jpg", "EMPTY_IMAGE", id="empty photo"),
        pytest.param(images.jpeg(), "faces/alice.gif", "UNSUPPORTED_TYPE", id="source not an image type"),
    ],
)
def test_given_metadata_when_the_input_gate_refuses_an_input_then_the_report_carries_it(
    h: Harness, photo: bytes, source: str, code: str
) -> None:
    # Given a manifest with metadata whose inputs are refused before any AKOOL call (sizes and types)
    h.put(ALICE)
    h.put(IMAGE, photo)
    doc = {"version": 1, "swaps": [{"source": source, "target": 0}], "metadata": METADATA}
    # When its sidecar arrives
    [outcome] = h.event(h.put_manifest(IMAGE, doc))
    # Then the rejection's report carries the metadata
    report = h.report(IMAGE)
    assert outcome.kind == "REJECTED" and report["error"]["code"] == code
    assert report["metadata"] == METADATA


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param(_doc(metadata=METADATA, colour="red"), id="unknown field"),
        pytest.param({"version": 1, "swaps": [{"source": "ftp://x/a.jpg", "target": 0}],
                      "metadata": METADATA}, id="bad source"),
    ],
)
def test_given_valid_metadata_in_an_otherwise_invalid_manifest_when_rejected_then_the_report_carries_it(
    h: Harness, doc: dict[str, Any]
) -> None:
    h.put(IMAGE)
    [outcome] = h.event(h.put_manifest(IMAGE, doc))
    assert outcome.kind == "REJECTED"
    assert h.report(IMAGE)["metadata"] == METADATA


def test_given_metadata_when_the_job_waits_for_its_face_then_the_waiting_report_carries_it(
    h: Harness,
) -> None:
    # Given the photo, not the face yet; when the sidecar with metadata arrives
    h.put(IMAGE)
    [outcome] = h.event(h.put_manifest(IMAGE, _doc(metadata=METADATA)))
    # Then the WAITING report (and the record it ends from) carry the metadata
    assert outcome.kind == "WAITING"
    report = h.report(IMAGE)
    assert report["status"] == "WAITING" and report["metadata"] == METADATA
    assert h.job(IMAGE).metadata == METADATA


@pytest.mark.parametrize(
    "manifest", [IMAGE.replace("team.jpg", "clip.gif.faceswap.json"), "inbox/party/_folder.faceswap.json"]
)
def test_given_metadata_when_its_file_is_not_a_supported_image_then_the_unsupported_report_carries_it(
    h: Harness, manifest: str
) -> None:
    # Given a manifest with metadata (the GIF's own sidecar, or its folder's manifest)
    h.put(manifest, json.dumps(_doc(metadata=METADATA)).encode())
    # When the GIF is uploaded
    [outcome] = h.upload("inbox/party/clip.gif", b"GIF89a")
    # Then its UNSUPPORTED_TYPE report carries the metadata
    report = h.report("inbox/party/clip.gif")
    assert outcome.kind == "REJECTED" and report["error"]["code"] == "UNSUPPORTED_TYPE"
    assert report["metadata"] == METADATA

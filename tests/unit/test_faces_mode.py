"""`"mode": "faces"` (detection only, a numbered preview) and the faces a SUCCEEDED report lists, in moto
with AKOOL faked at the requests boundary."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses

from dropswap.domain.akool import AkoolTruth
from dropswap.domain.faces import DetectedFace, Region
from dropswap.domain.faces_preview import BOX_COLOUR, CHUNK_BYTES, PhotoTooLarge, face_list, write_preview
from dropswap.domain.jobs import Status
from tests.conftest import BUCKET
from tests.unit.akool_fake import FakeAkool, face, fake_akool
from tests.unit.submit_harness import Harness, make_harness
from tests.unit.test_finalise_support import finaliser

IMAGE = "inbox/party/team.jpg"
FACES_ONLY = {"version": 1, "mode": "faces"}
# Two faces, as the detector lists them (not left to right): 0:(120,80,90,110) 1:(300,95,88,104).
LEFT, RIGHT = face(120, 80, 90, 110), face(300, 95, 88, 104)
# Bigger than one read chunk and not a multiple of 3: the chunked base64 must still be the photo's.
PHOTO = b"\xff\xd8\xff\xe0" + os.urandom(1_000_003)


@pytest.fixture
def akool(resources: dict[str, str]) -> Iterator[FakeAkool]:
    yield from fake_akool()


@pytest.fixture
def h(akool: FakeAkool) -> Harness:
    akool.faces["party/team.jpg"] = [RIGHT, LEFT]
    akool.faces["faces/alice.jpg"] = [face(20, 30, 120, 140)]
    akool.faces["faces/bob.png"] = [face(5, 5, 60, 70)]
    return make_harness(akool)


def _text(h: Harness, key: str) -> str:
    return str(h.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode("utf-8"))


def _boxes(page: str) -> list[tuple[int, int, int, int, int]]:
    """(left, top, width, height, number) of each box the page draws."""
    found = re.findall(
        r'<div class="face" style="left:(\d+)px;top:(\d+)px;width:(\d+)px;height:(\d+)px;[^"]*">'
        r"<b[^>]*>(\d+)</b></div>",
        page,
    )
    return [tuple(int(v) for v in f) for f in found]  # type: ignore[misc]


# -- the faces job ----------------------------------------------------------------------------------
def test_given_faces_mode_when_dropped_then_faces_json_preview_and_succeeded_report(h: Harness) -> None:
    # Given a photo with two faces and a sidecar asking only for its faces
    h.put(IMAGE, PHOTO)
    sidecar = h.put_manifest(IMAGE, FACES_ONLY)
    # When the sidecar's event arrives
    [outcome] = h.event(sidecar)
    # Then the job SUCCEEDED with one detection and no swap sent to AKOOL
    assert outcome.kind == "SUCCEEDED"
    assert len(h.akool.detections()) == 1 and h.akool.submissions() == []
    expected = [{"index": 0, "box": [120, 80, 90, 110]}, {"index": 1, "box": [300, 95, 88, 104]}]
    # And faces.json lists the faces left to right, as targets number them
    doc = json.loads(_text(h, "results/party/team.jpg.faces.json"))
    assert doc["faces"] == expected
    assert doc["image"] == f"s3://{BUCKET}/{IMAGE}"
    assert doc["preview"] == f"s3://{BUCKET}/results/party/team.jpg.faces.html"
    # And the report is SUCCEEDED, its result the preview, its faces those found
    report = h.report(IMAGE)
    assert report["status"] == "SUCCEEDED" and report["error"] is None
    assert report["result"] == f"s3://{BUCKET}/results/party/team.jpg.faces.html"
    assert report["faces"] == expected
    assert set(report) >= {"job_id", "status", "image", "manifest", "result", "faces", "error", "akool",
                           "timings"}
    job = h.job(IMAGE)
    assert job.status is Status.SUCCEEDED and job.result_key == "results/party/team.jpg.faces.html"
    # And the preview is an HTML page with the photo embedded and a numbered box per face
    head = h.s3.head_object(Bucket=BUCKET, Key="results/party/team.jpg.faces.html")
    assert head["ContentType"] == "text/html; charset=utf-8"
    page = _text(h, "results/party/team.jpg.faces.html")
    assert f'src="data:image/jpeg;base64,{base64.b64encode(PHOTO).decode()}"' in page
    assert _boxes(page) == [(120, 80, 90, 110, 0), (300, 95, 88, 104, 1)]
    assert BOX_COLOUR in page
    # And it loads nothing from anywhere (readable offline): no URL but the data: one
    assert "http://" not in page and "https://" not in page and "default-src 'none'" in page


def test_given_faces_mode_and_a_duplicate_event_then_nothing_more_is_done(h: Harness) -> None:
    h.put(IMAGE, PHOTO)
    sidecar = h.put_manifest(IMAGE, FACES_ONLY)
    h.event(sidecar)
    # When the same sidecar's event comes again (and the photo's own)
    again = h.event(sidecar) + h.event(IMAGE)
    # Then no second detection, and nothing submitted
    assert {o.kind for o in again} == {"DUPLICATE"}
    assert len(h.akool.detections()) == 1 and h.akool.submissions() == []


def test_given_faces_mode_on_a_faceless_photo_then_succeeded_with_no_faces(h: Harness) -> None:
    # Given a photo the detector finds no face in
    h.akool.faces["party/team.jpg"] = []
    h.put(IMAGE, PHOTO)
    [outcome] = h.event(h.put_manifest(IMAGE, FACES_ONLY))
    # Then SUCCEEDED with an empty list, and the preview says so
    assert outcome.kind == "SUCCEEDED"
    assert h.report(IMAGE)["faces"] == []
    page = _text(h, "results/party/team.jpg.faces.html")
    assert "No face was found" in page and _boxes(page) == []


def test_given_faces_mode_when_detector_cannot_read_the_photo_then_rejected(h: Harness) -> None:
    # Given AKOOL's detector failing on the photo for good (no business code, not retryable)
    h.akool.queue("detect", 400, {"error_code": 1, "error_msg": "Invalid image format", "faces_obj": {}})
    h.put(IMAGE, PHOTO)
    [outcome] = h.event(h.put_manifest(IMAGE, FACES_ONLY))
    # Then REJECTED as unreadable, with a report, and no preview
    assert outcome.kind == "REJECTED"
    assert h.report(IMAGE)["error"]["code"] == "UNREADABLE_IMAGE"
    assert h.report(IMAGE)["faces"] is None
    assert h.objects.head("results/party/team.jpg.faces.html") is None


# -- the preview page -------------------------------------------------------------------------------
def test_given_odd_chunks_then_embedded_photo_is_the_whole_photo() -> None:
    # Given the photo in chunks of sizes that are not multiples of 3
    photo = bytes(range(256)) * 7 + b"xy"
    chunks = [photo[:1], photo[1:6], photo[6:1000], photo[1000:]]
    out = io.BytesIO()
    # When the page is written / Then the data: URI decodes to the photo, byte for byte
    size = write_preview(out, image_key="inbox/a/b.png", photo=chunks, faces=[], max_photo_bytes=10_000)
    page = out.getvalue().decode()
    data = re.search(r'src="data:image/png;base64,([^"]*)"', page)
    assert data is not None and base64.b64decode(data.group(1)) == photo and size == len(photo)


def test_given_photo_over_the_limit_then_photo_too_large() -> None:
    with pytest.raises(PhotoTooLarge):
        write_preview(io.BytesIO(), image_key="inbox/a.jpg", photo=[b"x" * 10, b"x" * 10], faces=[],
                      max_photo_bytes=15)


def test_given_markup_in_the_key_then_escaped_in_the_page() -> None:
    out = io.BytesIO()
    write_preview(out, image_key='inbox/<script>"x".jpg', photo=[b"abc"],
                  faces=[{"index": 0, "box": [1, 2, 3, 4]}], max_photo_bytes=10)
    page = out.getvalue().decode()
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_given_detector_order_then_face_list_is_left_to_right() -> None:
    def detected(x: int) -> DetectedFace:
        return DetectedFace(Region(x, 5, 10, 10), ((0, 0),) * 6, "0,0:0,0:0,0:0,0")

    assert [f["box"][0] for f in face_list([detected(300), detected(20), detected(150)])] == [20, 150, 300]
    assert [f["index"] for f in face_list([detected(300), detected(20)])] == [0, 1]


# -- a swap's SUCCEEDED report ----------------------------------------------------------------------
def test_given_swap_succeeded_then_report_lists_each_replaced_face(h: Harness) -> None:
    # Given a swap of both faces (right one by index, left one by point), submitted
    h.put("inbox/party/faces/alice.jpg")
    h.put("inbox/party/faces/bob.png")
    h.put(IMAGE)
    manifest: dict[str, Any] = {"version": 1, "swaps": [
        {"source": "faces/alice.jpg", "target": 1},
        {"source": "faces/bob.png", "target": {"x": 130, "y": 90}},
    ]}
    [outcome] = h.event(h.put_manifest(IMAGE, manifest))
    assert outcome.kind == "SUBMITTED"
    job = h.job(IMAGE)
    # When AKOOL's result arrives and the job is finalised
    fin, _ = finaliser()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get("https://results.akool.test/final.jpg", body=b"\xff\xd8\xff\xe0result",
                 content_type="image/jpeg")
        result = fin.apply(job, AkoolTruth(akool_id=str(job.akool_id), status=3,
                                           url="https://results.akool.test/final.jpg"))
    assert result.job is not None and result.job.status is Status.SUCCEEDED
    # Then the report lists each replaced face: index and box in the photo, and its source
    assert h.report(IMAGE)["faces"] == [
        {"index": 1, "box": [300, 95, 88, 104], "source": "faces/alice.jpg"},
        {"index": 0, "box": [120, 80, 90, 110], "source": "faces/bob.png"},
    ]


def test_given_swap_not_succeeded_then_report_has_no_faces(h: Harness) -> None:
    # Given a swap AKOOL refuses for good (quota) / Then the FAILED report lists no faces replaced
    h.akool.queue_code("pro", 1006)
    h.put("inbox/party/faces/alice.jpg")
    h.put(IMAGE)
    [outcome] = h.event(h.put_manifest(IMAGE, {"version": 1, "swaps": [{"source": "faces/alice.jpg",
                                                                         "target": 0}]}))
    assert outcome.kind == "FAILED"
    assert h.report(IMAGE)["faces"] is None


def test_given_a_photo_of_max_size_then_preview_memory_stays_at_a_few_chunks(tmp_path: Path) -> None:
    # Given a 20 MB photo (MAX_IMAGE_BYTES's default) read in CHUNK_BYTES chunks, written to a file
    total = 20 * 1024 * 1024
    chunk = os.urandom(CHUNK_BYTES)

    def chunks() -> Iterator[bytes]:
        for start in range(0, total, CHUNK_BYTES):
            yield chunk[: min(CHUNK_BYTES, total - start)]

    # When the page is written, with allocations traced
    tracemalloc.start()
    with open(tmp_path / "p.html", "wb") as out:
        write_preview(out, image_key="inbox/big.jpg", photo=chunks(), faces=[], max_photo_bytes=total)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # Then the peak is a few chunks' worth, not the photo (20 MB) or its base64 (27 MB)
    assert peak < 4 * CHUNK_BYTES, peak
    assert (tmp_path / "p.html").stat().st_size > total * 4 // 3


def test_given_an_older_swapped_image_when_faces_job_succeeds_then_it_is_removed(h: Harness) -> None:
    # Given an older job's swapped image beside the photo's report name
    h.put("results/party/team.swapped.jpg", b"\xff\xd8\xff\xe0older")
    h.put(IMAGE, PHOTO)
    # When a faces job for the photo succeeds
    [outcome] = h.event(h.put_manifest(IMAGE, FACES_ONLY))
    assert outcome.kind == "SUCCEEDED"
    # Then the older swapped image is gone: the SUCCEEDED report beside it is the faces job's
    assert h.objects.head("results/party/team.swapped.jpg") is None

"""The results folder never misleads (ARCHITECTURE §4 v2): WAITING reports at once, UNSUPPORTED_TYPE reports,
superseded jobs never write the public names, and no older swapped image beside a newer job's report."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import responses

from dropswap.adapters.object_store import ObjectStore
from dropswap.domain.jobs import Status
from dropswap.domain.keys import KeyKind, classify
from dropswap.flows.common.finaliser import Action, AkoolTruth
from dropswap.flows.submit import input_gate
from events.generate import AKOOL_ID
from tests.conftest import BUCKET, REGION
from tests.unit.akool_fake import FakeAkool, face, fake_akool
from tests.unit.submit_harness import JPEG, S3_CONFIG, Harness, make_harness
from tests.unit.test_finalise_support import (
    REPORT_KEY,
    RESULT_KEY,
    finaliser,
    get_job,
    make_job,
    objects,
    s3_json,
    s3_keys,
)

IMAGE = "inbox/trip/x.jpg"
SWAPPED = "results/trip/x.swapped.jpg"
URL = "https://results.akool.test/final.jpg?Signature=s3cr3t"


@pytest.fixture
def akool(resources: dict[str, str]) -> Iterator[FakeAkool]:
    yield from fake_akool()


@pytest.fixture
def h(akool: FakeAkool) -> Harness:
    akool.faces["trip/x.jpg"] = [face(120, 80, 90, 110)]
    akool.faces["faces/hopper.jpg"] = [face(20, 30, 120, 140)]
    return make_harness(akool)


def _one_swap(source: str) -> dict[str, Any]:
    return {"version": 1, "swaps": [{"source": source, "target": 0}]}


# -- WAITING reports ------------------------------------------------------------------------------------
def test_given_source_off_by_a_folder_when_sidecar_arrives_then_waiting_report_names_key_and_hint(
    h: Harness,
) -> None:
    # Given the face one folder up from where the sidecar's relative path points
    h.put("inbox/faces/hopper.jpg")
    h.put(IMAGE)
    sidecar = h.put_manifest(IMAGE, _one_swap("faces/hopper.jpg"))
    # When the sidecar arrives
    assert [o.kind for o in h.event(sidecar)] == ["WAITING"]
    # Then a WAITING report is there at once, naming the resolved key, with the hint
    report = h.report(IMAGE)
    assert report["status"] == "WAITING" and report["job_id"] == h.job_id(IMAGE) and report["error"] is None
    assert report["waiting_for"] == "input" and report["expires_at"]
    [missing] = report["missing"]
    assert missing["field"] == "swaps[0].source"
    assert missing["key"] == f"s3://{BUCKET}/inbox/trip/faces/hopper.jpg"
    hint = f"did you mean '../faces/hopper.jpg'? s3://{BUCKET}/inbox/faces/hopper.jpg exists"
    assert missing["hint"] == hint


def test_given_photo_and_source_missing_then_waiting_report_names_both_without_a_hint(h: Harness) -> None:
    sidecar = h.put_manifest(IMAGE, _one_swap("faces/hopper.jpg"))
    assert [o.kind for o in h.event(sidecar)] == ["WAITING"]
    report = h.report(IMAGE)
    assert [(m["field"], m["key"]) for m in report["missing"]] == [
        ("image", f"s3://{BUCKET}/{IMAGE}"),
        ("swaps[0].source", f"s3://{BUCKET}/inbox/trip/faces/hopper.jpg"),
    ]
    assert all("hint" not in m for m in report["missing"])


def test_given_waiting_report_when_inputs_arrive_then_the_job_runs_and_its_end_replaces_the_report(
    h: Harness,
) -> None:
    h.put(IMAGE)
    sidecar = h.put_manifest(IMAGE, _one_swap("../faces/hopper.jpg"))
    h.event(sidecar)
    assert h.report(IMAGE)["status"] == "WAITING"
    assert [o.kind for o in h.upload("inbox/faces/hopper.jpg")] == ["SUBMITTED"]


# -- near misses (issue 18 item 2) ------------------------------------------------------------------------
def _missing(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The WAITING report's missing inputs: `missing` by the live-states contract (issue 18), the list
    under `waiting_for` before it."""
    entries = report.get("missing", report["waiting_for"])
    assert isinstance(entries, list)
    return entries


class CountingObjects(ObjectStore):
    """The harness's object store, counting folder listings and the LIST calls they make."""

    def __init__(self) -> None:
        client = boto3.client("s3", region_name=REGION, config=S3_CONFIG)
        super().__init__(client, BUCKET)
        self.listed: list[str] = []
        self.list_calls = 0
        client.meta.events.register("before-call.s3.ListObjectsV2", self._count)

    def _count(self, **_: Any) -> None:
        self.list_calls += 1

    def list_folder(self, folder: str, page_size: int = 1000) -> Iterator[str]:
        self.listed.append(folder)
        return super().list_folder(folder, page_size)


def test_given_a_jpeg_photo_when_its_sidecar_names_a_jpg_then_waiting_report_says_did_you_mean(
    h: Harness,
) -> None:
    # Given the camera's IMG_1.jpeg and a sidecar written for IMG_1.jpg
    h.put("inbox/trip/IMG_1.jpeg")
    h.put("inbox/faces/hopper.jpg")
    sidecar = h.put_manifest("inbox/trip/IMG_1.jpg", _one_swap("../faces/hopper.jpg"))
    # When the sidecar arrives
    assert [o.kind for o in h.event(sidecar)] == ["WAITING"]
    # Then the WAITING report names the photo it likely meant, and how to fix the sidecar
    [photo] = _missing(h.report("inbox/trip/IMG_1.jpg"))
    assert photo["field"] == "image"
    assert photo["did_you_mean"] == [f"s3://{BUCKET}/inbox/trip/IMG_1.jpeg"]
    assert photo["hint"] == (
        f"did you mean 'IMG_1.jpeg'? s3://{BUCKET}/inbox/trip/IMG_1.jpeg exists (same name, another "
        "extension); a sidecar's name is its photo's full name plus .faceswap.json: rename it to "
        "'IMG_1.jpeg.faceswap.json'"
    )


def test_given_a_misspelt_source_and_photo_in_one_folder_then_one_listing_and_each_gets_its_near_miss(
    h: Harness,
) -> None:
    # Given a photo IMG_1.JPG and a face hopper.jpg, in the sidecar's folder
    h.put("inbox/trip/IMG_1.JPG")
    h.put("inbox/trip/hopper.jpg")
    sidecar = h.put_manifest("inbox/trip/IMG_1.jpg", _one_swap("./hoper.jpg"))
    counting = CountingObjects()
    # When the sidecar (naming IMG_1.jpg and ./hoper.jpg) arrives
    assert [o.kind for o in h.event(sidecar, h.submitter(objects=counting))] == ["WAITING"]
    # Then both entries have their near miss, spelled as the manifest would write it
    photo, source = _missing(h.report("inbox/trip/IMG_1.jpg"))
    assert photo["did_you_mean"] == [f"s3://{BUCKET}/inbox/trip/IMG_1.JPG"]
    assert "(same name in another letter case)" in photo["hint"]
    assert source["field"] == "swaps[0].source"
    assert source["did_you_mean"] == [f"s3://{BUCKET}/inbox/trip/hopper.jpg"]
    assert source["hint"].startswith("did you mean './hopper.jpg'? ") and "(a similar name)" in source["hint"]
    # And the folder was listed once for both
    assert counting.listed == ["inbox/trip/"]


def test_given_a_source_one_folder_off_and_a_near_miss_then_both_are_offered_the_folder_first(
    h: Harness,
) -> None:
    h.put(IMAGE)
    h.put("inbox/faces/hopper.jpg")
    h.put("inbox/trip/faces/Hopper.jpg")
    h.event(h.put_manifest(IMAGE, _one_swap("faces/hopper.jpg")))
    [source] = _missing(h.report(IMAGE))
    assert source["did_you_mean"] == [
        f"s3://{BUCKET}/inbox/faces/hopper.jpg", f"s3://{BUCKET}/inbox/trip/faces/Hopper.jpg"
    ]
    assert source["hint"] == (
        "did you mean '../faces/hopper.jpg' or 'faces/Hopper.jpg' (same name in another letter case)?"
    )


def test_given_a_folder_of_more_than_a_page_then_the_hint_reads_one_page_only(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a folder of four keys, and a bound of 2 keys (standing for S3's page of 1,000)
    monkeypatch.setattr(input_gate, "LIST_BOUND", 2)
    for name in ("aaaa.jpg", "bbbb.jpg", "photo.jpg"):
        h.put("inbox/trip/" + name)
    counting = CountingObjects()
    # When the WAITING report is made for photo.jpeg, whose near miss photo.jpg is past the first two keys
    h.event(h.put_manifest("inbox/trip/photo.jpeg", _one_swap("aaaa.jpg")), h.submitter(objects=counting))
    # Then one LIST call was made, and the near miss past the bound goes unnamed
    assert counting.list_calls == 1
    assert ["did_you_mean" in m for m in _missing(h.report("inbox/trip/photo.jpeg"))] == [False]


def test_given_a_sidecar_without_a_photo_extension_then_rejected_at_once_naming_the_near_miss(
    h: Harness,
) -> None:
    # Given the photo noext.jpg, and a sidecar named noext.faceswap.json (it names the photo `noext`)
    h.put("inbox/trip/noext.jpg")
    # When the sidecar arrives
    outcomes = h.event(h.put_manifest("inbox/trip/noext", _one_swap("../faces/hopper.jpg")))
    # Then a report at once says so, and names the photo it likely meant
    assert [o.kind for o in outcomes] == ["REJECTED"]
    error = h.report("inbox/trip/noext")["error"]
    assert error["code"] == "UNSUPPORTED_TYPE"
    assert error["message"].endswith(
        f"; did you mean 'noext.jpg'? s3://{BUCKET}/inbox/trip/noext.jpg exists (the name with an "
        "extension); a sidecar's name is its photo's full name plus .faceswap.json: rename it to "
        "'noext.jpg.faceswap.json'"
    )
    assert h.akool.submissions() == []


# -- unsupported types ----------------------------------------------------------------------------------
@pytest.mark.parametrize("order", ["file-first", "sidecar-first"])
def test_given_gif_with_a_sidecar_then_unsupported_type_report_naming_supported_types(
    h: Harness, order: str
) -> None:
    gif, sidecar = "inbox/x/a.gif", "inbox/x/a.gif.faceswap.json"
    doc = _one_swap("../faces/hopper.jpg")
    if order == "file-first":
        assert [o.kind for o in h.upload(gif)] == ["IGNORED"]  # no sidecar yet
        h.put_manifest(gif, doc)
        outcomes = h.event(sidecar)
    else:
        h.put_manifest(gif, doc)
        h.event(sidecar)
        outcomes = h.upload(gif)
    assert [o.kind for o in outcomes] == ["REJECTED"]
    report = h.report(gif)
    assert report["status"] == "REJECTED" and report["error"]["code"] == "UNSUPPORTED_TYPE"
    message = report["error"]["message"]
    assert ".gif" in message and ".bmp, .jpeg, .jpg, .png, .webp" in message
    assert h.akool.submissions() == []


def test_given_keys_then_unsupported_files_and_their_sidecars_are_told_apart() -> None:
    assert classify("inbox/x/a.gif") is KeyKind.UNSUPPORTED
    assert classify("inbox/x/a.gif.faceswap.json") is KeyKind.UNSUPPORTED
    assert classify("inbox/x/a.heic") is KeyKind.UNSUPPORTED
    assert classify("inbox/x/_folder.faceswap.json") is KeyKind.FOLDER_MANIFEST
    assert classify("inbox/x/notes.json") is KeyKind.OTHER
    assert classify("inbox/x/") is KeyKind.OTHER
    assert classify("results/x/a.gif") is KeyKind.OTHER


# -- no older swapped image beside a newer report -------------------------------------------------------
def test_given_older_result_when_newer_sidecar_is_rejected_then_the_old_swapped_image_is_removed(
    h: Harness,
) -> None:
    # Given an older job's swapped image
    h.put(SWAPPED, b"older result", bucket=BUCKET)
    h.put(IMAGE)
    # When a newer sidecar is rejected
    sidecar = h.put_manifest(IMAGE, b"{not json")
    assert [o.kind for o in h.event(sidecar)] == ["REJECTED"]
    # Then its report stands alone: no swapped image that looks current
    assert h.report(IMAGE)["status"] == "REJECTED"
    assert h.objects.head(SWAPPED) is None


def test_given_older_result_when_newer_job_waits_then_the_old_swapped_image_is_removed(h: Harness) -> None:
    h.put(SWAPPED, b"older result")
    h.put(IMAGE)
    h.event(h.put_manifest(IMAGE, _one_swap("faces/missing.jpg")))
    assert h.report(IMAGE)["status"] == "WAITING" and h.objects.head(SWAPPED) is None


# -- superseded jobs finishing late ---------------------------------------------------------------------
def _truth(status: int) -> AkoolTruth:
    return AkoolTruth(akool_id=AKOOL_ID, status=status, url=URL if status == 3 else None, reason=None)


@responses.activate
@pytest.mark.parametrize("status", [3, 4])
def test_given_job_of_an_older_sidecar_when_it_finishes_late_then_public_names_untouched(
    resources: dict[str, str], status: int
) -> None:
    # Given a submitted job of sidecar version etag-1, and a newer sidecar in inbox/ with its report
    responses.get("https://results.akool.test/final.jpg", body=JPEG, content_type="image/jpeg")
    job = make_job()
    objects().put_json(job.sidecar_key, {"version": 1, "swaps": []})  # another ETag than etag-1
    objects().put_json(REPORT_KEY, {"status": "WAITING", "job_id": "newer"})
    # When AKOOL's word on the old job arrives (webhook or reconciler)
    fin, fetcher = finaliser()
    outcome = fin.apply(job, _truth(status))
    # Then it ends FAILED/SUPERSEDED in the table, with nothing downloaded or written in results/
    assert outcome.action is Action.SUPERSEDED
    final = get_job()
    assert final.status is Status.FAILED and final.error and final.error["code"] == "SUPERSEDED"
    assert s3_keys() == [REPORT_KEY] and s3_json(REPORT_KEY)["job_id"] == "newer"
    assert len(responses.calls) == 0 and fetcher.calls == 0


@responses.activate
def test_given_latest_job_failing_at_akool_then_its_report_and_no_older_swapped_image(
    resources: dict[str, str],
) -> None:
    # Given an older job's swapped image and the latest job (its inputs are tidied away: still latest)
    job = make_job()
    objects().put_json(RESULT_KEY, {"an": "older image"})
    # When AKOOL fails the latest job
    assert finaliser()[0].apply(job, _truth(4)).action is Action.FAILED
    # Then its FAILED report stands alone
    assert s3_keys() == [REPORT_KEY] and s3_json(REPORT_KEY)["status"] == "FAILED"


# -- every problem at once ------------------------------------------------------------------------------
def test_given_two_bad_sources_then_one_report_names_both(h: Harness) -> None:
    h.put(IMAGE)
    swaps = [{"source": "/abs.jpg", "target": 0}, {"source": "http://x.test/a.jpg", "target": 1}]
    doc = {"version": 1, "swaps": swaps}
    assert [o.kind for o in h.event(h.put_manifest(IMAGE, doc))] == ["REJECTED"]
    error = h.report(IMAGE)["error"]
    assert error["code"] == "INVALID_SOURCE"
    assert error["message"].startswith('swaps[0].source: "/abs.jpg" is not allowed')
    assert "; also swaps[1].source: " in error["message"] and "plain http" in error["message"]


def test_given_two_empty_sources_and_one_missing_then_the_empty_ones_are_named_at_once(h: Harness) -> None:
    h.put(IMAGE)
    h.put("inbox/trip/a.jpg", b"")
    h.put("inbox/trip/b.jpg", b"")
    swaps = [{"source": s, "target": i} for i, s in enumerate(["a.jpg", "b.jpg", "c.jpg"])]
    doc = {"version": 1, "swaps": swaps}
    assert [o.kind for o in h.event(h.put_manifest(IMAGE, doc))] == ["REJECTED"]
    message = h.report(IMAGE)["error"]["message"]
    assert message.startswith("swaps[0].source: inbox/trip/a.jpg is empty; upload the image again; also ")
    assert "swaps[1].source: inbox/trip/b.jpg is empty" in message

"""No AKOOL swap credit is spent on an input that cannot succeed (moto S3/DynamoDB, AKOOL faked):
every input's bytes are checked first, the photo's faces are always detected, AKOOL gets pinned copies
of exactly the bytes checked, and a detector that cannot process an image ends the job for good."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import boto3
import pytest
from botocore.exceptions import ClientError

from devkit import images
from dropswap.adapters.object_store import ObjectStore
from dropswap.domain.jobs import Status
from tests.conftest import BUCKET, REGION
from tests.unit.akool_fake import FakeAkool, face, fake_akool
from tests.unit.submit_harness import JPEG, S3_CONFIG, Harness, make_harness

IMAGE = "inbox/party/team.jpg"
ALICE = "inbox/party/faces/alice.jpg"
MEDIA_FAILED = {"error_code": 1, "error_msg": "Failed to process media", "faces_obj": {}}


@pytest.fixture
def akool(resources: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAkool]:
    monkeypatch.setenv("AKOOL_RETRY_BASE_SECONDS", "0")
    yield from fake_akool()


@pytest.fixture
def h(akool: FakeAkool) -> Harness:
    akool.faces["party/team.jpg"] = [face(120, 80, 90, 110)]
    akool.faces["faces/alice.jpg"] = [face(20, 30, 120, 140)]
    return make_harness(akool)


def _sidecar(h: Harness, target: Any = "largest", photo: bytes = JPEG, face_bytes: bytes = JPEG) -> str:
    h.put(ALICE, face_bytes)
    h.put(IMAGE, photo)
    return h.put_manifest(IMAGE, {"version": 1, "swaps": [{"source": "faces/alice.jpg", "target": target}]})


def _staged_key(url: str) -> str:
    return unquote(urlsplit(url).path).split(f"/{BUCKET}/", 1)[-1].lstrip("/")


# -- the bytes of every input, before anything goes to AKOOL ------------------------------------------
@pytest.mark.parametrize(
    ("photo", "code"),
    [
        (images.HTML_NAMED_JPG, "NOT_AN_IMAGE"),
        (images.SVG_NAMED_JPG, "NOT_AN_IMAGE"),
        (images.truncated(images.jpeg()), "TRUNCATED_IMAGE"),
        (images.png_pixel_bomb(), "TOO_MANY_PIXELS"),
    ],
    ids=["html", "svg", "truncated-jpeg", "pixel-bomb"],
)
@pytest.mark.parametrize("target", ["largest", 0])
def test_given_photo_that_cannot_succeed_then_rejected_with_no_akool_call(
    h: Harness, photo: bytes, code: str, target: Any
) -> None:
    # Given a photo named .jpg that is not a usable image / When its sidecar arrives
    [outcome] = h.event(_sidecar(h, target, photo=photo))
    # Then REJECTED with its code and a report naming the photo, and AKOOL was not called at all
    assert outcome.kind == "REJECTED"
    report = h.report(IMAGE)
    assert report["status"] == "REJECTED" and report["error"]["code"] == code
    assert report["error"]["message"].startswith(f"image: {IMAGE} ")
    assert h.akool.calls == []


def test_given_source_that_is_an_svg_then_rejected_naming_the_source_field(h: Harness) -> None:
    [outcome] = h.event(_sidecar(h, face_bytes=images.SVG_NAMED_JPG))
    assert outcome.kind == "REJECTED"
    error = h.report(IMAGE)["error"]
    assert error["code"] == "NOT_AN_IMAGE" and error["message"].startswith(f"swaps[0].source: {ALICE} ")
    assert "SVG" in error["message"] and h.akool.calls == []


def test_given_pixel_limit_setting_then_a_photo_over_it_is_rejected(akool: FakeAkool) -> None:
    h = make_harness(akool, max_image_pixels=333 * 217 - 1)
    akool.faces["party/team.jpg"] = [face(1, 1, 30, 30)]
    [outcome] = h.event(_sidecar(h))
    assert outcome.kind == "REJECTED" and h.report(IMAGE)["error"]["code"] == "TOO_MANY_PIXELS"
    assert akool.calls == []


@pytest.mark.parametrize(
    "photo",
    [images.png(40, 30), images.sample("gradient-lossy.webp"), images.bmp(40, 30)],
    ids=["png", "webp", "bmp"],
)
def test_given_valid_photo_of_another_type_under_a_jpg_name_then_submitted(h: Harness, photo: bytes) -> None:
    # The content decides (decoders sniff it too), not the extension.
    [outcome] = h.event(_sidecar(h, photo=photo))
    assert outcome.kind == "SUBMITTED"


# -- detection always runs first ------------------------------------------------------------------
def test_given_faceless_photo_with_largest_then_rejected_after_one_detection_and_no_swap(h: Harness) -> None:
    # Given a photo without a face and a "largest" swap (Pro would not need landmarks)
    h.akool.faces["party/team.jpg"] = []
    # When its sidecar arrives
    [outcome] = h.event(_sidecar(h))
    # Then REJECTED NO_FACE after one detection of the photo, no swap, and the report says what it took
    assert outcome.kind == "REJECTED"
    report = h.report(IMAGE)
    assert report["error"]["code"] == "NO_FACE" and report["akool"] == {"detect_calls": 1}
    assert len(h.akool.detections()) == 1 and h.akool.submissions() == []


def test_given_submission_then_its_detection_count_is_kept_for_the_report(h: Harness) -> None:
    [outcome] = h.event(_sidecar(h))
    assert outcome.kind == "SUBMITTED"
    job = h.job(IMAGE)
    # Then the photo and the face were each detected once
    assert job.request_summary is not None and job.request_summary["detect_calls"] == 2


def test_given_detector_cannot_process_the_photo_then_rejected_unreadable_after_two_tries(h: Harness) -> None:
    # Given AKOOL's detector answers 500 "Failed to process media" for the photo, every time
    for _ in range(5):
        h.akool.queue("detect", 500, MEDIA_FAILED)
    # When its sidecar arrives
    [outcome] = h.event(_sidecar(h, 0))
    # Then the job ends REJECTED UNREADABLE_IMAGE at once (no retry for a day), with its report
    assert outcome.kind == "REJECTED" and h.job(IMAGE).status is Status.REJECTED
    error = h.report(IMAGE)["error"]
    assert error["code"] == "UNREADABLE_IMAGE" and "Failed to process media" in error["message"]
    assert len(h.akool.detections()) == 2 and h.akool.submissions() == []


# -- AKOOL gets exactly the bytes checked -----------------------------------------------------------
def test_given_submission_then_akool_gets_pinned_copies_under_staging(h: Harness) -> None:
    # Given a ready job / When submitted
    [outcome] = h.event(_sidecar(h))
    assert outcome.kind == "SUBMITTED"
    [call] = h.akool.submissions()
    assert call.body is not None
    target = _staged_key(call.body["targetImage"][0]["path"])
    source = _staged_key(call.body["sourceImage"][0]["path"])
    # Then both URLs are presigned copies under staging/<job id>/, keeping the original key
    job_id = h.job_id(IMAGE)
    assert target == f"staging/{job_id}/0/{IMAGE}" and source == f"staging/{job_id}/1/{ALICE}"
    # And replacing the photo afterwards does not change what AKOOL fetches
    h.put(IMAGE, images.png(10, 10))
    assert h.s3.get_object(Bucket=BUCKET, Key=target)["Body"].read() == JPEG


def _copy_source_if_match(params: dict[str, Any], **_: Any) -> None:
    """S3's CopySourceIfMatch precondition, which moto 5.2 ignores (S3 and MiniStack honour it)."""
    wanted = params.get("CopySourceIfMatch")
    src = params["CopySource"]  # botocore has made it "bucket/url-quoted-key" by now
    bucket, key = (src["Bucket"], src["Key"]) if isinstance(src, dict) else unquote(src).split("/", 1)
    if wanted:
        head = boto3.client("s3", region_name=REGION).head_object(Bucket=bucket, Key=key)
        if head["ETag"] != wanted:
            raise ClientError({"Error": {"Code": "PreconditionFailed", "Message": "At least one of the "
                               "pre-conditions you specified did not hold"}}, "CopyObject")


class ReplacedBeforeCopy(ObjectStore):
    """The photo is replaced after it was checked, just before the pinned copy is made."""

    def __init__(self, replacement: bytes) -> None:
        client = boto3.client("s3", region_name=REGION, config=S3_CONFIG)
        client.meta.events.register("before-parameter-build.s3.CopyObject", _copy_source_if_match)
        super().__init__(client, BUCKET)
        self.replacement: bytes | None = replacement

    def copy_pinned(self, src_key: str, etag: str, dest_key: str, *, src_bucket: str | None = None) -> None:
        if self.replacement is not None and src_key == IMAGE:
            self._s3.put_object(Bucket=BUCKET, Key=IMAGE, Body=self.replacement)
            self.replacement = None
        super().copy_pinned(src_key, etag, dest_key, src_bucket=src_bucket)


def test_given_photo_replaced_between_check_and_copy_then_nothing_sent_and_the_retry_checks_it_again(
    h: Harness,
) -> None:
    from dropswap.domain.ports import ObjectChanged

    sidecar = _sidecar(h)
    checked_job = h.job_id(IMAGE)  # the job of the photo version that is checked
    objects = ReplacedBeforeCopy(images.HTML_NAMED_JPG)
    # When the copy finds the photo changed / Then no AKOOL call, the job still WAITING for a retry
    with pytest.raises(ObjectChanged):
        h.event(sidecar, h.submitter(objects=objects))
    old = h.store.get(checked_job)
    assert h.akool.calls == [] and old is not None and old.status is Status.WAITING
    # And the next delivery goes to the replacement's job, checks it (here: not an image) and rejects it,
    # still without AKOOL
    [outcome] = h.event(sidecar, h.submitter(objects=objects))
    assert outcome.job_id == h.job_id(IMAGE) != checked_job
    assert outcome.kind == "REJECTED" and h.report(IMAGE)["error"]["code"] == "NOT_AN_IMAGE"
    assert h.akool.calls == []



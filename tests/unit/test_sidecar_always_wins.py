"""A sidecar always wins, race or not (issue 17, item 3; README: Folder manifest): a folder manifest's job
looks for the photo's own sidecar right before its swap, and a folder manifest deleted before or during its
fan-out leaves every photo it covered with an outcome, a report and an event (SIDECAR_GONE). Moto
S3/DynamoDB/SQS/EventBridge, AKOOL faked; the deletion tests go through SubmitFunction's handler."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest

from dropswap.adapters.credit_store import CreditStore
from dropswap.adapters.object_store import ObjectStore
from dropswap.domain import messages
from dropswap.domain.jobs import Status, job_id_for
from dropswap.flows.common.credit_budget import CreditBudget
from tests.conftest import BUCKET, REGION, TABLE, load_handler
from tests.unit.akool_fake import FakeAkool, face, fake_akool
from tests.unit.queue_support import depth, drain, send
from tests.unit.submit_harness import S3_CONFIG, Harness, make_harness
from tests.unit.test_events import Bus
from tests.unit.test_finalise_support import FakeContext

FOLDER = "inbox/trip/"
MANIFEST = FOLDER + "_folder.faceswap.json"
PHOTO = FOLDER + "a.jpg"
PLAN = {"version": 1, "swaps": [{"source": "../faces/hopper.jpg", "target": 0}]}


@pytest.fixture
def akool(resources: dict[str, str]) -> Iterator[FakeAkool]:
    yield from fake_akool()


@pytest.fixture
def h(akool: FakeAkool) -> Harness:
    akool.faces["trip/"] = [face(120, 80, 90, 110)]
    akool.faces["faces/hopper.jpg"] = [face(20, 30, 120, 140)]
    harness = make_harness(akool)
    harness.put("inbox/faces/hopper.jpg")
    return harness


def _put_manifest(h: Harness, doc: Any = PLAN) -> str:
    h.put(MANIFEST, json.dumps(doc).encode())
    info = h.objects.head(MANIFEST)
    assert info is not None
    return info.version


# -- the photo's sidecar, arriving while the folder job is on its way -----------------------------------
class SidecarDuringTheJob(ObjectStore):
    """The user's photo sidecar lands while the folder job works (after its claim, before its swap): here
    when the photo's checked bytes are copied for AKOOL."""

    def __init__(self, sidecar: dict[str, Any]) -> None:
        super().__init__(boto3.client("s3", region_name=REGION, config=S3_CONFIG), BUCKET)
        self.sidecar: dict[str, Any] | None = sidecar

    def copy_pinned(self, src_key: str, etag: str, dest_key: str, *, src_bucket: str | None = None) -> None:
        super().copy_pinned(src_key, etag, dest_key, src_bucket=src_bucket)
        if self.sidecar is not None and src_key == PHOTO:
            self._s3.put_object(Bucket=BUCKET, Key=PHOTO + ".faceswap.json", Body=json.dumps(self.sidecar))
            self.sidecar = None


def test_given_the_photos_sidecar_arriving_during_its_folder_job_then_no_swap_is_sent_for_the_folder_job(
    h: Harness,
) -> None:
    # Given a folder manifest, and a photo whose own sidecar is uploaded right after it (its upload event
    # finds no sidecar yet, so the folder manifest's job starts)
    version = _put_manifest(h)
    h.put(PHOTO)
    own = {"version": 1, "swaps": [{"source": "../faces/hopper.jpg", "target": "largest"}]}
    # When the photo's event is handled, and the sidecar lands while its folder job is being prepared
    [outcome] = h.event(PHOTO, h.submitter(objects=SidecarDuringTheJob(own)))
    # Then the folder job sent nothing to AKOOL's swap: it is closed as superseded, writing no report
    info = h.objects.head(PHOTO)
    assert info is not None
    folder_job = h.store.get(job_id_for(BUCKET, MANIFEST, version, PHOTO, info.version))
    assert outcome.kind == "IGNORED" and outcome.detail == "superseded"
    assert folder_job is not None and folder_job.status is Status.REJECTED
    assert folder_job.error is not None and folder_job.error["code"] == "SUPERSEDED"
    # (its QUEUED report came before the sidecar did; the sidecar's own job writes over it, next)
    assert h.akool.submissions() == []
    assert not h.has_report(PHOTO) or h.report(PHOTO)["status"] == "QUEUED"
    # And the sidecar's own event makes the photo's one job, the only swap sent
    [own_outcome] = h.event(PHOTO + ".faceswap.json")
    assert own_outcome.kind == "SUBMITTED" and own_outcome.job_id == h.job_id(PHOTO)
    [submission] = h.akool.submissions()
    assert submission.body is not None and h.job_id(PHOTO) in submission.body["webhookUrl"]


def test_given_a_budget_of_one_credit_when_the_folder_job_is_superseded_then_the_sidecars_job_gets_it(
    h: Harness,
) -> None:
    # Given a credit budget of one for the day, a folder manifest and a photo whose sidecar lands while
    # the folder job is being prepared
    budget = CreditBudget(CreditStore(boto3.client("dynamodb", region_name=REGION), TABLE), 1)
    _put_manifest(h)
    h.put(PHOTO)
    own = {"version": 1, "swaps": [{"source": "../faces/hopper.jpg", "target": "largest"}]}
    # When the photo's event is handled, then the sidecar's
    [folder] = h.event(PHOTO, h.submitter(objects=SidecarDuringTheJob(own), budget=budget))
    [mine] = h.event(PHOTO + ".faceswap.json", h.submitter(budget=budget))
    # Then the folder job took no credit (it stopped before the count), so the sidecar's job is submitted
    assert (folder.detail, mine.kind) == ("superseded", "SUBMITTED")
    assert len(h.akool.submissions()) == 1 and budget.state().spent == 1


def test_given_a_folder_job_and_no_sidecar_then_it_is_submitted_after_one_more_look(h: Harness) -> None:
    # Given a folder manifest and a photo without a sidecar / When the photo's event is handled
    _put_manifest(h)
    [outcome] = h.upload(PHOTO)
    # Then its folder job is submitted as before
    assert outcome.kind == "SUBMITTED" and len(h.akool.submissions()) == 1


# -- a folder manifest deleted before or during its fan-out ---------------------------------------------
def _notification(key: str, etag: str) -> str:
    """S3's ObjectCreated notification as it lands on the SubmitQueue (key URL-encoded, ETag unquoted)."""
    obj = {"key": quote_plus(key), "size": 80, "eTag": etag}
    record = {"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
              "s3": {"bucket": {"name": BUCKET}, "object": obj}}
    return json.dumps({"Records": [record]})


@pytest.fixture
def bus(resources: dict[str, str]) -> Bus:
    return Bus()


def test_given_a_folder_manifest_deleted_before_its_event_is_handled_then_each_photo_gets_report_and_event(
    h: Harness, bus: Bus, resources: dict[str, str],
) -> None:
    # Given three photos in a folder, a folder manifest uploaded over them and deleted a moment later,
    # before SubmitFunction handles its upload event
    photos = [FOLDER + n for n in ("a.jpg", "b.jpg", "c.jpg")]
    for photo in photos:
        h.put(photo)
    version = _put_manifest(h)
    h.s3.delete_object(Bucket=BUCKET, Key=MANIFEST)
    queue = resources["SubmitQueueUrl"]
    send(queue, _notification(MANIFEST, version))
    # When SubmitFunction works the SubmitQueue (the manifest's event, then what it sends)
    drain(load_handler("submit"), queue, FakeContext())
    # Then each photo it covered has a REJECTED report (SIDECAR_GONE) and one "Job Rejected" event, and
    # nothing went to AKOOL
    for photo in photos:
        report = h.report(photo)
        assert report["status"] == "REJECTED" and report["error"]["code"] == "SIDECAR_GONE", report
        assert report["manifest"] == f"s3://{BUCKET}/{MANIFEST}"
    seen = bus.received()
    assert sorted(e["detail"]["data"]["image"]["key"] for e in seen) == photos
    assert {e["detail-type"] for e in seen} == {"Job Rejected"}
    assert h.akool.calls == [] and depth(queue) == 0


def test_given_a_folder_manifest_replaced_before_its_event_is_handled_then_only_the_newer_lists_the_folder(
    h: Harness, resources: dict[str, str],
) -> None:
    # Given a folder manifest replaced by a newer version before the first version's event is handled
    h.put(PHOTO)
    old = _put_manifest(h)
    new = _put_manifest(h, {**PLAN, "face_enhance": True})
    assert old != new
    queue = resources["SubmitQueueUrl"]
    for version in (old, new):
        send(queue, _notification(MANIFEST, version))
    # When SubmitFunction works the queue
    delivered = drain(load_handler("submit"), queue, FakeContext())
    # Then the photo was queued once (the two events, one folder_photo message), by the newer version's
    # event, and its one job is the newer's
    assert delivered == 3
    [submission] = h.akool.submissions()
    info = h.objects.head(PHOTO)
    assert info is not None and submission.body is not None
    assert job_id_for(BUCKET, MANIFEST, new, PHOTO, info.version) in submission.body["webhookUrl"]
    assert submission.body["face_enhance"] is True


@pytest.mark.parametrize(
    ("obj", "version"),
    [
        ({"key": "k", "eTag": "abc"}, "abc"),
        ({"key": "k", "eTag": '"abc"'}, "abc"),
        ({"key": "k", "eTag": "abc", "versionId": "v1"}, "v1"),
        ({"key": "k", "eTag": "abc", "versionId": "null"}, "abc"),
        ({"key": "k"}, None),
    ],
    ids=["etag", "quoted-etag", "version-id", "unversioned-bucket", "neither"],
)
def test_given_an_s3_record_then_the_version_it_is_of_is_read_as_head_reads_it(
    obj: dict[str, str], version: str | None
) -> None:
    # Given an S3 record naming an ETag and/or a version id / When parsed
    body = json.dumps({"Records": [{"s3": {"bucket": {"name": "b"}, "object": obj}}]})
    # Then its version is the version id, else the ETag (ObjectInfo.version), as the job ids use
    assert messages.parse_submit_body(body) == [messages.ObjectCreated("b", "k", version)]

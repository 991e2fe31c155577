"""Folder manifests (ARCHITECTURE §4 v2): `inbox/<path>/_folder.faceswap.json` stands in for the sidecar of
every photo directly in its folder that has none of its own. Its arrival lists the folder and sends one
SubmitQueue message per photo; later uploads find it on their own event; a sidecar wins; a changed one makes
new jobs; a deleted one stops the photos not yet submitted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from dropswap.adapters.object_store import ObjectStore
from dropswap.adapters.queues import SqsQueue
from dropswap.domain import latest, messages
from dropswap.domain.jobs import Status, job_id_for
from dropswap.flows.submit.submitter import Outcome, Submitter
from tests.conftest import BUCKET, REGION, load_event
from tests.unit.akool_fake import FakeAkool, face, fake_akool
from tests.unit.queue_support import depth
from tests.unit.submit_harness import S3_CONFIG, Harness, hopper_harness

FOLDER = "inbox/trip/"
MANIFEST = FOLDER + "_folder.faceswap.json"
PLAN = {"version": 1, "swaps": [{"source": "../faces/hopper.jpg", "target": 0}]}


@pytest.fixture
def akool(resources: dict[str, str]) -> Iterator[FakeAkool]:
    yield from fake_akool()


@pytest.fixture
def h(akool: FakeAkool) -> Harness:
    return hopper_harness(akool, "trip/")


@pytest.fixture
def queue_url(resources: dict[str, str]) -> str:
    return resources["SubmitQueueUrl"]


def _submitter(
    h: Harness, queue_url: str, page_size: int = 2, objects: ObjectStore | None = None
) -> Submitter:
    return h.submitter(objects, queue=SqsQueue(boto3.client("sqs", region_name=REGION), queue_url),
                       list_page_size=page_size)


def _counting_listings() -> tuple[ObjectStore, list[str]]:
    """An ObjectStore whose ListObjectsV2 calls are recorded (their ContinuationToken, "" for the first)."""
    client = boto3.client("s3", region_name=REGION, config=S3_CONFIG)
    pages: list[str] = []
    client.meta.events.register(
        "provide-client-params.s3.ListObjectsV2",
        lambda params, **_: pages.append(str(params.get("ContinuationToken", ""))),
    )
    return ObjectStore(client, BUCKET), pages


def _put_manifest(h: Harness, doc: Any = PLAN) -> str:
    h.put(MANIFEST, json.dumps(doc).encode())
    info = h.objects.head(MANIFEST)
    assert info is not None
    return info.version


def _drain(queue_url: str) -> list[messages.FolderPhoto]:
    """Every message on the SubmitQueue, taken off it, as the folder_photo work it asks for."""
    sqs = boto3.client("sqs", region_name=REGION)
    out: list[messages.FolderPhoto] = []
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return out
        for m in got:
            for item in messages.parse_submit_body(m["Body"]):
                assert isinstance(item, messages.FolderPhoto)
                out.append(item)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


def _run(sub: Submitter, work: list[messages.FolderPhoto]) -> dict[str, Outcome]:
    return {w.key: sub.handle_folder_photo(w.manifest_key, w.manifest_version, w.key) for w in work}


def _folder_job_id(h: Harness, photo: str, manifest_version: str) -> str:
    info = h.objects.head(photo)
    assert info is not None
    return job_id_for(BUCKET, MANIFEST, manifest_version, photo, info.version)


# -- arrival: list the folder, one message per photo --------------------------------------------------
def test_given_photos_over_several_pages_when_folder_manifest_arrives_then_one_message_per_photo(
    h: Harness, akool: FakeAkool, queue_url: str
) -> None:
    # Given 12 photos (6 pages of 2 keys: more than one SendMessageBatch of 10), one with its own
    # sidecar, a photo in a subfolder, and a file that is no photo
    photos = [f"{FOLDER}p{i:02d}.jpg" for i in range(12)]
    for p in photos:
        h.put(p)
    h.put_manifest(photos[0], PLAN)
    h.put(FOLDER + "sub/deeper.jpg")
    h.put(FOLDER + "notes.txt", b"hello")
    # When the folder manifest arrives
    version = _put_manifest(h)
    objects, pages = _counting_listings()
    outcomes = h.event(MANIFEST, _submitter(h, queue_url, objects=objects))
    # Then the folder was read page by page (16 entries, 2 a page), one message per photo directly in
    # it without a sidecar, and nothing sent to AKOOL yet
    assert len(pages) == 8 and pages[0] == "" and all(pages[1:])
    assert [o.detail for o in outcomes] == ["11 photos queued"]
    work = _drain(queue_url)
    assert sorted(w.key for w in work) == photos[1:]
    assert {(w.manifest_key, w.manifest_version) for w in work} == {(MANIFEST, version)}
    assert akool.submissions() == []
    # And when their turn comes, each becomes its own job of the folder manifest and the photo
    results = _run(_submitter(h, queue_url), work)
    assert {o.kind for o in results.values()} == {"SUBMITTED"}
    for p in photos[1:]:
        job = h.store.get(_folder_job_id(h, p, version))
        assert job is not None and job.status is Status.SUBMITTED
        assert job.image_key == p and job.sidecar_key == MANIFEST
        assert job.report_key == "results/trip/" + p[len(FOLDER):] + ".result.json"
    assert len(akool.submissions()) == 11


def test_given_folder_manifest_message_delivered_twice_then_one_job_per_photo(
    h: Harness, akool: FakeAkool, queue_url: str
) -> None:
    h.put(FOLDER + "a.jpg")
    _put_manifest(h)
    sub = _submitter(h, queue_url)
    h.event(MANIFEST, sub)
    h.event(MANIFEST, sub)
    results = [sub.handle_folder_photo(w.manifest_key, w.manifest_version, w.key) for w in _drain(queue_url)]
    assert sorted(o.kind for o in results) == ["DUPLICATE", "SUBMITTED"]
    assert len(akool.submissions()) == 1


# -- images it cannot swap ------------------------------------------------------------------------------
def test_given_folder_manifest_over_a_gif_before_and_after_it_then_each_gets_one_unsupported_report(
    h: Harness, akool: FakeAkool, queue_url: str
) -> None:
    # Given a GIF and a stray text file already in the folder
    h.put(FOLDER + "old.gif", b"GIF89a")
    h.put(FOLDER + "notes.txt", b"hello")
    # When the folder manifest arrives, its listing's turn comes, and then a HEIC photo is uploaded
    _put_manifest(h)
    sub = _submitter(h, queue_url)
    h.event(MANIFEST, sub)
    work = _drain(queue_url)
    assert [w.key for w in work] == [FOLDER + "old.gif"]  # the text file is not an image: left alone
    listed = _run(sub, work)[FOLDER + "old.gif"]
    uploaded = h.upload(FOLDER + "new.heic", b"\x00\x00\x00\x18ftypheic")
    # Then each image got an UNSUPPORTED_TYPE report naming what to do, and AKOOL was never called
    assert listed.kind == "REJECTED" and [o.kind for o in uploaded] == ["REJECTED"]
    for name, ext in (("old.gif", ".gif"), ("new.heic", ".heic")):
        report = h.report(FOLDER + name)
        assert report["status"] == "REJECTED" and report["error"]["code"] == "UNSUPPORTED_TYPE", report
        assert ext in report["error"]["message"] and "to the same folder" in report["error"]["message"]
        assert report["manifest"] == f"s3://{BUCKET}/{MANIFEST}"
    assert not h.has_report(FOLDER + "notes.txt")
    assert akool.submissions() == [] and akool.detections() == []
    # And the same upload's event delivered again is a DUPLICATE: one report, one ending
    assert [o.kind for o in h.event(FOLDER + "new.heic")] == ["DUPLICATE"]


# -- later uploads ---------------------------------------------------------------------------------------
def test_given_folder_manifest_when_a_photo_is_uploaded_later_then_its_event_makes_the_job(
    h: Harness, akool: FakeAkool, queue_url: str
) -> None:
    version = _put_manifest(h)
    h.event(MANIFEST, _submitter(h, queue_url))
    assert _drain(queue_url) == []
    # When a photo arrives after the manifest
    outcomes = h.upload(FOLDER + "late.jpg")
    # Then its own event made its job, with the folder manifest as its manifest
    assert [(o.kind, o.job_id) for o in outcomes] == [
        ("SUBMITTED", _folder_job_id(h, FOLDER + "late.jpg", version))
    ]
    # But a photo in a subfolder is not the folder's
    assert [o.kind for o in h.upload(FOLDER + "sub/other.jpg")] == ["IGNORED"]


def test_given_folder_manifest_waiting_for_its_source_then_photo_report_is_waiting_and_source_starts_it(
    h: Harness, akool: FakeAkool, queue_url: str
) -> None:
    _put_manifest(h, {"version": 1, "swaps": [{"source": "../faces/carol.jpg", "target": 0}]})
    assert [o.kind for o in h.upload(FOLDER + "a.jpg")] == ["WAITING"]
    assert h.report(FOLDER + "a.jpg")["status"] == "WAITING"
    akool.faces["faces/carol.jpg"] = [face(20, 30, 120, 140)]
    assert [o.kind for o in h.upload("inbox/faces/carol.jpg")] == ["SUBMITTED"]


# -- a sidecar wins ------------------------------------------------------------------------------------
def test_given_photo_with_its_own_sidecar_then_the_sidecar_wins_over_the_folder_manifest(
    h: Harness, akool: FakeAkool, queue_url: str
) -> None:
    photo = FOLDER + "own.jpg"
    _put_manifest(h)
    h.put(photo)
    h.put_manifest(photo, PLAN)
    # When the photo's upload event comes: only its sidecar's job
    assert [(o.kind, o.job_id) for o in h.event(photo)] == [("SUBMITTED", h.job_id(photo))]
    # And a folder message for it (sent before its sidecar came) does nothing
    version = h.objects.head(MANIFEST)
    assert version is not None
    late = _submitter(h, queue_url).handle_folder_photo(MANIFEST, version.version, photo)
    assert late.kind == "IGNORED" and "own sidecar" in late.detail
    assert len(akool.submissions()) == 1


def test_given_folder_job_when_the_photo_gets_its_own_sidecar_then_the_folder_job_is_superseded(
    h: Harness, akool: FakeAkool, queue_url: str
) -> None:
    # Given a folder manifest's job of a photo, waiting for a source
    photo = FOLDER + "a.jpg"
    version = _put_manifest(h, {"version": 1, "swaps": [{"source": "../faces/carol.jpg", "target": 0}]})
    h.upload(photo)
    folder_job = h.store.get(_folder_job_id(h, photo, version))
    assert folder_job is not None and folder_job.status is Status.WAITING
    # When the photo gets a sidecar of its own
    h.put_manifest(photo, PLAN)
    # Then the folder job no longer is the photo's latest (it never writes the public names), and its
    # recheck closes it without a report
    assert latest.superseded_by(h.objects, folder_job) == photo + ".faceswap.json"
    assert h.submitter().recheck_waiting(folder_job.job_id).kind == "IGNORED"
    closed = h.store.get(folder_job.job_id)
    assert closed is not None and closed.error and closed.error["code"] == "SUPERSEDED"


# -- a changed folder manifest -------------------------------------------------------------------------
def test_given_a_changed_folder_manifest_then_new_jobs_and_old_messages_do_nothing(
    h: Harness, akool: FakeAkool, queue_url: str
) -> None:
    photo = FOLDER + "a.jpg"
    h.put(photo)
    v1 = _put_manifest(h)
    sub = _submitter(h, queue_url)
    h.event(MANIFEST, sub)
    old = _drain(queue_url)
    assert [o.kind for o in _run(sub, old).values()] == ["SUBMITTED"]
    # When the folder manifest changes
    v2 = _put_manifest(h, {**PLAN, "face_enhance": True})
    assert v2 != v1
    h.event(MANIFEST, sub)
    # Then its photos get new jobs
    assert [o.kind for o in _run(sub, _drain(queue_url)).values()] == ["SUBMITTED"]
    assert h.store.get(_folder_job_id(h, photo, v1)) is not None
    new = h.store.get(_folder_job_id(h, photo, v2))
    assert new is not None and new.status is Status.SUBMITTED
    # And a message of the older version coming late does nothing
    assert [o.kind for o in _run(sub, old).values()] == ["IGNORED"]
    assert len(akool.submissions()) == 2


# -- a deleted folder manifest -------------------------------------------------------------------------
def test_given_folder_manifest_deleted_before_a_photos_turn_then_rejected_without_a_swap(
    h: Harness, akool: FakeAkool, queue_url: str
) -> None:
    photo = FOLDER + "a.jpg"
    h.put(photo)
    version = _put_manifest(h)
    sub = _submitter(h, queue_url)
    h.event(MANIFEST, sub)
    work = _drain(queue_url)
    # When the folder manifest is deleted before the photo's message is worked
    h.s3.delete_object(Bucket=BUCKET, Key=MANIFEST)
    outcome = _run(sub, work)[photo]
    # Then the job ends REJECTED (SIDECAR_GONE) at the photo's usual report name, nothing sent to AKOOL
    assert outcome.kind == "REJECTED"
    job = h.store.get(_folder_job_id(h, photo, version))
    assert job is not None and job.status is Status.REJECTED
    report = h.report(photo)
    assert report["status"] == "REJECTED" and report["error"]["code"] == "SIDECAR_GONE"
    assert akool.submissions() == [] and depth(queue_url) == 0


def test_given_folder_manifest_deleted_while_a_job_waits_then_its_recheck_rejects_it(
    h: Harness, akool: FakeAkool
) -> None:
    photo = FOLDER + "a.jpg"
    version = _put_manifest(h, {"version": 1, "swaps": [{"source": "../faces/carol.jpg", "target": 0}]})
    h.upload(photo)
    h.s3.delete_object(Bucket=BUCKET, Key=MANIFEST)
    assert h.submitter().recheck_waiting(_folder_job_id(h, photo, version)).kind == "REJECTED"
    assert h.report(photo)["error"]["code"] == "SIDECAR_GONE"
    assert akool.submissions() == []


# -- what is not a photo of the folder -----------------------------------------------------------------
def test_given_the_folder_manifests_own_source_in_the_folder_then_it_is_not_swapped(
    h: Harness, akool: FakeAkool, queue_url: str
) -> None:
    h.put(FOLDER + "a.jpg")
    h.put(FOLDER + "alice.jpg")
    _put_manifest(h, {"version": 1, "swaps": [{"source": "alice.jpg", "target": 0}]})
    sub = _submitter(h, queue_url)
    h.event(MANIFEST, sub)
    results = _run(sub, _drain(queue_url))
    assert results[FOLDER + "a.jpg"].kind == "SUBMITTED"
    assert results[FOLDER + "alice.jpg"].kind == "IGNORED"
    assert not h.has_report(FOLDER + "alice.jpg")


def test_given_folder_photo_bodies_then_they_round_trip_and_bad_ones_are_malformed() -> None:
    body = messages.folder_photo_body(MANIFEST, "v1", FOLDER + "a.jpg")
    assert messages.parse_submit_body(body) == [messages.FolderPhoto(MANIFEST, "v1", FOLDER + "a.jpg")]
    with pytest.raises(messages.MalformedMessage):
        messages.parse_submit_body(json.dumps({"dropswap": "folder_photo", "key": FOLDER + "a.jpg"}))


def test_given_the_folder_photo_sample_event_then_it_parses_as_one_photo_of_a_folder_manifest() -> None:
    [record] = load_event("sqs-submit-folder-photo.json")["Records"]
    assert messages.parse_submit_body(record["body"]) == [
        messages.FolderPhoto("inbox/party/_folder.faceswap.json", "1", "inbox/party/team.jpg")
    ]

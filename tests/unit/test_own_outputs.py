"""Files named like the stack's own outputs are never photos (ARCHITECTURE §4 v3, issue 17 item 2): a client
that globs `*.jpg` beside its downloads uploads `team.swapped.jpg` back to inbox/; it gets a clear REJECTED
report (OUTPUT_NAME), and AKOOL is never called for it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest

from dropswap.adapters.queues import SqsQueue
from dropswap.domain import keys, messages
from tests.conftest import REGION
from tests.unit.akool_fake import FakeAkool, fake_akool
from tests.unit.submit_harness import Harness, hopper_harness

FOLDER = "inbox/party/"
SWAPPED = FOLDER + "team.swapped.jpg"
PLAN = {"version": 1, "swaps": [{"source": "../faces/hopper.jpg", "target": 0}]}


@pytest.fixture
def akool(resources: dict[str, str]) -> Iterator[FakeAkool]:
    yield from fake_akool()


@pytest.fixture
def h(akool: FakeAkool) -> Harness:
    return hopper_harness(akool, "party/")


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("inbox/party/team.swapped.jpg", keys.KeyKind.OUTPUT),
        ("inbox/party/TEAM.SWAPPED.PNG", keys.KeyKind.OUTPUT),
        ("inbox/party/team.swapped.jpg.faceswap.json", keys.KeyKind.OUTPUT),
        ("inbox/party/team.jpg.result.json", keys.KeyKind.OUTPUT),
        ("inbox/party/team.faces.html", keys.KeyKind.OUTPUT),
        ("inbox/party/team.jpg.faces.json", keys.KeyKind.OUTPUT),
        # a name that merely contains the word is a photo
        ("inbox/party/swapped.jpg", keys.KeyKind.IMAGE),
        ("inbox/party/team.swapped-back.jpg", keys.KeyKind.IMAGE),
        ("inbox/party/team.swapped.gif", keys.KeyKind.UNSUPPORTED),
        ("results/party/team.swapped.jpg", keys.KeyKind.OTHER),
    ],
)
def test_given_a_key_with_or_without_an_output_suffix_when_classified_then_outputs_are_never_images(
    key: str, kind: keys.KeyKind
) -> None:
    # Given a key, When classified, Then the stack's own output names are OUTPUT, never IMAGE or SIDECAR
    assert keys.classify(key) is kind


@pytest.mark.parametrize("order", ["photo-first", "sidecar-first"])
def test_given_a_swapped_output_uploaded_back_with_a_sidecar_then_an_output_name_report_and_no_credit(
    h: Harness, akool: FakeAkool, order: str
) -> None:
    # Given a swapped result uploaded back to inbox/ with a sidecar of its own (a second `swap party/*.jpg`)
    sidecar = SWAPPED + keys.SIDECAR_SUFFIX
    if order == "photo-first":
        h.upload(SWAPPED)
        h.put_manifest(SWAPPED, PLAN)
        outcomes = h.event(sidecar)
    else:
        h.put_manifest(SWAPPED, PLAN)
        h.event(sidecar)
        outcomes = h.upload(SWAPPED)
    # Then it is REJECTED with OUTPUT_NAME, saying why and what to do, and AKOOL saw nothing of it
    assert [o.kind for o in outcomes] == ["REJECTED"]
    report = h.report(SWAPPED)
    assert report["status"] == "REJECTED" and report["error"]["code"] == "OUTPUT_NAME", report
    message = report["error"]["message"]
    assert SWAPPED in message and "dropswap's own outputs" in message and "rename it" in message
    assert akool.submissions() == [] and akool.detections() == []


def test_given_a_folder_manifest_over_a_photo_and_its_swapped_output_then_only_the_photo_is_swapped(
    h: Harness, akool: FakeAkool, resources: dict[str, str]
) -> None:
    # Given a folder holding a photo and a swapped output beside it (`aws s3 sync` of a CLI folder)
    h.put(FOLDER + "team.jpg")
    h.put(SWAPPED)
    manifest = FOLDER + keys.FOLDER_MANIFEST
    h.put(manifest, json.dumps(PLAN).encode())
    queue_url = resources["SubmitQueueUrl"]
    sub = h.submitter(queue=SqsQueue(boto3.client("sqs", region_name=REGION), queue_url))
    # When the folder manifest arrives and each photo's turn comes
    h.event(manifest, sub)
    sqs = boto3.client("sqs", region_name=REGION)
    work = [item for m in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
            for item in messages.parse_submit_body(m["Body"])]
    done = {w.key: sub.handle_folder_photo(w.manifest_key, w.manifest_version, w.key)
            for w in work if isinstance(w, messages.FolderPhoto)}
    # Then the photo is submitted, the output gets an OUTPUT_NAME report, and one swap reached AKOOL
    assert {k: o.kind for k, o in done.items()} == {FOLDER + "team.jpg": "SUBMITTED", SWAPPED: "REJECTED"}
    assert h.report(SWAPPED)["error"]["code"] == "OUTPUT_NAME"
    assert "to the same folder" in h.report(SWAPPED)["error"]["message"]
    assert len(akool.submissions()) == 1

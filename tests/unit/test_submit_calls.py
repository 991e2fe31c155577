"""How many AWS calls the submit path makes: each one it needs, none twice (benchmarks/REPORT.md counts them
per job on the local stack; these pin the submit function's share)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from dropswap.adapters.job_store import JobStore
from tests.conftest import BUCKET, REGION, TABLE
from tests.unit.akool_fake import FakeAkool, face, fake_akool
from tests.unit.submit_harness import CREDS, S3_CONFIG, Harness, make_harness

IMAGE = "inbox/party/team.jpg"
ALICE = "inbox/party/faces/alice.jpg"
ONE_SWAP = {"version": 1, "swaps": [{"source": "faces/alice.jpg", "target": "largest"}]}


@pytest.fixture
def akool(resources: dict[str, str]) -> Iterator[FakeAkool]:
    yield from fake_akool()


@pytest.fixture
def h(akool: FakeAkool) -> Harness:
    akool.faces["party/team.jpg"] = [face(120, 80, 90, 110)]
    akool.faces["faces/alice.jpg"] = [face(20, 30, 120, 140)]
    return make_harness(akool)


class Counting:
    """A Submitter on its own boto3 clients, counting every API call they make by operation."""

    def __init__(self, h: Harness) -> None:
        from dropswap.adapters.akool_client import AkoolClient
        from dropswap.adapters.object_store import ObjectStore
        from dropswap.app import submit as app_submit
        from tests.unit.akool_fake import BASE, DETECT

        self.calls: Counter[str] = Counter()
        s3 = boto3.client("s3", region_name=REGION, config=S3_CONFIG)
        ddb = boto3.client("dynamodb", region_name=REGION)
        for client in (s3, ddb):
            client.meta.events.register("before-call.*.*", self._count)
        self.submitter = app_submit.submitter(
            h.settings, JobStore(ddb, TABLE), ObjectStore(s3, BUCKET),
            lambda: AkoolClient(CREDS, BASE, DETECT),
        )

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def event(self, key: str) -> list[str]:
        self.calls.clear()
        return [o.kind for o in self.submitter.handle_object_created(BUCKET, key)]


def test_given_ready_job_when_sidecar_arrives_then_each_needed_call_once(h: Harness) -> None:
    # Given the face and the image are there
    h.put(ALICE)
    h.put(IMAGE)
    sidecar = h.put_manifest(IMAGE, ONE_SWAP)
    counting = Counting(h)
    # When the sidecar's event is processed
    assert counting.event(sidecar) == ["SUBMITTED"]
    # Then: one GET of the sidecar (content and version together, no HEAD before it), the dedupe read,
    # one HEAD per input (the photo's, made first for its version, is not made again), one ranged GET
    # per small input (its first 64 KiB hold its header and its end), one pinned copy per input, the
    # claim, the face's detection looked up in the cache of source versions (a miss) and kept there, the
    # job's detections kept on it (a retry detects nothing again), the webhook's token armed right before
    # the swap is sent (a callback may outrun what follows) and the SUBMITTED write; no waiting-for
    # query (nothing waits for a sidecar). The live report: QUEUED and PROCESSING (a PUT each, with the
    # free DELETE of an older swapped image), and before PROCESSING the two HEADs that tell whether a newer
    # sidecar or photo came meanwhile (latest.py); no DynamoDB write more
    assert counting.calls == Counter(
        {"GetObject": 3, "GetItem": 2, "HeadObject": 4, "CopyObject": 2, "UpdateItem": 5,
         "PutObject": 2, "DeleteObject": 2}
    )


def test_given_a_second_photo_with_the_same_face_then_the_face_is_read_from_the_cache(h: Harness) -> None:
    # Given a job submitted with the face, and a second photo with a sidecar naming the same face
    h.put(ALICE)
    h.put(IMAGE)
    Counting(h).event(h.put_manifest(IMAGE, ONE_SWAP))
    other = "inbox/party/other.jpg"
    h.akool.faces["party/other.jpg"] = [face(120, 80, 90, 110)]
    h.put(other)
    counting = Counting(h)
    # When the second sidecar's event is processed
    assert counting.event(h.put_manifest(other, ONE_SWAP)) == ["SUBMITTED"]
    # Then the face's detection is one cache read (a hit: nothing written there), the photo's is AKOOL's;
    # the writes: claim, detections kept, token armed, SUBMITTED
    assert counting.calls == Counter(
        {"GetObject": 3, "GetItem": 2, "HeadObject": 4, "CopyObject": 2, "UpdateItem": 4,
         "PutObject": 2, "DeleteObject": 2}
    )
    assert len(h.akool.detections()) == 3


def test_given_image_before_its_sidecar_then_one_read_and_one_query(h: Harness) -> None:
    counting = Counting(h)
    h.put(IMAGE)
    assert counting.event(IMAGE) == ["IGNORED"]
    # Its sidecar and then its folder's manifest (both absent: two GETs answered 404), and the jobs
    # waiting for it (one query)
    assert counting.calls == Counter({"GetObject": 2, "Query": 1})


def test_given_sidecar_first_when_image_arrives_then_the_sidecar_is_read_once(h: Harness) -> None:
    h.put(ALICE)
    sidecar = h.put_manifest(IMAGE, ONE_SWAP)
    counting = Counting(h)
    assert counting.event(sidecar) == ["WAITING"]
    h.put(IMAGE)
    assert counting.event(IMAGE) == ["SUBMITTED", "IGNORED"]
    # The sidecar once (no HEAD and GET of it), the job once, each input once (HEAD, one ranged GET, one
    # pinned copy), claim + detections kept (on the job, and the face's in the cache after one cache
    # read) + token armed + SUBMITTED, and
    # the waiting-for query, which finds the job made while the photo was missing: read once, and
    # closed as superseded (claim + REJECTED) without reading the sidecar or the photo again
    assert counting.calls == Counter(
        {"GetObject": 3, "GetItem": 3, "HeadObject": 4, "CopyObject": 2, "UpdateItem": 7, "Query": 1,
         "PutObject": 2, "DeleteObject": 2}
    )


def test_given_duplicate_sidecar_event_then_two_reads_and_no_write(h: Harness) -> None:
    h.put(ALICE)
    h.put(IMAGE)
    sidecar = h.put_manifest(IMAGE, ONE_SWAP)
    counting = Counting(h)
    counting.event(sidecar)
    assert counting.event(sidecar) == ["DUPLICATE"]
    # The sidecar and the photo's version (both name the job), and the job
    assert counting.calls == Counter({"GetObject": 1, "HeadObject": 1, "GetItem": 1})

"""Keys longer than S3 allows are refused at once, with a report, instead of waiting a day for an upload that
can never happen; and no index key longer than DynamoDB allows is ever written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from dropswap.adapters.job_store import JobStore
from dropswap.domain.jobs import JobRef, Status
from dropswap.domain.manifest import ManifestError, parse_manifest
from dropswap.flows.submit.input_gate import InputGate
from tests.conftest import BUCKET, REGION, TABLE
from tests.unit.akool_fake import FakeAkool, face, fake_akool
from tests.unit.submit_harness import Harness, make_harness

IMAGE = "inbox/party/team.jpg"
SIDECAR = IMAGE + ".faceswap.json"
# 512 characters but 1020 bytes of UTF-8 (the limit is in bytes); with "inbox/party/" in front, 1032 bytes.
LONG_NAME = "é" * 508 + ".jpg"


@pytest.fixture
def akool(resources: dict[str, str]) -> Iterator[FakeAkool]:
    yield from fake_akool()


@pytest.fixture
def h(akool: FakeAkool) -> Harness:
    akool.faces["party/team.jpg"] = [face(120, 80, 90, 110)]
    return make_harness(akool)


def _parse(source: str) -> Any:
    doc = {"version": 1, "swaps": [{"source": source, "target": 0}]}
    return parse_manifest(json.dumps(doc).encode(), sidecar_key=SIDECAR, drop_bucket=BUCKET)


@pytest.mark.parametrize(
    "source",
    [LONG_NAME, f"s3://{BUCKET}/inbox/{LONG_NAME}", "faces/" + "a" * 1010 + ".jpg"],
    ids=["relative-multibyte", "s3-uri", "relative-ascii"],
)
def test_given_a_source_key_longer_than_s3_allows_then_the_manifest_is_refused_naming_the_field(
    source: str,
) -> None:
    # Given a source whose S3 key is over 1024 bytes of UTF-8, When the manifest is parsed
    with pytest.raises(ManifestError) as err:
        _parse(source)
    # Then it is refused as an invalid source, naming the field, the size and the limit
    assert err.value.field == "swaps[0].source" and err.value.code == "INVALID_SOURCE"
    assert "1024 bytes" in err.value.message


def test_given_a_source_key_of_exactly_1024_bytes_then_accepted() -> None:
    # Given a relative source that makes a key of exactly 1024 bytes (inbox/party/ is 12)
    name = "a" * (1024 - len("inbox/party/") - len(".jpg")) + ".jpg"
    # When parsed, Then it is accepted
    [swap] = _parse(name).swaps
    assert swap.source.key is not None and len(swap.source.key.encode()) == 1024


def test_given_a_source_key_too_long_when_dropped_then_rejected_at_once_with_a_report(h: Harness) -> None:
    # Given a photo and a sidecar whose source key can never exist in S3
    h.put(IMAGE)
    sidecar = h.put_manifest(IMAGE, {"version": 1, "swaps": [{"source": LONG_NAME, "target": 0}]})
    # When the sidecar's upload is handled
    [outcome] = h.event(sidecar)
    # Then the job is REJECTED at once (not WAITING for a day), with a report naming the field
    assert outcome.kind == "REJECTED"
    job = h.job(IMAGE)
    assert job.status is Status.REJECTED and job.waiting_for is None
    report = h.report(IMAGE)
    assert report["status"] == "REJECTED" and report["error"]["code"] == "INVALID_SOURCE"
    assert "swaps[0].source" in report["error"]["message"]
    assert h.akool.submissions() == []


class _NoObjects:
    def head(self, key: str, bucket: str | None = None) -> Any:
        raise AssertionError("no HEAD for a key that cannot exist")


class _NoTransitions:
    def transition(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("no WAITING mark for a key that cannot exist")


def test_given_a_photo_key_longer_than_s3_allows_then_refused_before_any_lookup_or_wait() -> None:
    # Given a job whose photo key is over 1024 bytes
    photo = "inbox/" + "p" * 1020 + ".jpg"
    ref = JobRef(BUCKET, "job-1", photo + ".faceswap.json", "v1", "p1")
    gate = InputGate(_NoObjects(), _NoTransitions(), bucket=BUCKET, max_image_bytes=1000)  # type: ignore[arg-type]
    manifest = parse_manifest(b'{"version": 1, "swaps": [{"source": "a.jpg", "target": 0}]}',
                              sidecar_key=ref.sidecar_key, drop_bucket=BUCKET)
    # When its inputs are checked, Then it is refused as over a limit, naming the photo, with no HEAD and no
    # WAITING mark
    with pytest.raises(ManifestError) as err:
        gate.wait_for_inputs(ref, manifest)
    assert err.value.field == "image" and err.value.code == "LIMIT" and "1024 bytes" in err.value.message


def test_given_a_waiting_for_value_longer_than_a_dynamodb_index_key_then_nothing_is_written(
    resources: dict[str, str],
) -> None:
    # Given the job store and a waiting-for marker over 2048 bytes (the waiting-for index's partition key)
    store = JobStore(boto3.client("dynamodb", region_name=REGION), TABLE)
    marker = f"s3://{BUCKET}/" + "k" * 2100
    # When a transition tries to write it, Then it is refused before any write
    with pytest.raises(ValueError, match="2048"):
        store.transition("j1", Status.WAITING, set_fields={"waiting_for": marker})
    assert store.get("j1") is None
    # And the same holds when a claim creates the record
    with pytest.raises(ValueError, match="2048"):
        store.claim("j2", "owner", 60, create_fields={"waiting_for": marker})
    assert store.get("j2") is None

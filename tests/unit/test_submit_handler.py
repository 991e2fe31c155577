"""SubmitFunction's handler on the SubmitQueue: the events/ samples and real moto messages, with the fake
AKOOL. Messages that must wait come back with a delay (ChangeMessageVisibility) and are reported failed;
the others are consumed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from devkit.credentials import TEST_API_KEY
from dropswap.adapters.job_store import JobStore
from dropswap.adapters.slot_store import SlotStore
from dropswap.domain.jobs import Status, job_id_for
from dropswap.settings import settings
from events.generate import sqs_event
from tests.conftest import BUCKET, REGION, TABLE, load_event, load_handler
from tests.unit.akool_fake import FakeAkool, face, fake_akool
from tests.unit.queue_support import HandBacks, depth, hand_backs, receive, send, settle, sqs
from tests.unit.sam_transform import transformed_template
from tests.unit.submit_harness import JPEG

__all__ = ["hand_backs"]  # a fixture these tests use

IMAGE = "inbox/Summer party/Zoë team.jpg"
SIDECAR = IMAGE + ".faceswap.json"
FACE = "inbox/Summer party/faces/alice.jpg"
REPORT = "results/Summer party/Zoë team.jpg.result.json"


@dataclass
class Context:
    """The parts of the Lambda context the handler and Powertools read."""

    function_name: str = "dropswap-SubmitFunction"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:dropswap-SubmitFunction"
    aws_request_id: str = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    log_group_name: str = "/aws/lambda/dropswap-SubmitFunction"
    log_stream_name: str = "2026/11/22/[$LATEST]abc"

    def get_remaining_time_in_millis(self) -> int:
        return 110_000


@pytest.fixture
def akool(resources: dict[str, str]) -> Iterator[FakeAkool]:
    yield from fake_akool()


@pytest.fixture
def app(akool: FakeAkool) -> ModuleType:
    akool.faces["Summer party/Zoë team.jpg"] = [face(120, 80, 90, 110), face(300, 95, 88, 104)]
    akool.faces["faces/alice.jpg"] = [face(20, 30, 120, 140)]
    return load_handler("submit")


def _put(key: str, body: bytes) -> None:
    boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key=key, Body=body)


def _manifest(target: Any = 1) -> bytes:
    return json.dumps({"version": 1, "swaps": [{"source": "faces/alice.jpg", "target": target}]}).encode()


def _drop(target: Any = 1) -> None:
    _put(FACE, JPEG)
    _put(IMAGE, JPEG)
    _put(SIDECAR, _manifest(target))


def _job_status() -> Status | None:
    s3 = boto3.client("s3", region_name=REGION)
    etag = s3.head_object(Bucket=BUCKET, Key=SIDECAR)["ETag"].strip('"')
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=IMAGE).get("Contents", [])
    photo = next((o["ETag"].strip('"') for o in listed if o["Key"] == IMAGE), "")  # "": not there yet
    job_id = job_id_for(BUCKET, SIDECAR, etag, IMAGE, photo)
    job = JobStore(boto3.client("dynamodb", region_name=REGION), TABLE).get(job_id)
    return job.status if job else None


def _report() -> dict[str, Any]:
    body = boto3.client("s3", region_name=REGION).get_object(Bucket=BUCKET, Key=REPORT)["Body"].read()
    data: dict[str, Any] = json.loads(body)
    return data


def _metrics(stdout: str) -> dict[str, float]:
    """Non-zero metric values from the Embedded Metric Format lines Powertools prints."""
    out: dict[str, float] = {}
    for line in stdout.splitlines():
        if '"_aws"' not in line:
            continue
        doc = json.loads(line)
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = doc[metric["Name"]]
                total = sum(value) if isinstance(value, list) else value
                if total:
                    out[metric["Name"]] = total
    return out


def _sidecar_body() -> str:
    body: str = load_event("sqs-submit-sidecar.json")["Records"][0]["body"]
    return body


# -- the samples ------------------------------------------------------------------------------------
def test_given_sample_events_sidecar_first_when_handled_then_waiting_then_submitted(
    app: ModuleType, akool: FakeAkool, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    _put(FACE, JPEG)
    _put(SIDECAR, _manifest())
    first = app.lambda_handler(load_event("sqs-submit-sidecar.json"), Context())
    assert first == {"batchItemFailures": []}
    assert _job_status() is Status.WAITING
    assert _metrics(capsys.readouterr().out) == {"JobsWaiting": 1.0}

    _put(IMAGE, JPEG)
    assert app.lambda_handler(load_event("sqs-submit-image.json"), Context()) == {"batchItemFailures": []}
    assert _job_status() is Status.SUBMITTED
    assert _metrics(capsys.readouterr().out) == {"JobsSubmitted": 1.0}
    # Every log line as the function writes it (JSON with the extras), from both handler and layer.
    out = "\n".join(app.logger.registered_formatter.format(r) for r in caplog.records)
    [submission] = akool.submissions()
    assert submission.body is not None
    # Logs carry ids and keys (decoded: space and ë restored), never the API key, token or presigned URLs.
    token = parse_qs(urlsplit(submission.body["webhookUrl"]).query)["token"][0]
    assert TEST_API_KEY not in out and token not in out and "X-Amz-Signature" not in out
    assert "Summer party/Zoë team.jpg" in out


def test_given_same_message_five_times_when_handled_then_one_submission(
    app: ModuleType, akool: FakeAkool
) -> None:
    _drop()
    for _ in range(5):
        response = app.lambda_handler(load_event("sqs-submit-sidecar.json"), Context())
        assert response == {"batchItemFailures": []}
    assert len(akool.submissions()) == 1 and _job_status() is Status.SUBMITTED


def test_given_rejected_manifest_when_handled_then_report_and_rejected_metric(
    app: ModuleType, akool: FakeAkool, capsys: pytest.CaptureFixture[str]
) -> None:
    _drop(target=7)
    response = app.lambda_handler(load_event("sqs-submit-sidecar.json"), Context())
    assert response == {"batchItemFailures": []}
    assert _metrics(capsys.readouterr().out) == {"JobsRejected": 1.0}
    report = _report()
    assert report["status"] == "REJECTED"
    assert report["error"]["message"].startswith("swaps[0].target: no face")
    assert akool.submissions() == []


def test_given_s3_notification_with_two_records_and_an_encoded_slash_then_each_decoded_and_handled(
    app: ModuleType, akool: FakeAkool
) -> None:
    _drop()
    notification = json.loads(_sidecar_body())
    other = json.loads(json.dumps(notification["Records"][0]))
    other["s3"]["object"]["key"] = "inbox%2FSummer+party%2FZo%C3%AB+team.jpg"  # an emulator's encoding
    notification["Records"].append(other)
    event = sqs_event([json.dumps(notification)], "dropswap-submit")
    assert app.lambda_handler(event, Context()) == {"batchItemFailures": []}
    assert len(akool.submissions()) == 1 and _job_status() is Status.SUBMITTED


def test_given_s3_test_event_then_consumed_and_nothing_happens(app: ModuleType, akool: FakeAkool) -> None:
    body = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET})
    assert app.lambda_handler(sqs_event([body], "dropswap-submit"), Context()) == {"batchItemFailures": []}
    assert akool.calls == []


# -- what comes back, and when ------------------------------------------------------------------------
def test_given_akool_1005_when_the_message_keeps_coming_back_then_growing_delays_and_no_job_fails(
    app: ModuleType, akool: FakeAkool, resources: dict[str, str], hand_backs: HandBacks
) -> None:
    # Given a complete drop, and AKOOL answering 1005 to the swap submit three times
    _drop()
    for _ in range(3):
        akool.queue_code("pro", 1005)
    queue = resources["SubmitQueueUrl"]
    send(queue, _sidecar_body())
    # When the message is delivered, handed back, and delivered again (time passes: visible at once)
    for _ in range(3):
        event = receive(queue)
        response = app.lambda_handler(event, Context())
        failed = [f["itemIdentifier"] for f in response["batchItemFailures"]]
        assert failed == [event["Records"][0]["messageId"]]
        settle(queue, response, event)
        sqs().change_message_visibility(
            QueueUrl=queue, ReceiptHandle=event["Records"][0]["receiptHandle"], VisibilityTimeout=0
        )
    # Then each hand-back waited longer (the backoff's ceilings, 10·2^(n-1) s) and the job is still
    # WAITING, its report QUEUED (written once, not per retry): nothing failed, nothing was lost
    assert hand_backs.delays == [10, 20, 40]
    assert _job_status() is Status.WAITING and depth(queue) == 1
    assert _keys("results/") == [REPORT] and _report()["status"] == "QUEUED"  # written once
    # And when AKOOL takes it on the fourth delivery, the job is submitted and the message consumed
    event = receive(queue)
    response = app.lambda_handler(event, Context())
    settle(queue, response, event)
    assert response == {"batchItemFailures": []} and _job_status() is Status.SUBMITTED and depth(queue) == 0


def test_given_a_permanent_akool_error_then_failed_with_its_report_and_the_message_consumed(
    app: ModuleType, akool: FakeAkool, resources: dict[str, str], hand_backs: HandBacks,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given AKOOL refusing the swap for good (1006: quota exhausted)
    akool.queue_code("pro", 1006)
    _drop()
    queue = resources["SubmitQueueUrl"]
    send(queue, _sidecar_body())
    # When the message is delivered
    event = receive(queue)
    response = app.lambda_handler(event, Context())
    settle(queue, response, event)
    # Then the job FAILED with its report, and the message is gone without a hand-back
    assert response == {"batchItemFailures": []} and depth(queue) == 0 and hand_backs.calls == []
    assert _job_status() is Status.FAILED
    report = _report()
    assert report["status"] == "FAILED" and report["error"]["code"] == "AKOOL_1006"
    assert _metrics(capsys.readouterr().out) == {"JobsFailed": 1.0}


def test_given_a_poison_message_then_it_lands_in_the_dlq_after_the_retry_budget(
    app: ModuleType, akool: FakeAkool, resources: dict[str, str], hand_backs: HandBacks
) -> None:
    # Given the deployed redrive policy (maxReceiveCount, from the transformed template), which the
    # SubmitQueue in moto carries, and a message no code can read
    redrive = transformed_template()["Resources"]["SubmitQueue"]["Properties"]["RedrivePolicy"]
    budget = int(redrive["maxReceiveCount"])
    queue, dlq = resources["SubmitQueueUrl"], resources["SubmitDLQUrl"]
    attrs = sqs().get_queue_attributes(QueueUrl=queue, AttributeNames=["RedrivePolicy"])["Attributes"]
    assert json.loads(attrs["RedrivePolicy"])["maxReceiveCount"] == budget
    send(queue, "this is not an S3 event")
    # When it is delivered until SQS stops delivering it (each time the handler hands it back)
    deliveries = 0
    while (event := receive(queue))["Records"]:
        deliveries += 1
        assert deliveries <= budget
        response = app.lambda_handler(event, Context())
        assert len(response["batchItemFailures"]) == 1
        settle(queue, response, event)
        sqs().change_message_visibility(
            QueueUrl=queue, ReceiptHandle=event["Records"][0]["receiptHandle"], VisibilityTimeout=0
        )
    # Then it was tried exactly maxReceiveCount times, with the backoff capped, and waits in the DLQ
    assert deliveries == budget and depth(queue) == 0 and depth(dlq) == 1
    assert max(hand_backs.delays) == 900 and akool.calls == []


def test_given_a_batch_with_one_bad_record_then_only_that_record_is_reported_failed(
    app: ModuleType, akool: FakeAkool, hand_backs: HandBacks
) -> None:
    # Given a batch of three: a complete drop's sidecar, an unreadable body, S3's test event
    _drop()
    test_event = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET})
    event = sqs_event([_sidecar_body(), "{not json", test_event], "dropswap-submit")
    # When handled
    response = app.lambda_handler(event, Context())
    # Then only the unreadable one is reported (and handed back); the drop was submitted
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
    assert [h for h, _ in hand_backs.calls] == [event["Records"][1]["receiptHandle"]]
    assert _job_status() is Status.SUBMITTED and len(akool.submissions()) == 1


def test_given_every_akool_slot_in_use_then_the_message_comes_back_soon_ready_and_its_retry_detects_nothing(
    app: ModuleType, akool: FakeAkool, resources: dict[str, str], hand_backs: HandBacks,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given AkoolMaxJobsInFlight 1, held by another job, and no time to wait inside the invocation
    monkeypatch.setenv("AKOOL_MAX_JOBS_IN_FLIGHT", "1")
    monkeypatch.setenv("SLOT_WAIT_SECONDS", "0")
    settings.cache_clear()
    app = load_handler("submit")
    slots = SlotStore(boto3.client("dynamodb", region_name=REGION), TABLE)
    assert slots.take("another-job", 1)
    _drop()
    queue = resources["SubmitQueueUrl"]
    send(queue, _sidecar_body())
    # When the message is delivered
    event = receive(queue)
    response = app.lambda_handler(event, Context())
    settle(queue, response, event)
    # Then it comes back after the short delay (not the backoff) with no swap sent; the job was
    # prepared before its wait for the slot (pacing.py: the hand-over), so its photo and face were
    # detected, and it shows WAITING for an AKOOL slot, with when it gives up, keeping what was detected
    assert len(response["batchItemFailures"]) == 1 and depth(queue) == 1
    assert hand_backs.delays == [15] and akool.submissions() == []
    assert len(akool.detections()) == 2 and _job_status() is Status.WAITING
    assert _report()["waiting_for"] == "AKOOL slot" and _report()["expires_at"]
    # And once the slot is given back, the next delivery submits it, holding the slot, without asking
    # AKOOL's detector again
    slots.release("another-job")
    sqs().change_message_visibility(
        QueueUrl=queue, ReceiptHandle=event["Records"][0]["receiptHandle"], VisibilityTimeout=0
    )
    event = receive(queue)
    assert app.lambda_handler(event, Context()) == {"batchItemFailures": []}
    assert _job_status() is Status.SUBMITTED and len(slots.holders()) == 1
    assert len(akool.detections()) == 2 and len(akool.submissions()) == 1


def _keys(prefix: str) -> list[str]:
    listing = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [o["Key"] for o in listing.get("Contents", [])]


def test_given_a_folder_manifest_upload_when_handled_then_its_photos_come_back_through_the_queue(
    app: ModuleType, akool: FakeAkool, resources: dict[str, str]
) -> None:
    # Given two photos in a folder and the face elsewhere, then the folder manifest's S3 notification
    folder = "inbox/Summer party/"
    for name in ("a.jpg", "b.jpg"):
        _put(folder + name, JPEG)
    akool.faces["Summer party/"] = [face(120, 80, 90, 110)]
    _put("inbox/faces/alice.jpg", JPEG)
    doc = {"version": 1, "swaps": [{"source": "../faces/alice.jpg", "target": 0}]}
    _put(folder + "_folder.faceswap.json", json.dumps(doc).encode())
    notification = {"Records": [{"s3": {"bucket": {"name": BUCKET},
                                        "object": {"key": "inbox/Summer+party/_folder.faceswap.json"}}}]}
    queue = resources["SubmitQueueUrl"]
    # When the handler works it, then the queue's folder_photo messages (as the mapping delivers them)
    assert app.lambda_handler(sqs_event([json.dumps(notification)], queue), Context()) == {
        "batchItemFailures": []
    }
    assert akool.submissions() == [] and depth(queue) == 2
    event = receive(queue)
    response = app.lambda_handler(event, Context())
    settle(queue, response, event)
    # Then each photo was submitted once, and the queue is empty
    assert response == {"batchItemFailures": []} and depth(queue) == 0
    assert len(akool.submissions()) == 2

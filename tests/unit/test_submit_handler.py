"""SubmitFunction's handler with the events/ samples, end to end in moto with the fake AKOOL."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from dropswap.akool_client import AkoolError
from tests.conftest import BUCKET, REGION, TEST_API_KEY, load_event, load_handler
from tests.unit.akool_fake import FakeAkool, face, fake_akool

IMAGE = "inbox/Summer party/Zoë team.jpg"
SIDECAR = IMAGE + ".faceswap.json"
FACE = "inbox/Summer party/faces/alice.jpg"


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


def test_given_sample_events_sidecar_first_when_handled_then_waiting_then_submitted(
    app: ModuleType, akool: FakeAkool, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    _put(FACE, b"face")
    _put(SIDECAR, _manifest())
    first = app.lambda_handler(load_event("s3-put-sidecar.json"), Context())
    assert first["records"] == 1 and [o["status"] for o in first["outcomes"]] == ["WAITING"]
    assert first["outcomes"][0]["key"] == SIDECAR  # decoded: space and ë restored
    assert _metrics(capsys.readouterr().out) == {"JobsWaiting": 1.0}

    _put(IMAGE, b"image")
    second = app.lambda_handler(load_event("s3-put-image.json"), Context())
    assert [o["status"] for o in second["outcomes"]] == ["SUBMITTED"]
    assert _metrics(capsys.readouterr().out) == {"JobsSubmitted": 1.0}
    # Every log line as the function writes it (JSON with the extras), from both handler and layer.
    out = "\n".join(app.logger.registered_formatter.format(r) for r in caplog.records)
    [submission] = akool.submissions()
    body = submission.body
    assert body is not None
    # Logs carry ids and keys, never the API key, the webhook token or presigned URLs.
    token = parse_qs(urlsplit(body["webhookUrl"]).query)["token"][0]
    assert TEST_API_KEY not in out and token not in out and "X-Amz-Signature" not in out
    assert second["outcomes"][0]["job_id"] in out and "Summer party/Zoë team.jpg" in out


def test_given_same_sample_event_five_times_when_handled_then_one_submission(
    app: ModuleType, akool: FakeAkool
) -> None:
    _put(FACE, b"face")
    _put(IMAGE, b"image")
    _put(SIDECAR, _manifest())
    statuses = [
        o["status"]
        for _ in range(5)
        for o in app.lambda_handler(load_event("s3-put-sidecar.json"), Context())["outcomes"]
    ]
    assert statuses == ["SUBMITTED"] + ["DUPLICATE"] * 4
    assert len(akool.submissions()) == 1


def test_given_rejected_manifest_when_handled_then_report_and_rejected_metric(
    app: ModuleType, akool: FakeAkool, capsys: pytest.CaptureFixture[str]
) -> None:
    _put(FACE, b"face")
    _put(IMAGE, b"image")
    _put(SIDECAR, _manifest(target=7))
    result = app.lambda_handler(load_event("s3-put-sidecar.json"), Context())
    assert [o["status"] for o in result["outcomes"]] == ["REJECTED"]
    assert _metrics(capsys.readouterr().out) == {"JobsRejected": 1.0}
    report = json.loads(
        boto3.client("s3", region_name=REGION)
        .get_object(Bucket=BUCKET, Key="results/Summer party/Zoë team.jpg.result.json")["Body"]
        .read()
    )
    assert report["status"] == "REJECTED" and report["error"]["message"].startswith(
        "swaps[0].target: no face"
    )
    assert akool.submissions() == []


def test_given_quota_exhausted_when_handled_then_failed_metric(
    app: ModuleType, akool: FakeAkool, capsys: pytest.CaptureFixture[str]
) -> None:
    akool.queue_code("pro", 1006)
    _put(FACE, b"face")
    _put(IMAGE, b"image")
    _put(SIDECAR, _manifest())
    result = app.lambda_handler(load_event("s3-put-sidecar.json"), Context())
    assert [o["status"] for o in result["outcomes"]] == ["FAILED"]
    assert _metrics(capsys.readouterr().out) == {"JobsFailed": 1.0}


def test_given_akool_unavailable_when_handled_then_invocation_fails_for_lambda_retry(
    app: ModuleType, akool: FakeAkool
) -> None:
    for _ in range(8):
        akool.queue("detect", 503, "<html>Service Unavailable</html>")
    _put(FACE, b"face")
    _put(IMAGE, b"image")
    _put(SIDECAR, _manifest())
    with pytest.raises(AkoolError):
        app.lambda_handler(load_event("s3-put-sidecar.json"), Context())


def test_given_event_with_slash_encoded_key_and_two_records_then_each_decoded_and_handled(
    app: ModuleType, akool: FakeAkool
) -> None:
    _put(FACE, b"face")
    _put(IMAGE, b"image")
    _put(SIDECAR, _manifest())
    event = load_event("s3-put-sidecar.json")
    other = copy.deepcopy(event["Records"][0])
    other["s3"]["object"]["key"] = "inbox%2FSummer+party%2FZo%C3%AB+team.jpg"  # an emulator's encoding
    event["Records"].append(other)
    result = app.lambda_handler(event, Context())
    assert [o["status"] for o in result["outcomes"]] == ["SUBMITTED", "DUPLICATE"]
    assert len(akool.submissions()) == 1


def test_given_event_without_records_then_nothing_happens(app: ModuleType, akool: FakeAkool) -> None:
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET}
    assert app.lambda_handler(test_event, Context()) == {"records": 0, "outcomes": []}
    assert akool.calls == []

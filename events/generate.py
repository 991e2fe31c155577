"""Generate the sample events in events/ (run: `python -m events.generate`; tests check they are current).

API Gateway REST proxy events carrying AKOOL callbacks, encrypted and signed with the test credentials
of tests/conftest.py for the job `JOB_ID` (AKOOL `_id` `AKOOL_ID`, webhook token `TOKEN`; the unit
tests create that job), SQS events for SubmitFunction (S3 notifications wrapped as the SubmitQueue
delivers them, a recheck, a folder manifest's photo) and FinaliseFunction, and an EventBridge scheduled
event for the reconciler. Everything is fixed (ids, timestamps, nonces, and AES-CBC with AKOOL's fixed
IV is deterministic), so re-running the script reproduces the files byte for byte.
Usable with `sam local invoke -e events/<file>.json`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "layers" / "dropswap"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from devkit.credentials import TEST_API_KEY, TEST_CLIENT_ID  # noqa: E402
from dropswap.domain.webhook_crypto import build_callback  # noqa: E402

EVENTS_DIR = Path(__file__).resolve().parent

# The job the samples belong to (tests create it with these values; none of them is a real secret).
JOB_ID = "0f5c2e8a41b94d7e9a3c6b1d2e4f5a60"
TOKEN = "sample-webhook-token-0123456789abcdefABCDEF_-xyz"  # noqa: S105 - a published test value
AKOOL_ID = "6593c94c0ef703e8c055e3c8"
IMAGE_KEY = "inbox/party/team.jpg"
# The query string stands for the signed CDN URL AKOOL may send: it must never reach a log line.
RESULT_URL = f"https://results.akool.test/final_{AKOOL_ID}.jpg?Expires=1710844381&Signature=c2FtcGxl"
STAGE = "v1"
API_ID = "abcdef1234"
TIMESTAMP = 1710757981609
SUBMIT_QUEUE = "dropswap-submit"
FINALISE_QUEUE = "dropswap-finalise"


def callback_body(status: int, *, nonce: str, url: str | None = None, akool_id: str = AKOOL_ID) -> str:
    payload: dict[str, Any] = {"_id": akool_id, "status": status, "type": "faceswap"}
    if url is not None:
        payload["url"] = url
    body = build_callback(payload, TEST_CLIENT_ID, TEST_API_KEY, timestamp=TIMESTAMP + status, nonce=nonce)
    return json.dumps(body, separators=(",", ":"))


def api_event(
    body: str, *, token: str = TOKEN, job_id: str = JOB_ID, base64_body: bool = False
) -> dict[str, Any]:
    """An API Gateway REST (v1) proxy event for POST /webhooks/akool/{job_id}?token=..."""
    path = f"/webhooks/akool/{job_id}"
    headers = {
        "Content-Type": "application/json",
        "Host": f"{API_ID}.execute-api.us-east-1.amazonaws.com",
        "User-Agent": "AKOOL-Webhook",
        "X-Forwarded-Proto": "https",
    }
    return {
        "resource": "/webhooks/akool/{job_id}",
        "path": path,
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {"token": token},
        "multiValueQueryStringParameters": {"token": [token]},
        "pathParameters": {"job_id": job_id},
        "stageVariables": None,
        "requestContext": {
            "resourceId": "res123",
            "resourcePath": "/webhooks/akool/{job_id}",
            "httpMethod": "POST",
            "extendedRequestId": "sample-extended-request-id",
            "requestTime": "18/Mar/2024:10:33:01 +0000",
            "path": f"/{STAGE}{path}",
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": STAGE,
            "domainPrefix": API_ID,
            "requestTimeEpoch": TIMESTAMP,
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"sourceIp": "203.0.113.10", "userAgent": "AKOOL-Webhook"},
            "domainName": f"{API_ID}.execute-api.us-east-1.amazonaws.com",
            "apiId": API_ID,
        },
        "body": base64.b64encode(body.encode()).decode() if base64_body else body,
        "isBase64Encoded": base64_body,
    }


def _tampered(body: str) -> str:
    """The status-3 callback with one character of dataEncrypt changed and the signature left as is."""
    data = json.loads(body)
    enc = data["dataEncrypt"]
    data["dataEncrypt"] = ("B" if enc[0] != "B" else "C") + enc[1:]
    return json.dumps(data, separators=(",", ":"))


def schedule_event() -> dict[str, Any]:
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2024-03-18T10:35:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/dropswap-ReconcileFunctionSchedule"],
        "detail": {},
    }


def sqs_event(bodies: list[str], queue: str, *, receive_count: int = 1) -> dict[str, Any]:
    """An SQS event as Lambda's event source mapping delivers it, one record per body."""
    records = []
    for i, body in enumerate(bodies):
        message_id = f"5e1a7c3d-0000-4000-8000-{i:012d}"
        records.append({
            "messageId": message_id,
            "receiptHandle": f"sample-receipt-handle-{queue}-{i}",
            "body": body,
            "attributes": {
                "ApproximateReceiveCount": str(receive_count),
                "SentTimestamp": str(TIMESTAMP),
                "SenderId": "AIDAEXAMPLESENDER",
                "ApproximateFirstReceiveTimestamp": str(TIMESTAMP + 5),
            },
            "messageAttributes": {},
            "md5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - SQS's own checksum
            "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{queue}",
            "awsRegion": "us-east-1",
        })
    return {"Records": records}


def _s3_notification(name: str) -> str:
    """A hand-written S3 event sample (events/s3-put-*.json) as the body S3 puts on the SubmitQueue."""
    return json.dumps(json.loads((EVENTS_DIR / name).read_text(encoding="utf-8")), separators=(",", ":"))


def finalise_message(status: int, url: str | None = None) -> str:
    akool = {"_id": AKOOL_ID, "status": status, "url": url, "reason": None}
    return json.dumps(
        {"dropswap": "finalise", "job_id": JOB_ID, "akool": akool, "source": "webhook", "touch": False}
    )


def build_events() -> dict[str, dict[str, Any]]:
    status3 = callback_body(3, nonce="3003", url=RESULT_URL)
    return {
        # SubmitQueue deliveries: S3's notifications (bodies from events/s3-put-*.json), a recheck.
        "sqs-submit-sidecar.json": sqs_event([_s3_notification("s3-put-sidecar.json")], SUBMIT_QUEUE),
        "sqs-submit-image.json": sqs_event([_s3_notification("s3-put-image.json")], SUBMIT_QUEUE),
        "sqs-submit-recheck.json": sqs_event(
            [json.dumps({"dropswap": "recheck", "job_id": JOB_ID})], SUBMIT_QUEUE
        ),
        # One photo of a folder manifest's folder, as SubmitFunction sends it when the manifest arrives.
        "sqs-submit-folder-photo.json": sqs_event(
            [json.dumps({"dropswap": "folder_photo",
                         "manifest": {"key": "inbox/party/_folder.faceswap.json", "version": "1"},
                         "key": IMAGE_KEY})],
            SUBMIT_QUEUE,
        ),
        # A FinaliseQueue delivery: AKOOL's status 3 for the sample job, as the webhook enqueues it.
        "sqs-finalise-status3.json": sqs_event([finalise_message(3, RESULT_URL)], FINALISE_QUEUE),
        "apigw-webhook-status2.json": api_event(callback_body(2, nonce="2002")),
        "apigw-webhook-status3.json": api_event(status3),
        # Base64 body, as API Gateway passes binary media types: the handler must decode it.
        "apigw-webhook-status4.json": api_event(callback_body(4, nonce="4004"), base64_body=True),
        "apigw-webhook-bad-token.json": api_event(status3, token="not-the-token-" + "x" * 29),
        "apigw-webhook-tampered.json": api_event(_tampered(status3)),
        "schedule-reconcile.json": schedule_event(),
    }


def render(event: dict[str, Any]) -> str:
    return json.dumps(event, indent=2) + "\n"


def main() -> None:
    for name, event in build_events().items():
        (EVENTS_DIR / name).write_text(render(event), encoding="utf-8")
        print(f"wrote events/{name}")


if __name__ == "__main__":
    main()

"""Helpers for the queue-fed handlers' tests: SQS events from real moto messages (receipt handles that
ChangeMessageVisibility accepts), and a record of the delays messages were handed back with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from dropswap.adapters.queues import SqsQueue
from dropswap.flows.common import queue_batch
from tests.conftest import REGION


def sqs() -> Any:
    return boto3.client("sqs", region_name=REGION)


def send(queue_url: str, body: str) -> None:
    sqs().send_message(QueueUrl=queue_url, MessageBody=body)


def receive(queue_url: str, max_messages: int = 10) -> dict[str, Any]:
    """What the event source mapping would deliver now: the visible messages as a Lambda SQS event."""
    resp = sqs().receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=max_messages, AttributeNames=["All"], VisibilityTimeout=720
    )
    attrs = sqs().get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
    arn = attrs["QueueArn"]
    return {"Records": [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": m["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": arn,
            "awsRegion": REGION,
        }
        for m in resp.get("Messages", [])
    ]}


def settle(queue_url: str, response: dict[str, Any], event: dict[str, Any]) -> None:
    """What the event source mapping does with a partial batch response: delete the records not reported."""
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    for record in event["Records"]:
        if record["messageId"] not in failed:
            sqs().delete_message(QueueUrl=queue_url, ReceiptHandle=record["receiptHandle"])


def depth(queue_url: str) -> int:
    attrs = sqs().get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


@dataclass
class HandBacks:
    """Every ChangeMessageVisibility the handlers made: (receipt handle, seconds)."""

    calls: list[tuple[str, int]] = field(default_factory=list)

    @property
    def delays(self) -> list[int]:
        return [seconds for _, seconds in self.calls]


@pytest.fixture
def hand_backs(monkeypatch: pytest.MonkeyPatch) -> HandBacks:
    """Records hand-backs (still made, in moto); jitter draws its ceiling, so delays are deterministic."""
    record = HandBacks()
    original = SqsQueue.retry_in

    def retry_in(self: SqsQueue, receipt_handle: str, seconds: int) -> None:
        record.calls.append((receipt_handle, seconds))
        original(self, receipt_handle, seconds)

    monkeypatch.setattr(SqsQueue, "retry_in", retry_in)
    monkeypatch.setattr(queue_batch, "UNIFORM", lambda low, high: high)
    return record


def drain(handler: Any, queue_url: str, context: Any, rounds: int = 5) -> int:
    """Deliver what is visible on a queue to its handler, as the event source mapping would, until the
    queue is empty or `rounds` deliveries are done; the number of messages delivered."""
    delivered = 0
    for _ in range(rounds):
        event = receive(queue_url)
        if not event["Records"]:
            break
        delivered += len(event["Records"])
        settle(queue_url, handler.lambda_handler(event, context), event)
    return delivered

"""SQS adapter: send a message, or hand a received one back to its queue for later (its visibility)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef


_BATCH = 10  # SendMessageBatch takes at most 10 entries


class SqsQueue:
    def __init__(self, client: SQSClient, url: str) -> None:
        self._sqs = client
        self.url = url

    def send(self, body: str, delay_seconds: int = 0) -> None:
        self._sqs.send_message(QueueUrl=self.url, MessageBody=body, DelaySeconds=delay_seconds)

    def send_batch(self, bodies: Sequence[str]) -> None:
        """Send every body, ten per SendMessageBatch (SQS's limit); raise if any was not accepted (the
        caller's message comes back and sends them all again: the receiving side is idempotent)."""
        for start in range(0, len(bodies), _BATCH):
            chunk = bodies[start : start + _BATCH]
            entries: list[SendMessageBatchRequestEntryTypeDef] = [
                {"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)
            ]
            resp = self._sqs.send_message_batch(QueueUrl=self.url, Entries=entries)
            failed = resp.get("Failed", [])
            if failed:
                codes = sorted({f.get("Code", "?") for f in failed})
                raise RuntimeError(f"SQS refused {len(failed)} of {len(chunk)} messages: {', '.join(codes)}")

    def retry_in(self, receipt_handle: str, seconds: int) -> None:
        """The received message comes back after `seconds` (reported failed, it is not deleted)."""
        self._sqs.change_message_visibility(
            QueueUrl=self.url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )

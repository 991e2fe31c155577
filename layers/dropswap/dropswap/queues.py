"""SQS adapter: send a message, or hand a received one back to its queue for later (its visibility)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class SqsQueue:
    def __init__(self, client: SQSClient, url: str) -> None:
        self._sqs = client
        self.url = url

    def send(self, body: str, delay_seconds: int = 0) -> None:
        self._sqs.send_message(QueueUrl=self.url, MessageBody=body, DelaySeconds=delay_seconds)

    def retry_in(self, receipt_handle: str, seconds: int) -> None:
        """The received message comes back after `seconds` (reported failed, it is not deleted)."""
        self._sqs.change_message_visibility(
            QueueUrl=self.url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )

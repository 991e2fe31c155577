"""A batch of SQS messages (SubmitFunction, FinaliseFunction): each message on its own; the ones that could
not be done now are handed back to their queue with a delay (redelivery.py) and reported as failed
(Powertools' partial batch response), so only they come back and the others are deleted.

- `RetrySoon` or pacing.NoRoom: the short delay (no AKOOL slot free).
- Anything else (AKOOL 1005/5xx/timeouts, `RetryLater`, AWS errors, a message we cannot read):
  exponential backoff by the message's receive count; after maxReceiveCount receives SQS moves it to the
  queue's DLQ.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any, Protocol

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from dropswap.domain.akool import AkoolError
from dropswap.domain.redelivery import RetryLater, RetrySoon, Uniform, backoff_seconds, short_delay_seconds
from dropswap.flows.common.pacing import NoRoom

log = logging.getLogger(__name__)
# The jitter's random draw (tests replace it to make delays deterministic).
UNIFORM: Uniform = random.uniform


class HandBack(Protocol):
    def retry_in(self, receipt_handle: str, seconds: int) -> None: ...


def process_batch(
    event: dict[str, Any],
    context: LambdaContext,
    work: Callable[[str], None],
    queue: HandBack,
    *,
    uniform: Uniform | None = None,
) -> dict[str, Any]:
    """Run `work(body)` for each record; the partial batch response for Lambda's event source mapping."""
    draw = uniform or UNIFORM

    def record_handler(record: SQSRecord) -> None:
        try:
            work(record.body)
        except (NoRoom, RetrySoon) as exc:
            _hand_back(queue, record, short_delay_seconds(draw), exc)
            raise
        except Exception as exc:
            received = _receive_count(record)
            delay = backoff_seconds(received, draw)
            if isinstance(exc, AkoolError) and exc.retryable:
                log.warning("AKOOL busy or unavailable", extra={"code": exc.code, "error": str(exc)})
            elif isinstance(exc, RetryLater):
                log.info("retry later", extra={"why": str(exc)})
            else:
                log.exception("message failed", extra={"message_id": record.message_id})
            _hand_back(queue, record, delay, exc, received=received)
            raise

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return {"batchItemFailures": list(response.get("batchItemFailures", []))}


def _receive_count(record: SQSRecord) -> int:
    try:
        return int(record.attributes.approximate_receive_count)
    except (TypeError, ValueError):
        return 1


def _hand_back(queue: HandBack, record: SQSRecord, seconds: int, exc: Exception, received: int = 0) -> None:
    log.info(
        "message handed back",
        extra={"message_id": record.message_id, "retry_in_seconds": seconds, "why": type(exc).__name__,
               "receive_count": received or _receive_count(record)},
    )
    try:
        queue.retry_in(record.receipt_handle, seconds)
    except Exception:
        # Still reported failed: it comes back after the queue's visibility timeout instead.
        log.exception("could not set the message's delay", extra={"message_id": record.message_id})

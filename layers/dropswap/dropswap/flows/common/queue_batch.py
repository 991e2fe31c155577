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
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from dropswap.domain.akool import AkoolError
from dropswap.domain.redelivery import RetryLater, RetrySoon, Uniform, backoff_seconds, short_delay_seconds
from dropswap.flows.common.pacing import NoRoom

log = logging.getLogger(__name__)
# The jitter's random draw (tests replace it to make delays deterministic).
UNIFORM: Uniform = random.uniform

# An SQS record of Lambda's event, as it comes: {"messageId", "receiptHandle", "body", "attributes", ...}.
Record = Mapping[str, Any]


class HandBack(Protocol):
    def retry_in(self, receipt_handle: str, seconds: int) -> None: ...


def process_batch(
    event: dict[str, Any],
    work: Callable[[str], None],
    queue: HandBack,
    *,
    uniform: Uniform | None = None,
) -> dict[str, Any]:
    """Run `work(body)` for each record; the partial batch response for Lambda's event source mapping
    (ReportBatchItemFailures): the ids of the records that raised, so only they come back.

    The loop is ours, not Powertools' BatchProcessor: importing that utility costs a cold start ~35 ms
    (asyncio and every event data class) for these few lines, and a batch that fails whole is reported
    record by record either way (its raise_on_entire_batch_failure was off)."""
    draw = uniform or UNIFORM
    failures: list[dict[str, str]] = []
    for record in event["Records"]:
        try:
            work(record["body"])
        except (NoRoom, RetrySoon) as exc:
            _hand_back(queue, record, short_delay_seconds(draw), exc)
            failures.append({"itemIdentifier": record["messageId"]})
        except Exception as exc:
            received = _receive_count(record)
            delay = backoff_seconds(received, draw)
            if isinstance(exc, AkoolError) and exc.retryable:
                log.warning("AKOOL busy or unavailable", extra={"code": exc.code, "error": str(exc)})
            elif isinstance(exc, RetryLater):
                log.info("retry later", extra={"why": str(exc)})
            else:
                log.exception("message failed", extra={"message_id": record["messageId"]})
            _hand_back(queue, record, delay, exc, received=received)
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def _receive_count(record: Record) -> int:
    try:
        return int(record.get("attributes", {}).get("ApproximateReceiveCount"))
    except (TypeError, ValueError):
        return 1


def _hand_back(queue: HandBack, record: Record, seconds: int, exc: Exception, received: int = 0) -> None:
    log.info(
        "message handed back",
        extra={"message_id": record["messageId"], "retry_in_seconds": seconds, "why": type(exc).__name__,
               "receive_count": received or _receive_count(record)},
    )
    try:
        queue.retry_in(record["receiptHandle"], seconds)
    except Exception:
        # Still reported failed: it comes back after the queue's visibility timeout instead.
        log.exception("could not set the message's delay", extra={"message_id": record["messageId"]})

"""SubmitFunction: S3 ObjectCreated under inbox/ → dropswap.submit.Submitter, one record at a time.

Thin on purpose: parse the event, build the Submitter from dropswap.wiring, count outcomes as metrics.
Logs carry job ids, keys and statuses; never the API key, webhook tokens or presigned URLs.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.s3_event import S3Event
from aws_lambda_powertools.utilities.typing import LambdaContext

from dropswap import keys, wiring
from dropswap.submit import Outcome, OutcomeKind, Submitter

logger = Logger()
metrics = Metrics()
# The layer's modules log through the standard library; give them this function's JSON format.
copy_config_to_registered_loggers(source_logger=logger, include={"dropswap"})
# At cold start: a function without its bucket, table, secret or webhook URL fails here, by name.
SETTINGS = wiring.settings_for(wiring.SUBMIT_NEEDS)

_METRIC_FOR: dict[OutcomeKind, str] = {
    "SUBMITTED": "JobsSubmitted",
    "REJECTED": "JobsRejected",
    "WAITING": "JobsWaiting",
    "FAILED": "JobsFailed",
}
# The lease outlives this invocation (Timeout 120 s in template.yaml) with room to spare.
_LEASE_MARGIN_SECONDS = 60


def _submitter(context: LambdaContext) -> Submitter:
    def remaining() -> float:
        return float(context.get_remaining_time_in_millis()) / 1000.0

    parts = wiring.Adapters(SETTINGS, remaining_seconds=remaining)
    lease = int(remaining()) + _LEASE_MARGIN_SECONDS
    return Submitter(parts.jobs, parts.objects, parts.akool, SETTINGS, lease_seconds=lease)


def _count(outcomes: list[Outcome]) -> None:
    counts = Counter(o.kind for o in outcomes)
    # Zeros too: continuous series keep dashboards and alarms on these metrics simple.
    for kind, name in _METRIC_FOR.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=counts.get(kind, 0))


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.set_correlation_id(context.aws_request_id)
    records = event.get("Records") or []
    if not records:  # e.g. s3:TestEvent when notifications are configured
        logger.info("event without records", extra={"event_name": event.get("Event")})
        _count([])
        return {"records": 0, "outcomes": []}
    submitter = _submitter(context)
    outcomes: list[Outcome] = []
    error: Exception | None = None
    for record in S3Event(event).records:
        bucket = record.s3.bucket.name
        key = keys.decode_event_key(record.s3.get_object.key)
        logger.info("object created", extra={"bucket": bucket, "key": key, "event_name": record.event_name})
        try:
            outcomes.extend(submitter.handle_object_created(bucket, key))
        except Exception as exc:
            # Finish the other records; then fail the invocation so Lambda retries this event
            # (the records already done are no-ops on the retry).
            logger.exception("record failed", extra={"bucket": bucket, "key": key})
            error = error or exc
    _count(outcomes)
    for o in outcomes:
        logger.info("outcome", extra={"job_id": o.job_id, "key": o.key, "status": o.kind, "detail": o.detail})
    if error is not None:
        raise error
    return {
        "records": len(records),
        "outcomes": [{"key": o.key, "job_id": o.job_id, "status": o.kind} for o in outcomes],
    }

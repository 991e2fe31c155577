"""SubmitFunction: SubmitQueue messages (S3 events under inbox/, the reconciler's rechecks, a folder
manifest's photos) → Submitter.

Thin on purpose: parse each message (dropswap.domain.messages), run the Submitter that dropswap.app.submit
builds, hand the messages that must wait back to the queue (dropswap.flows.common.queue_batch: partial
batch response), count outcomes.
Logs carry job ids, keys and statuses; never the API key, webhook tokens or presigned URLs.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from dropswap.app import snapstart
from dropswap.app import submit as composition
from dropswap.domain import messages
from dropswap.flows.common import queue_batch
from dropswap.flows.submit.submitter import Outcome, OutcomeKind

logger = Logger()
metrics = Metrics()
# The layer's modules log through the standard library; give them this function's JSON format.
copy_config_to_registered_loggers(source_logger=logger, include={"dropswap"})
# At cold start: a function without its bucket, table, secret, webhook URL or queue fails here, by name.
SETTINGS = composition.settings()
# SnapStart's hooks (template parameter SnapStart): no connection, key or random state across a restore.
snapstart.install()

_METRIC_FOR: dict[OutcomeKind, str] = {
    "SUBMITTED": "JobsSubmitted",
    "SUCCEEDED": "JobsSucceeded",  # "mode": "faces" jobs end here
    "REJECTED": "JobsRejected",
    "WAITING": "JobsWaiting",
    # Held back by the daily AKOOL credit budget (alarmed: CreditBudgetSpentAlarm in template.yaml).
    "OVER_BUDGET": "JobsOverBudget",
    "FAILED": "JobsFailed",
}


def _count(outcomes: list[Outcome]) -> None:
    counts = Counter(o.kind for o in outcomes)
    # Zeros too: continuous series keep dashboards and alarms on these metrics simple.
    for kind, name in _METRIC_FOR.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=counts.get(kind, 0))


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.set_correlation_id(context.aws_request_id)

    def remaining() -> float:
        return float(context.get_remaining_time_in_millis()) / 1000.0

    submitter, parts = composition.build(SETTINGS, remaining)
    outcomes: list[Outcome] = []

    def work(body: str) -> None:
        for item in messages.parse_submit_body(body):
            if isinstance(item, messages.Recheck):
                logger.info("recheck", extra={"job_id": item.job_id})
                outcomes.append(submitter.recheck_waiting(item.job_id))
            elif isinstance(item, messages.FolderPhoto):
                logger.info("folder photo", extra={"key": item.key, "manifest": item.manifest_key})
                outcomes.append(
                    submitter.handle_folder_photo(item.manifest_key, item.manifest_version, item.key)
                )
            else:
                logger.info("object created", extra={"bucket": item.bucket, "key": item.key})
                outcomes.extend(submitter.handle_object_created(item.bucket, item.key, item.version))

    response = queue_batch.process_batch(event, work, parts.submit_queue)
    _count(outcomes)
    for o in outcomes:
        logger.info("outcome", extra={"job_id": o.job_id, "key": o.key, "status": o.kind, "detail": o.detail})
    return response

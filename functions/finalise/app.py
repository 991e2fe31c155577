"""FinaliseFunction: FinaliseQueue messages (AKOOL's word on a job, from the webhook or the reconciler) →
dropswap.flows.finalise: the leased, idempotent download into results/, the report, the transition.

Thin on purpose: messages that must wait are handed back to the queue (dropswap.flows.common.queue_batch).
Never logs a message body: AKOOL's result URL may carry a signature.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from dropswap.app import finalise as composition
from dropswap.app import snapstart
from dropswap.flows.common import queue_batch
from dropswap.flows.common.finaliser import Action
from dropswap.flows.finalise import finalise_message

logger = Logger()
metrics = Metrics()
copy_config_to_registered_loggers(source_logger=logger, include={"dropswap"})
# At cold start: a function without its bucket, table, secret or queue fails here, by name.
SETTINGS = composition.settings()
# SnapStart's hooks (template parameter SnapStart): no connection, key or random state across a restore.
snapstart.install()


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    def remaining() -> float:
        return float(context.get_remaining_time_in_millis()) / 1000.0

    finaliser, parts = composition.build(SETTINGS, remaining)
    counts = {Action.SUCCEEDED: 0, Action.FAILED: 0}

    def work(body: str) -> None:
        outcome = finalise_message(parts.jobs, finaliser, body)
        if outcome is not None and outcome.action in counts:
            counts[outcome.action] += 1

    response = queue_batch.process_batch(event, work, parts.finalise_queue)
    metrics.add_metric(name="JobsSucceeded", unit=MetricUnit.Count, value=counts[Action.SUCCEEDED])
    metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=counts[Action.FAILED])
    return response

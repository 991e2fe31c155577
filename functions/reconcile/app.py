"""ReconcileFunction: on a schedule, finish jobs whose webhook never came.

Logic: dropswap.flows.reconcile, built by dropswap.app.reconcile.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from dropswap.app import reconcile as composition
from dropswap.app import snapstart

logger = Logger()
metrics = Metrics()
copy_config_to_registered_loggers(source_logger=logger, include={"dropswap"})
# At cold start: a function without its bucket, table, secret or queues fails here, by name.
SETTINGS = composition.settings()
# SnapStart's hooks (template parameter SnapStart): no connection, key or random state across a restore.
snapstart.install()


class ReconcileIncomplete(Exception):
    """Some jobs could not be reconciled this run (each is logged); raised so the Errors alarm sees it."""


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    def remaining() -> float:
        return context.get_remaining_time_in_millis() / 1000

    reconciler = composition.build(SETTINGS, remaining)
    summary = reconciler.run().as_dict()
    logger.info("reconcile run", extra={"summary": summary})
    # Jobs AKOOL finished are counted by FinaliseFunction; these are the reconciler's own endings.
    metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=summary.get("expired", 0))
    metrics.add_metric(name="JobsRejected", unit=MetricUnit.Count, value=summary.get("rejected", 0))
    if summary.get("errors", 0):
        raise ReconcileIncomplete(f"{summary['errors']} job(s) could not be reconciled: {summary}")
    return summary

"""ReconcileFunction: on a schedule, finish jobs whose webhook never came (logic: dropswap.reconcile)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from dropswap import aws
from dropswap.akool_client import AkoolClient
from dropswap.config import settings
from dropswap.credentials import load_credentials
from dropswap.finalise import Finaliser
from dropswap.job_store import JobStore
from dropswap.object_store import ObjectStore
from dropswap.reconcile import ReconcileLimits, Reconciler
from dropswap.result_fetch import HttpResultFetcher
from dropswap.submit import Submitter

logger = Logger()
metrics = Metrics()
copy_config_to_registered_loggers(source_logger=logger, include={"dropswap"})


class ReconcileIncomplete(Exception):
    """Some jobs could not be reconciled this run (each is logged); raised so the Errors alarm sees it."""


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    s = settings()

    def remaining() -> float:
        return context.get_remaining_time_in_millis() / 1000

    def akool() -> AkoolClient:
        return AkoolClient(
            load_credentials(s.akool_secret_id), s.akool_base_url, s.akool_detect_url,
            timeout=s.akool_timeout_seconds, max_attempts=s.akool_max_attempts, remaining_seconds=remaining,
        )

    store = JobStore(aws.dynamodb(), s.jobs_table, ttl_days=s.job_ttl_days)
    objects = ObjectStore(aws.s3(), s.drop_bucket)
    fetcher = HttpResultFetcher(
        https_only=s.result_https_only, max_bytes=s.max_result_bytes, timeout_seconds=s.result_timeout_seconds
    )
    finaliser = Finaliser(store, objects, fetcher, lease_seconds=s.finalise_lease_seconds)
    reconciler = Reconciler(
        store, finaliser, objects, akool, Submitter(store, objects, akool, s),
        ReconcileLimits.from_settings(s), remaining_seconds=remaining,
    )
    summary = reconciler.run().as_dict()
    logger.info("reconcile run", extra={"summary": summary})
    metrics.add_metric(name="JobsSucceeded", unit=MetricUnit.Count, value=summary.get("succeeded", 0))
    metrics.add_metric(
        name="JobsFailed", unit=MetricUnit.Count, value=summary.get("failed", 0) + summary.get("expired", 0)
    )
    metrics.add_metric(name="JobsRejected", unit=MetricUnit.Count, value=summary.get("rejected", 0))
    if summary.get("errors", 0):
        raise ReconcileIncomplete(f"{summary['errors']} job(s) could not be reconciled: {summary}")
    return summary

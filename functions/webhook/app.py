"""WebhookFunction: AKOOL's callbacks on POST /webhooks/akool/{job_id}?token=… (logic: dropswap.webhook).

Never logs the event: its query string holds the job's webhook token.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from dropswap import aws
from dropswap.akool_client import AkoolClient
from dropswap.config import settings
from dropswap.credentials import AkoolCredentials, load_credentials
from dropswap.finalise import Action, Finaliser
from dropswap.job_store import JobStore
from dropswap.object_store import ObjectStore
from dropswap.result_fetch import HttpResultFetcher
from dropswap.webhook import WebhookService

logger = Logger()
metrics = Metrics()
app = APIGatewayRestResolver()
# The logic modules log through the standard library; give them the same structured output.
copy_config_to_registered_loggers(source_logger=logger, include={"dropswap"})


def _remaining_seconds() -> float:
    return app.lambda_context.get_remaining_time_in_millis() / 1000


@lru_cache(maxsize=1)
def _service() -> WebhookService:
    s = settings()
    store = JobStore(aws.dynamodb(), s.jobs_table, ttl_days=s.job_ttl_days)
    fetcher = HttpResultFetcher(
        https_only=s.result_https_only, max_bytes=s.max_result_bytes, timeout_seconds=s.result_timeout_seconds
    )
    finaliser = Finaliser(
        store, ObjectStore(aws.s3(), s.drop_bucket), fetcher, lease_seconds=s.finalise_lease_seconds
    )

    def akool(creds: AkoolCredentials) -> AkoolClient:
        # API Gateway gives up after 29 s: one retry at most for the listbyids fallback.
        return AkoolClient(
            creds, s.akool_base_url, s.akool_detect_url,
            timeout=s.akool_timeout_seconds, max_attempts=2, remaining_seconds=_remaining_seconds,
        )

    return WebhookService(
        store, finaliser, credentials=lambda: load_credentials(s.akool_secret_id), akool=akool
    )


@app.post("/webhooks/akool/<job_id>")
def akool_callback(job_id: str) -> Response[str]:
    event = app.current_event
    reply = _service().handle(
        job_id, event.get_query_string_value("token"), event.body, is_base64=bool(event.is_base64_encoded)
    )
    outcome = reply.outcome
    logger.info(
        "AKOOL callback",
        extra={
            "job_id": job_id,
            "http_status": reply.status_code,
            "reason": reply.reason,
            "action": outcome.action.value if outcome else None,
            "job_status": outcome.job.status.value if outcome and outcome.job else None,
            "error": outcome.error if outcome else None,
        },
    )
    metrics.add_metric(
        name="WebhooksAccepted" if reply.accepted else "WebhooksRejected", unit=MetricUnit.Count, value=1
    )
    if outcome is not None and outcome.action is Action.SUCCEEDED:
        metrics.add_metric(name="JobsSucceeded", unit=MetricUnit.Count, value=1)
    elif outcome is not None and outcome.action is Action.FAILED:
        metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=1)
    body = json.dumps(reply.body)
    return Response(status_code=reply.status_code, content_type=content_types.APPLICATION_JSON, body=body)


@logger.inject_lambda_context(clear_state=True, log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

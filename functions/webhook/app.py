"""WebhookFunction: AKOOL's callbacks on POST /webhooks/akool/{job_id}?token=…
(logic: dropswap.flows.webhook).

Verifies, puts AKOOL's word on the FinaliseQueue and answers at once (FinaliseFunction downloads): 200, 400
or 401, never a 5xx for anything a caller sends.
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

from dropswap.app import snapstart
from dropswap.app import webhook as composition
from dropswap.flows.webhook import WebhookService

logger = Logger()
metrics = Metrics()
app = APIGatewayRestResolver()
# The logic modules log through the standard library; give them the same structured output.
copy_config_to_registered_loggers(source_logger=logger, include={"dropswap"})
# At cold start: a function without its bucket, table, secret or queue fails here, by name.
SETTINGS = composition.settings()
# SnapStart's hooks (template parameter SnapStart): no connection, key or random state across a restore.
snapstart.install()


def _remaining_seconds() -> float:
    return app.lambda_context.get_remaining_time_in_millis() / 1000


@lru_cache(maxsize=1)
def _service() -> WebhookService:
    return composition.build(SETTINGS, _remaining_seconds)


@app.post("/webhooks/akool/<job_id>")
def akool_callback(job_id: str) -> Response[str]:
    event = app.current_event
    reply = _service().handle(
        job_id, event.get_query_string_value("token"), event.body, is_base64=bool(event.is_base64_encoded)
    )
    queued = reply.queued
    logger.info(
        "AKOOL callback",
        extra={
            "job_id": job_id,
            "http_status": reply.status_code,
            "reason": reply.reason,
            # AKOOL's status only: the message's result URL may carry a signature.
            "queued_status": queued.status if queued else None,
            "queued_source": queued.source if queued else None,
        },
    )
    metrics.add_metric(
        name="WebhooksAccepted" if reply.accepted else "WebhooksRejected", unit=MetricUnit.Count, value=1
    )
    if reply.unverified:
        # Right token, body that does not verify: AKOOL's scheme or our key changed, or a URL leaked
        # (WebhookUnverifiedAlarm).
        metrics.add_metric(name="WebhookUnverified", unit=MetricUnit.Count, value=1)
    body = json.dumps(reply.body)
    return Response(status_code=reply.status_code, content_type=content_types.APPLICATION_JSON, body=body)


@logger.inject_lambda_context(clear_state=True, log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

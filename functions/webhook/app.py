"""WebhookFunction: AKOOL's callbacks on POST /webhooks/akool/{job_id}?token=…
(logic: dropswap.flows.webhook).

Verifies, puts AKOOL's word on the FinaliseQueue and answers at once (FinaliseFunction downloads): 200, 400
or 401, never a 5xx for anything a caller sends.
Never logs the event: its query string holds the job's webhook token.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit

from dropswap.app import snapstart
from dropswap.app import webhook as composition

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from dropswap.flows.webhook import WebhookService

logger = Logger()
metrics = Metrics()
# The logic modules log through the standard library; give them the same structured output.
copy_config_to_registered_loggers(source_logger=logger, include={"dropswap"})
# At cold start: a function without its bucket, table, secret or queue fails here, by name.
SETTINGS = composition.settings()
# SnapStart's hooks (template parameter SnapStart): no connection, key or random state across a restore.
snapstart.install()

# The one route API Gateway sends here (template.yaml), read without Powertools' event handler: importing
# it costs a cold start ~100 ms (asyncio and every resolver) for one route. The job id's characters are
# the ones its resolver matched, and the replies keep its shape (a REST proxy answer, multiValueHeaders).
_ROUTE = re.compile(r"^/webhooks/akool/(?P<job_id>[-._~()'!*:@,;=+&$%<> \[\]{}|^\w]+)$")
_JSON = {"Content-Type": ["application/json"]}
_NOT_FOUND = json.dumps({"statusCode": 404, "message": "Not found"}, separators=(",", ":"))
# The invocation's context, for the service's time budget (set by each invocation before it runs).
_invocation: dict[str, LambdaContext] = {}


def _remaining_seconds() -> float:
    return _invocation["context"].get_remaining_time_in_millis() / 1000


@lru_cache(maxsize=1)
def _service() -> WebhookService:
    return composition.build(SETTINGS, _remaining_seconds)


def _reply(status_code: int, body: str) -> dict[str, Any]:
    return {"statusCode": status_code, "body": body, "isBase64Encoded": False, "multiValueHeaders": _JSON}


def akool_callback(job_id: str, event: dict[str, Any]) -> dict[str, Any]:
    token = (event.get("queryStringParameters") or {}).get("token")
    reply = _service().handle(job_id, token, event.get("body"), is_base64=bool(event.get("isBase64Encoded")))
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
    return _reply(reply.status_code, json.dumps(reply.body))


@logger.inject_lambda_context(clear_state=True, log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    _invocation["context"] = context
    route = _ROUTE.match(str(event.get("path") or ""))
    if event.get("httpMethod") != "POST" or route is None:
        return _reply(404, _NOT_FOUND)
    return akool_callback(route["job_id"], event)

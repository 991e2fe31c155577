"""WebhookFunction's object graph: the webhook service over the real adapters."""

from __future__ import annotations

from collections.abc import Callable

from dropswap.app.parts import Parts
from dropswap.flows.webhook import WebhookService
from dropswap.settings import Settings, for_function


def settings() -> Settings:
    return for_function("webhook")


def build(s: Settings, remaining_seconds: Callable[[], float]) -> WebhookService:
    parts = Parts(s, remaining_seconds=remaining_seconds)
    # API Gateway gives up after 29 s: one retry at most for the listbyids fallback.
    return WebhookService(
        parts.jobs, parts.finalise_queue, parts.slots, credentials=parts.credentials,
        akool=lambda creds: parts.akool_with(creds, max_attempts=2),
    )

"""The real adapters of one invocation, built from the function's settings: AWS through boto3 (the
clients under them are process-wide: adapters/aws.py), AKOOL through one pooled HTTP session.

Only the composition root (the other modules of app/) uses this. Each adapter's module is imported when a
path first asks for it (cold start: a webhook that never calls AKOOL does not import requests, a submit
that rejects its input never loads the result fetcher); boto3 is imported at once, as every path of every
function reads the Jobs table. Which module each handler must not import at cold start:
tests/build/test_cold_imports.py.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

from dropswap.adapters import aws
from dropswap.settings import Settings

if TYPE_CHECKING:
    import requests

    from dropswap.adapters.akool_client import AkoolClient
    from dropswap.adapters.event_bus import EventBus
    from dropswap.adapters.job_store import JobStore
    from dropswap.adapters.object_store import ObjectStore
    from dropswap.adapters.queues import SqsQueue
    from dropswap.adapters.result_fetch import HttpResultFetcher
    from dropswap.adapters.slot_store import SlotStore
    from dropswap.domain.akool import AkoolCredentials
    from dropswap.flows.common.credit_budget import CreditBudget
    from dropswap.flows.common.pacing import Pacer, RequestSpacer


@lru_cache(maxsize=1)
def _http() -> requests.Session:
    # One pooled session per warm container: AKOOL's TLS connection is reused across events.
    import requests

    return requests.Session()


@lru_cache(maxsize=1)
def _spacer(requests_per_second: int, submitters: int) -> RequestSpacer:
    # Process-wide: the spacing must hold across the invocations of a warm container.
    from dropswap.flows.common.pacing import RequestSpacer

    return RequestSpacer.for_account(requests_per_second, submitters)


def forget_connections() -> None:
    """Close and drop the process-wide AKOOL session (its pooled TLS connections) and request spacer (its
    monotonic-clock deadline): the next use builds new ones. For SnapStart (snapstart.py)."""
    if _http.cache_info().currsize:
        _http().close()
    _http.cache_clear()
    _spacer.cache_clear()


class Parts:
    """The adapters of one invocation; the boto3 clients under them are process-wide (aws.py)."""

    def __init__(self, s: Settings, *, remaining_seconds: Callable[[], float] | None = None) -> None:
        self.settings = s
        self._remaining = remaining_seconds

    @cached_property
    def jobs(self) -> JobStore:
        from dropswap.adapters.job_store import JobStore

        return JobStore(aws.dynamodb(), self.settings.jobs_table, ttl_days=self.settings.job_ttl_days)

    @cached_property
    def objects(self) -> ObjectStore:
        from dropswap.adapters.object_store import ObjectStore

        return ObjectStore(aws.s3(), self.settings.drop_bucket)

    @cached_property
    def slots(self) -> SlotStore:
        from dropswap.adapters.slot_store import SlotStore

        return SlotStore(aws.dynamodb(), self.settings.jobs_table)

    @cached_property
    def submit_queue(self) -> SqsQueue:
        from dropswap.adapters.queues import SqsQueue

        return SqsQueue(aws.sqs(), self.settings.submit_queue_url)

    @cached_property
    def events(self) -> EventBus:
        from dropswap.adapters.event_bus import EventBus

        return EventBus(aws.events(), self.settings.event_bus_name)

    @cached_property
    def finalise_queue(self) -> SqsQueue:
        from dropswap.adapters.queues import SqsQueue

        return SqsQueue(aws.sqs(), self.settings.finalise_queue_url)

    def pacer(self) -> Pacer:
        from dropswap.flows.common.pacing import Pacer

        s = self.settings
        return Pacer(
            self.slots, s.akool_max_jobs_in_flight, wait_seconds=s.slot_wait_seconds,
            poll_seconds=s.slot_poll_seconds, remaining_seconds=self._remaining,
        )

    def budget(self) -> CreditBudget:
        """The day's AKOOL credit budget, counted in the Jobs table (counted even when unlimited)."""
        from dropswap.adapters.credit_store import CreditStore
        from dropswap.flows.common.credit_budget import CreditBudget

        s = self.settings
        return CreditBudget(
            CreditStore(aws.dynamodb(), s.jobs_table), s.akool_credit_budget_per_day,
            credits_per_swap=s.akool_credits_per_swap,
        )

    def result_fetcher(self) -> HttpResultFetcher:
        from dropswap.adapters.result_fetch import HttpResultFetcher

        s = self.settings
        return HttpResultFetcher(
            https_only=s.result_https_only,
            allowed_hosts=s.allowed_result_hosts,
            allow_loopback=s.result_allow_loopback,
            max_bytes=s.max_result_bytes,
            timeout_seconds=s.result_timeout_seconds,
            deadline_seconds=s.result_deadline_seconds,
        )

    def credentials(self) -> AkoolCredentials:
        from dropswap.adapters.credentials import load_credentials

        return load_credentials(self.settings.akool_secret_id)

    def akool(self) -> AkoolClient:
        """A client with the secret read now (call it on first need: a rejected input never reads it)."""
        return self.akool_with(self.credentials())

    def submit_akool(self) -> AkoolClient:
        """The submit path's client: paced under AKOOL's request rate, and one attempt per call, since a
        retryable answer sends the message back to the queue with a growing delay instead (1005s
        retried in place would only meet the same limit again)."""
        s = self.settings
        spacer = _spacer(s.akool_max_requests_per_second, s.submit_concurrency)
        return self.akool_with(self.credentials(), max_attempts=1, before_request=spacer.wait)

    def akool_with(
        self,
        credentials: AkoolCredentials,
        *,
        max_attempts: int | None = None,
        before_request: Callable[[], None] | None = None,
    ) -> AkoolClient:
        from dropswap.adapters.akool_client import AkoolClient

        s = self.settings
        return AkoolClient(
            credentials,
            s.akool_base_url,
            s.akool_detect_url,
            session=_http(),
            timeout=s.akool_timeout_seconds,
            max_attempts=s.akool_max_attempts if max_attempts is None else max_attempts,
            remaining_seconds=self._remaining,
            before_request=before_request,
            retry_base_seconds=s.akool_retry_base_seconds,
        )

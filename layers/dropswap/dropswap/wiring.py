"""The composition root: each function's settings, checked at cold start, and the adapters built from them.

A handler calls `settings_for(<what it needs>)` when it is imported, so a function deployed without its
bucket, table, secret or webhook URL fails at init with a message naming what is missing, instead of
ignoring every event. It builds its logic (Submitter, Finaliser, Reconciler, WebhookService) from an
`Adapters`. This module imports adapters only, not the logic: a handler's code stays what it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property, lru_cache

import requests

from dropswap import aws
from dropswap.akool_client import AkoolClient
from dropswap.config import Settings, require, settings
from dropswap.credentials import AkoolCredentials, load_credentials
from dropswap.job_store import JobStore
from dropswap.object_store import ObjectStore
from dropswap.result_fetch import HttpResultFetcher

# What each function cannot run without (Settings fields; config.require names their variables).
WEBHOOK_NEEDS = ("drop_bucket", "jobs_table", "akool_secret_id")
# Submit sends AKOOL the webhook URL; the reconciler re-submits WAITING jobs the same way.
SUBMIT_NEEDS = (*WEBHOOK_NEEDS, "webhook_base_url")
RECONCILE_NEEDS = SUBMIT_NEEDS


def settings_for(needs: tuple[str, ...]) -> Settings:
    """The process's settings, if they hold everything in `needs` (else config.SettingsError)."""
    return require(settings(), *needs)


@lru_cache(maxsize=1)
def _http() -> requests.Session:
    # One pooled session per warm container: AKOOL's TLS connection is reused across events.
    return requests.Session()


class Adapters:
    """The adapters of one invocation; the boto3 clients under them are process-wide (aws.py)."""

    def __init__(self, s: Settings, *, remaining_seconds: Callable[[], float] | None = None) -> None:
        self.settings = s
        self._remaining = remaining_seconds

    @cached_property
    def jobs(self) -> JobStore:
        return JobStore(aws.dynamodb(), self.settings.jobs_table, ttl_days=self.settings.job_ttl_days)

    @cached_property
    def objects(self) -> ObjectStore:
        return ObjectStore(aws.s3(), self.settings.drop_bucket)

    def result_fetcher(self) -> HttpResultFetcher:
        s = self.settings
        return HttpResultFetcher(
            https_only=s.result_https_only,
            max_bytes=s.max_result_bytes,
            timeout_seconds=s.result_timeout_seconds,
        )

    def credentials(self) -> AkoolCredentials:
        return load_credentials(self.settings.akool_secret_id)

    def akool(self) -> AkoolClient:
        """A client with the secret read now (call it on first need: a rejected input never reads it)."""
        return self.akool_with(self.credentials())

    def akool_with(self, credentials: AkoolCredentials, *, max_attempts: int | None = None) -> AkoolClient:
        s = self.settings
        return AkoolClient(
            credentials,
            s.akool_base_url,
            s.akool_detect_url,
            session=_http(),
            timeout=s.akool_timeout_seconds,
            max_attempts=s.akool_max_attempts if max_attempts is None else max_attempts,
            remaining_seconds=self._remaining,
        )

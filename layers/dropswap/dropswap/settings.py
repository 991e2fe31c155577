"""Settings read once from the function's environment (set by template.yaml, or by the local stack).

The only module of the layer that reads `os.environ` (a test holds it). Each function's composition root
(app/) calls `for_function` at cold start: a function without what it cannot run without, or with a
malformed number, fails there with a message naming the variable, instead of ignoring or failing
every event.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache

from dropswap.domain.source_host import host_suffixes

# The environment variable behind each setting `require` can ask for.
_REQUIRABLE = {
    "drop_bucket": "DROP_BUCKET",
    "jobs_table": "JOBS_TABLE",
    "akool_secret_id": "AKOOL_SECRET_ID",
    "webhook_base_url": "WEBHOOK_BASE_URL",
    "submit_queue_url": "SUBMIT_QUEUE_URL",
    "finalise_queue_url": "FINALISE_QUEUE_URL",
    "event_bus_name": "EVENT_BUS_NAME",
}


class SettingsError(RuntimeError):
    """The function's environment lacks a setting it needs, or holds one that is not valid."""


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    try:
        value = int(raw) if raw else default
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    return value


def _at_least(name: str, default: int, minimum: int) -> int:
    value = _int(name, default)
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value != value:  # nan: every comparison with it is False, so no timeout or delay would hold
        raise SettingsError(f"{name} must be a number, got {raw!r}")
    return value


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    return default if not raw else raw in {"1", "true", "yes", "on"}


def _list(name: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in os.environ.get(name, "").split(",") if x.strip())


def _hosts(name: str) -> tuple[str, ...]:
    try:
        return host_suffixes(_list(name))
    except ValueError as exc:
        raise SettingsError(f"{name}: {exc}") from None


@dataclass(frozen=True)
class Settings:
    drop_bucket: str
    jobs_table: str
    akool_secret_id: str
    akool_base_url: str = "https://openapi.akool.com"
    akool_detect_url: str = "https://openapi.akool.com/interface/detect-api"
    webhook_base_url: str = ""
    # Other buckets a manifest may name as s3:// sources (template parameter ExtraSourceBuckets).
    extra_source_buckets: tuple[str, ...] = field(default_factory=tuple)
    # How long presigned input URLs live. Role-signed URLs die with the role's session anyway.
    presign_ttl_seconds: int = 3600
    max_image_bytes: int = 20 * 1024 * 1024
    # Width × height of the photo and each S3 source, from the image header (a small file can declare a
    # huge image). 50 MP admits the full-resolution modes of 48/50 MP phone cameras; AKOOL documents none.
    max_image_pixels: int = 50_000_000
    max_result_bytes: int = 100 * 1024 * 1024
    # Host suffixes https manifest sources must be under (template parameter AllowedSourceHosts); empty: any
    # public host.
    allowed_source_hosts: tuple[str, ...] = field(default_factory=tuple)
    # https only (the template sets it; plain http is for tests and benchmarks on 127.0.0.1).
    result_https_only: bool = True
    # Host suffixes result URLs must be under (template parameter AllowedResultHosts); empty: any public host.
    allowed_result_hosts: tuple[str, ...] = field(default_factory=tuple)
    # Local stack only (template parameter LocalStackLoopbackResults): results may come from loopback
    # addresses, where the local AKOOL emulator serves them. Never set in a deployment.
    result_allow_loopback: bool = False
    job_ttl_days: int = 90
    reconcile_after_seconds: int = 600
    max_job_age_seconds: int = 2 * 86400
    waiting_recheck_seconds: int = 300
    akool_timeout_seconds: float = 10.0
    akool_max_attempts: int = 4
    # Full-jitter backoff base of AKOOL calls retried in place (domain/redelivery.full_jitter).
    akool_retry_base_seconds: float = 0.5
    # WAITING jobs whose inputs have not all arrived after this long are REJECTED by the reconciler.
    max_waiting_age_seconds: int = 86400
    # Finalisation lease (job_store.claim_finalisation); must exceed every finalising function's timeout.
    finalise_lease_seconds: int = 600
    # Reconciler: ids per AKOOL listbyids call, and open jobs looked at per run (bounded work).
    reconcile_batch_size: int = 20
    reconcile_max_jobs: int = 200
    # Result download: seconds to wait for the connection and between received bytes, and for the whole
    # download (a result trickling in slowly must not hold the finaliser until its Lambda timeout).
    result_timeout_seconds: float = 30.0
    result_deadline_seconds: float = 120.0
    # The queues (template.yaml): S3 events and rechecks → SubmitFunction; AKOOL's truths → FinaliseFunction.
    submit_queue_url: str = ""
    finalise_queue_url: str = ""
    # DropswapEventBus: where the functions that end jobs publish completion events (job_events.py).
    event_bus_name: str = ""
    # Pacing (pacing.py). 0 = unlimited (no pacing); the template passes its parameters.
    akool_max_jobs_in_flight: int = 0
    akool_max_requests_per_second: int = 0
    submit_concurrency: int = 2
    # How long one submission waits inside its invocation for a free AKOOL slot before its message goes
    # back to the queue, and how often it looks (one consistent read; a freed slot idles half of this on
    # average: pacing.py).
    slot_wait_seconds: float = 20.0
    slot_poll_seconds: float = 0.05
    # The daily AKOOL credit budget (credit_budget.py; template parameter AkoolCreditBudgetPerDay): 0 =
    # unlimited (credits are counted all the same). What one swap call costs: AKOOL publishes no figure,
    # so 1 is an assumption (docs/akool.md §9).
    akool_credit_budget_per_day: int = 0
    akool_credits_per_swap: int = 1


def load_settings() -> Settings:
    s = _load()
    if 0 < s.akool_credit_budget_per_day < s.akool_credits_per_swap:
        # Not one swap would ever fit: every job would wait for good.
        raise SettingsError(
            f"AKOOL_CREDIT_BUDGET_PER_DAY ({s.akool_credit_budget_per_day}) is less than one swap's "
            f"AKOOL_CREDITS_PER_SWAP ({s.akool_credits_per_swap}); raise it, or 0 for unlimited"
        )
    return s


def _load() -> Settings:
    env = os.environ
    return Settings(
        drop_bucket=env.get("DROP_BUCKET", ""),
        jobs_table=env.get("JOBS_TABLE", ""),
        akool_secret_id=env.get("AKOOL_SECRET_ID", ""),
        akool_base_url=env.get("AKOOL_BASE_URL", "") or Settings.akool_base_url,
        akool_detect_url=env.get("AKOOL_DETECT_URL", "") or Settings.akool_detect_url,
        webhook_base_url=env.get("WEBHOOK_BASE_URL", "").rstrip("/"),
        extra_source_buckets=_list("EXTRA_SOURCE_BUCKETS"),
        presign_ttl_seconds=_int("PRESIGN_TTL_SECONDS", Settings.presign_ttl_seconds),
        max_image_bytes=_int("MAX_IMAGE_BYTES", Settings.max_image_bytes),
        max_image_pixels=_int("MAX_IMAGE_PIXELS", Settings.max_image_pixels),
        max_result_bytes=_int("MAX_RESULT_BYTES", Settings.max_result_bytes),
        allowed_source_hosts=_hosts("ALLOWED_SOURCE_HOSTS"),
        result_https_only=_bool("RESULT_HTTPS_ONLY", True),
        allowed_result_hosts=_hosts("ALLOWED_RESULT_HOSTS"),
        result_allow_loopback=_bool("RESULT_ALLOW_LOOPBACK", False),
        job_ttl_days=_int("JOB_TTL_DAYS", Settings.job_ttl_days),
        reconcile_after_seconds=_int("RECONCILE_AFTER_SECONDS", Settings.reconcile_after_seconds),
        max_job_age_seconds=_int("MAX_JOB_AGE_SECONDS", Settings.max_job_age_seconds),
        waiting_recheck_seconds=_int("WAITING_RECHECK_SECONDS", Settings.waiting_recheck_seconds),
        akool_timeout_seconds=_float("AKOOL_TIMEOUT_SECONDS", Settings.akool_timeout_seconds),
        akool_max_attempts=_int("AKOOL_MAX_ATTEMPTS", Settings.akool_max_attempts),
        akool_retry_base_seconds=_float("AKOOL_RETRY_BASE_SECONDS", Settings.akool_retry_base_seconds),
        max_waiting_age_seconds=_int("MAX_WAITING_AGE_SECONDS", Settings.max_waiting_age_seconds),
        finalise_lease_seconds=_int("FINALISE_LEASE_SECONDS", Settings.finalise_lease_seconds),
        reconcile_batch_size=_int("RECONCILE_BATCH_SIZE", Settings.reconcile_batch_size),
        reconcile_max_jobs=_int("RECONCILE_MAX_JOBS", Settings.reconcile_max_jobs),
        result_timeout_seconds=_float("RESULT_TIMEOUT_SECONDS", Settings.result_timeout_seconds),
        result_deadline_seconds=_float("RESULT_DEADLINE_SECONDS", Settings.result_deadline_seconds),
        submit_queue_url=env.get("SUBMIT_QUEUE_URL", ""),
        finalise_queue_url=env.get("FINALISE_QUEUE_URL", ""),
        event_bus_name=env.get("EVENT_BUS_NAME", ""),
        akool_max_jobs_in_flight=_int("AKOOL_MAX_JOBS_IN_FLIGHT", Settings.akool_max_jobs_in_flight),
        akool_max_requests_per_second=_int(
            "AKOOL_MAX_REQUESTS_PER_SECOND", Settings.akool_max_requests_per_second
        ),
        submit_concurrency=_int("SUBMIT_CONCURRENCY", Settings.submit_concurrency),
        slot_wait_seconds=_float("SLOT_WAIT_SECONDS", Settings.slot_wait_seconds),
        slot_poll_seconds=_float("SLOT_POLL_SECONDS", Settings.slot_poll_seconds),
        akool_credit_budget_per_day=_at_least(
            "AKOOL_CREDIT_BUDGET_PER_DAY", Settings.akool_credit_budget_per_day, 0
        ),
        akool_credits_per_swap=_at_least("AKOOL_CREDITS_PER_SWAP", Settings.akool_credits_per_swap, 1),
    )


@lru_cache(maxsize=1)
def settings() -> Settings:
    """Process-wide settings (cached: the environment does not change in a warm Lambda)."""
    return load_settings()


# What each function cannot run without (Settings fields; _REQUIRABLE names their variables).
_BASE_NEEDS = ("drop_bucket", "jobs_table", "akool_secret_id")
NEEDS: dict[str, tuple[str, ...]] = {
    # The webhook puts AKOOL's word on the FinaliseQueue.
    "webhook": (*_BASE_NEEDS, "finalise_queue_url"),
    # FinaliseFunction hands its messages back to the FinaliseQueue and publishes completion events.
    "finalise": (*_BASE_NEEDS, "finalise_queue_url", "event_bus_name"),
    # Submit sends AKOOL the webhook URL, and hands its messages back to the SubmitQueue.
    "submit": (*_BASE_NEEDS, "webhook_base_url", "submit_queue_url", "event_bus_name"),
    # The reconciler sends rechecks to the SubmitQueue and AKOOL's truths to the FinaliseQueue.
    "reconcile": (*_BASE_NEEDS, "submit_queue_url", "finalise_queue_url", "event_bus_name"),
}


def for_function(function: str) -> Settings:
    """The process's settings, checked for everything `function` ("submit", "webhook", "finalise",
    "reconcile") needs; else SettingsError naming what is missing or malformed."""
    return require(settings(), *NEEDS[function])


def require(s: Settings, *names: str) -> Settings:
    """`s`, if each named setting (a Settings field in _REQUIRABLE) is set; else SettingsError naming the
    environment variables that are missing."""
    missing = [_REQUIRABLE[name] for name in names if not getattr(s, name)]
    if missing:
        raise SettingsError(
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: this function cannot run "
            "without it (template.yaml sets it in the function's environment)"
        )
    return s

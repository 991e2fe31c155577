"""Settings are checked at cold start: a function without what it needs fails to start, by name."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from devkit.template import ROOT
from dropswap.settings import SettingsError, settings
from tests.conftest import BUCKET, TABLE, load_handler

ENV = {
    "DROP_BUCKET": BUCKET,
    "JOBS_TABLE": TABLE,
    "AKOOL_SECRET_ID": "arn:aws:secretsmanager:us-east-1:123456789012:secret:dropswap/akool-AbCdEf",
    "WEBHOOK_BASE_URL": "https://api.example.test/v1",
    "SUBMIT_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/dropswap-submit",
    "FINALISE_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/dropswap-finalise",
    "EVENT_BUS_NAME": "dropswap-events",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
}
NEEDS = {
    "submit": [
        "DROP_BUCKET", "JOBS_TABLE", "AKOOL_SECRET_ID", "WEBHOOK_BASE_URL", "SUBMIT_QUEUE_URL",
        "EVENT_BUS_NAME",
    ],
    "webhook": ["DROP_BUCKET", "JOBS_TABLE", "AKOOL_SECRET_ID", "FINALISE_QUEUE_URL"],
    "finalise": ["DROP_BUCKET", "JOBS_TABLE", "AKOOL_SECRET_ID", "FINALISE_QUEUE_URL", "EVENT_BUS_NAME"],
    "reconcile": [
        "DROP_BUCKET", "JOBS_TABLE", "AKOOL_SECRET_ID", "SUBMIT_QUEUE_URL", "FINALISE_QUEUE_URL",
        "EVENT_BUS_NAME",
    ],
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    settings.cache_clear()
    yield monkeypatch
    settings.cache_clear()


@pytest.mark.parametrize(
    ("function", "missing"), [(f, name) for f, names in NEEDS.items() for name in names]
)
def test_given_a_needed_setting_missing_when_the_function_starts_then_it_fails_naming_it(
    env: pytest.MonkeyPatch, function: str, missing: str
) -> None:
    # Given the function's environment without one variable it needs
    env.setenv(missing, "")
    # When the handler module is imported (Lambda's init), Then it fails with that variable's name
    with pytest.raises(SettingsError, match=f"^{missing} is not set"):
        load_handler(function)


def test_given_two_settings_missing_then_both_are_named(env: pytest.MonkeyPatch) -> None:
    env.delenv("DROP_BUCKET")
    env.delenv("JOBS_TABLE")
    with pytest.raises(SettingsError, match=r"^DROP_BUCKET, JOBS_TABLE are not set"):
        load_handler("webhook")


def test_given_the_webhook_function_without_a_webhook_url_then_it_starts(env: pytest.MonkeyPatch) -> None:
    # The webhook function is the endpoint; it never builds its own URL.
    env.delenv("WEBHOOK_BASE_URL")
    assert load_handler("webhook").SETTINGS.drop_bucket == BUCKET


@pytest.mark.parametrize("function", sorted(NEEDS))
def test_given_everything_set_then_each_function_starts(env: pytest.MonkeyPatch, function: str) -> None:
    assert load_handler(function).SETTINGS.jobs_table == TABLE


@pytest.mark.parametrize(("name", "value"), [("MAX_IMAGE_BYTES", "20MB"), ("AKOOL_TIMEOUT_SECONDS", "ten")])
def test_given_a_malformed_number_then_the_function_fails_naming_it(
    env: pytest.MonkeyPatch, name: str, value: str
) -> None:
    env.setenv(name, value)
    with pytest.raises(SettingsError, match=f"^{name} must be a .*number, got '{value}'"):
        load_handler("submit")


def test_given_a_malformed_retry_base_then_the_function_fails_naming_it(env: pytest.MonkeyPatch) -> None:
    # Given a backoff base that is not a number (it once fell back silently on 0.5 s)
    env.setenv("AKOOL_RETRY_BASE_SECONDS", "fast")
    # When the webhook function starts, Then it fails naming the variable
    with pytest.raises(SettingsError, match=r"^AKOOL_RETRY_BASE_SECONDS must be a number, got 'fast'"):
        load_handler("webhook")


def test_given_the_layer_then_only_the_settings_module_reads_the_environment() -> None:
    # Given every module of the layer's package, When searched for environment reads,
    # Then only settings.py has one (one typed, validated place; docs/configuration.md)
    package = ROOT / "layers" / "dropswap" / "dropswap"
    readers = sorted(
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if re.search(r"\bos\.(environ|getenv|putenv)\b|\bfrom os import\b", path.read_text(encoding="utf-8"))
    )
    assert readers == ["settings.py"]

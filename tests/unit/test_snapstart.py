"""SnapStart's runtime hooks (dropswap.app.snapstart), with the Lambda runtime's before-snapshot and
after-restore simulated: a fake `snapshot_restore_py` registry, run in the runtime's order."""

from __future__ import annotations

import random
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

from dropswap.adapters import aws
from dropswap.app import parts, snapstart
from dropswap.domain import redelivery
from tests.conftest import load_handler

Hook = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class Runtime:
    """The registry AWS's python3.12+ runtimes bundle (snapshot-restore-py), and its snapshot/restore cycle:
    before-snapshot hooks in reverse registration order, after-restore hooks in registration order."""

    def __init__(self) -> None:
        self.before: list[Hook] = []
        self.after: list[Hook] = []

    def module(self) -> types.ModuleType:
        mod = types.ModuleType("snapshot_restore_py")
        mod.register_before_snapshot = lambda fn, *a, **kw: self.before.append((fn, a, kw))  # type: ignore[attr-defined]
        mod.register_after_restore = lambda fn, *a, **kw: self.after.append((fn, a, kw))  # type: ignore[attr-defined]
        return mod

    def snapshot(self) -> None:
        for fn, args, kwargs in reversed(self.before):
            fn(*args, **kwargs)

    def restore(self) -> None:
        for fn, args, kwargs in self.after:
            fn(*args, **kwargs)


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> Runtime:
    rt = Runtime()
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", rt.module())
    return rt


@pytest.fixture
def clean_process(aws_env: None) -> Iterator[None]:
    # Each test starts and ends without process-wide clients, sessions or cached secrets.
    snapstart.after_restore()
    yield
    snapstart.after_restore()


def test_given_the_lambda_runtime_registry_when_installed_then_both_hooks_are_registered(
    runtime: Runtime,
) -> None:
    # Given a runtime with SnapStart's hook registry, When the hooks are installed
    assert snapstart.install() is True
    # Then one before-snapshot and one after-restore hook are registered
    assert [fn for fn, _, _ in runtime.before] == [snapstart.before_snapshot]
    assert [fn for fn, _, _ in runtime.after] == [snapstart.after_restore]


def test_given_no_lambda_runtime_when_installed_then_nothing_happens(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a process without snapshot_restore_py (tests, the local stack, a runtime without SnapStart)
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # None: import raises ImportError
    # When the hooks are installed, Then it says so and raises nothing
    assert snapstart.install() is False


@pytest.mark.parametrize("function", ["submit", "webhook", "finalise", "reconcile"])
def test_given_a_handler_when_its_module_is_loaded_on_lambda_then_it_installs_the_hooks(
    runtime: Runtime, resources: dict[str, str], function: str,
) -> None:
    # Given the Lambda runtime's registry, When a function's handler module is imported (its init)
    load_handler(function)
    # Then the hooks are registered for that function's snapshot
    assert [fn for fn, _, _ in runtime.before] == [snapstart.before_snapshot]
    assert [fn for fn, _, _ in runtime.after] == [snapstart.after_restore]


def test_given_connections_clients_and_a_cached_secret_when_snapshotted_and_restored_then_each_is_new(
    runtime: Runtime, clean_process: None,
) -> None:
    # Given a process (init, or a test harness) that built the AKOOL session, the request spacer, the boto3
    # clients, and cached the AKOOL secret
    snapstart.install()
    session, spacer = parts._http(), parts._spacer(5, 2)
    closed: list[bool] = []
    session.close = lambda: closed.append(True)  # type: ignore[method-assign]
    clients = (aws.s3(), aws.dynamodb(), aws.sqs(), aws.events())
    session_before = boto3.DEFAULT_SESSION
    assert session_before is not None
    models = session_before._session.get_component("data_loader")
    import dropswap.adapters.credentials  # noqa: F401  # the one module that reads (and caches) the secret
    DEFAULT_PROVIDERS["secrets"] = object()  # Powertools' cache of the secret and its client
    # When Lambda snapshots the process and restores a copy
    runtime.snapshot()
    runtime.restore()
    # Then the AKOOL session was closed (no pooled TLS connection in the snapshot) and a new one is built
    assert closed == [True]
    assert parts._http() is not session and parts._spacer(5, 2) is not spacer
    # And the boto3 clients and the default session (resolved credentials) are new, with only the service
    # models (the loader) kept
    session_after = boto3.DEFAULT_SESSION
    assert session_after is not None and session_after is not session_before
    assert session_after._session.get_component("data_loader") is models
    renewed = (aws.s3(), aws.dynamodb(), aws.sqs(), aws.events())
    assert all(new is not old for new, old in zip(renewed, clients, strict=True))
    # And the AKOOL secret is read from Secrets Manager again: no key is carried in the snapshot
    assert DEFAULT_PROVIDERS == {}


def test_given_a_fresh_init_when_snapshotted_then_service_models_are_loaded_but_no_client_is_kept(
    runtime: Runtime, clean_process: None,
) -> None:
    # Given an init that built no AWS client (the handlers build them on first use)
    snapstart.install()
    boto3.DEFAULT_SESSION = None
    # When Lambda takes the snapshot
    runtime.snapshot()
    # Then the default session holds the clients' service models (restored copies skip reading them) and
    # no client (no connection, no credentials) is in the snapshot
    assert boto3.DEFAULT_SESSION is not None
    assert all(client.cache_info().currsize == 0 for client in (aws.s3, aws.dynamodb, aws.sqs, aws.events))


def test_given_two_copies_of_one_snapshot_when_restored_then_their_backoff_jitter_differs(
    runtime: Runtime, clean_process: None,
) -> None:
    # Given a snapshot taken with `random`'s state in it
    snapstart.install()
    random.seed(1234)
    runtime.snapshot()
    state = random.getstate()

    def restored_copy_draws() -> list[int]:
        random.setstate(state)  # each copy starts from the snapshot's memory
        runtime.restore()
        return [redelivery.backoff_seconds(8) for _ in range(8)]

    # When two copies are restored and each draws the backoff of the same messages
    first, second = restored_copy_draws(), restored_copy_draws()
    # Then they do not retry in lockstep: their jitter differs
    assert first != second


def test_given_a_snapshot_without_the_restore_hook_then_copies_draw_the_same_jitter(
    clean_process: None,
) -> None:
    # Given the same snapshot restored twice with no reseeding (what the hook prevents)
    random.seed(1234)
    state = random.getstate()

    def copy_draws() -> list[int]:
        random.setstate(state)
        return [redelivery.backoff_seconds(8) for _ in range(8)]

    # Then the copies' jitter is identical: the reseeding is what tells them apart
    assert copy_draws() == copy_draws()

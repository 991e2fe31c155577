"""The local stack, started once for the integration tests (instant AKOOL emulator, real face engine)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.stack import LocalStack, StackConfig
from tests.integration.helpers import AKOOL_MAX_JOBS_IN_FLIGHT, User


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    config = StackConfig(
        mode="instant",
        # The tests run the reconciler themselves (User.reconcile), so its timing is theirs to control:
        # the template's ReconcileAfterSeconds parameter is shortened, nothing else differs from AWS.
        reconcile_after_seconds=1,
        # Paced below the emulator's default account limit (4 jobs), so tests can show the pacing hold
        # with the emulator's limits on; a parameter a deployment may set the same way.
        parameters={"AkoolMaxJobsInFlight": str(AKOOL_MAX_JOBS_IN_FLIGHT)},
        # Unlimited, so the session's many jobs never meet the template's default budget; the credit
        # budget's own test sets one by redeploying, as a user would (test_credit_budget.py).
        credit_budget_per_day=0,
        state_dir=tmp_path_factory.mktemp("dropswap-state"),
    )
    with LocalStack(config) as running:
        yield running


@pytest.fixture
def user(stack: LocalStack) -> Iterator[User]:
    u = User(stack)
    u.admin("POST", "reset")
    yield u
    u.admin("DELETE", "faults")
    u.settle()

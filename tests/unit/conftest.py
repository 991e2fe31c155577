"""Unit-test fixtures: every moto-backed test also checks IAM (tests/unit/iam_grants.py).

Each AWS call the code under test makes is checked against the role of every function whose code makes
it, in the SAM-transformed template.yaml. So a new call, or a narrower grant, fails the test that
exercises it, naming the missing permission.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.call_recorder import recording


@pytest.fixture(autouse=True)
def _role_grants_cover_every_call(request: pytest.FixtureRequest) -> Iterator[None]:
    if "moto_aws" not in request.fixturenames:
        yield
        return
    with recording() as recorder:
        yield
    from tests.unit.iam_grants import violations

    missing = violations(recorder.calls)
    if missing:
        header = "IAM grants in template.yaml do not cover the calls this test made:"
        pytest.fail("\n".join([header, *missing]))

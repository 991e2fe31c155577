"""The opt-in e2e suite (tests/e2e), written for a deployed stack, passes against the local stack unchanged.

It finds the stack by its CloudFormation name and uses only the standard AWS configuration (credential chain,
AWS_ENDPOINT_URL, AWS_CA_BUNDLE), so pointing that configuration at MiniStack is all it takes. If the local
stack drifted from what a deployment offers (outputs, bucket policy, TLS, the pipeline), this would fail.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from devkit.template import ROOT
from local.ministack import ADMIN_KEY, REGION
from local.stack import STACK_NAME, LocalStack

pytestmark = pytest.mark.integration


def test_given_local_stack_when_e2e_suite_runs_against_it_then_it_passes(stack: LocalStack) -> None:
    # Given the local stack, and an environment that names it the way a deployment is named
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        DROPSWAP_E2E_STACK=STACK_NAME,
        DROPSWAP_E2E_TIMEOUT="180",
        AWS_ENDPOINT_URL=stack.aws_endpoint,
        AWS_CA_BUNDLE=str(stack.tls.bundle),
        AWS_ACCESS_KEY_ID=ADMIN_KEY,
        AWS_SECRET_ACCESS_KEY=ADMIN_KEY,
        AWS_DEFAULT_REGION=REGION,
    )
    # When the e2e suite runs, as its README line says, against that stack
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "e2e", "tests/e2e", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    # Then it passes (and did run: a skipped suite would also exit 0)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "1 passed" in run.stdout, run.stdout[-2000:]

"""The local stack is what AWS would run: the template's configuration, python3.13, and IAM enforced.

If the functions ran with administrator credentials (as they did before MiniStack), or policies were not
evaluated, removing a statement would change nothing and these tests would fail.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.stack import LocalStack
from tests.integration.helpers import User

pytestmark = pytest.mark.integration


def _policy_with(stack: LocalStack, function: str, action: str) -> tuple[str, str, dict[str, Any]]:
    """The role and the inline policy of `function` that grants `action`."""
    role_arn = stack.client("lambda").get_function_configuration(
        FunctionName=stack.functions[function]
    )["Role"]
    role = role_arn.rsplit("/", 1)[-1]
    iam = stack.client("iam")
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        if isinstance(document, str):
            document = json.loads(document)
        if action in json.dumps(document):
            return role, name, document
    raise AssertionError(f"{function}'s role has no inline policy granting {action}")


@pytest.fixture
def reports_not_writable(stack: LocalStack) -> Iterator[None]:
    """SubmitFunction's role without the statement that lets it write reports; restored afterwards."""
    role, name, document = _policy_with(stack, "SubmitFunction", "s3:PutObject")
    iam = stack.client("iam")
    kept = [s for s in document["Statement"] if "s3:PutObject" not in json.dumps(s.get("Action"))]
    assert len(kept) < len(document["Statement"]), "SubmitFunction's role has no s3:PutObject to remove"
    iam.put_role_policy(RoleName=role, PolicyName=name,
                        PolicyDocument=json.dumps({**document, "Statement": kept}))
    try:
        yield
    finally:
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))


def _log_mentions(stack: LocalStack, function: str, needle: str, timeout: float) -> bool:
    log = Path(stack.config.state_dir) / "logs" / f"{function}.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and needle in log.read_text(encoding="utf-8", errors="replace"):
            return True
        time.sleep(0.5)
    return False


def test_given_each_function_then_it_runs_under_its_own_role(stack: LocalStack) -> None:
    # Given the deployed stack, When an operator reads each function's configuration
    lam = stack.client("lambda")
    roles = {fn: lam.get_function_configuration(FunctionName=name)["Role"]
             for fn, name in stack.functions.items()}
    # Then every function has a role of its own, created by the stack
    assert len(set(roles.values())) == len(roles) == 4
    assert all(f"/{stack.info['stack_name']}-{fn}Role" in arn for fn, arn in roles.items()), roles


def test_given_role_without_report_rights_when_manifest_rejected_then_write_is_denied(
    user: User, reports_not_writable: None
) -> None:
    # Given SubmitFunction's role lost its s3:PutObject statement (fixture)
    image = user.prefix + "denied.jpg"
    # When a broken manifest is dropped (the function rejects it and must write a REJECTED report)
    user.put(image + ".faceswap.json", b"{not json", "application/json")
    # Then the report write is refused by IAM: the function's log says AccessDenied and no report exists
    assert _log_mentions(user.stack, "SubmitFunction", "AccessDenied", timeout=60), "no AccessDenied logged"
    assert user.report(image) is None


def test_given_role_restored_when_manifest_dropped_again_then_report_is_written(user: User) -> None:
    # Given the role as the template defines it (the previous test's fixture restored it)
    image = user.prefix + "allowed.jpg"
    # When a broken manifest is dropped
    user.put(image + ".faceswap.json", b"{not json", "application/json")
    # Then the REJECTED report is written: the same call succeeds when the policy allows it
    assert user.wait_report(image, timeout=60)["status"] == "REJECTED"


def test_given_deployed_functions_then_configuration_is_the_templates_but_endpoints(
    stack: LocalStack,
) -> None:
    # Given the stack deployed from template.yaml, When an operator reads each function's configuration
    from devkit.template import functions, load_template

    template_fns = functions(load_template())
    lam = stack.client("lambda")
    for logical, name in stack.functions.items():
        config = lam.get_function_configuration(FunctionName=name)
        env = config["Environment"]["Variables"]
        # Then runtime, architecture, handler and every environment variable come from the template,
        # and only the AKOOL endpoints point at this machine; https-only results stay on
        assert config["Runtime"] == "python3.13"
        assert config["Architectures"] == ["arm64"]
        assert config["Handler"] == template_fns[logical]["Handler"]
        assert set(env) == set(template_fns[logical]["Environment"]["Variables"]), logical
        assert env["RESULT_HTTPS_ONLY"] == "true"
        assert env["AKOOL_BASE_URL"] == stack.akool_url
        assert env["DROP_BUCKET"] == stack.bucket
        assert env.get("WEBHOOK_BASE_URL", stack.outputs["WebhookBaseUrl"]) == stack.outputs["WebhookBaseUrl"]
        assert len(config["Layers"]) == 1


def test_given_the_local_aws_then_functions_run_on_python_3_13(stack: LocalStack) -> None:
    # Given MiniStack, whose interpreter runs the functions' workers
    import subprocess

    assert stack.ministack is not None
    # When its interpreter is asked its version, Then it is the runtime's
    out = subprocess.run([str(stack.ministack.python), "-c", "import sys; print(sys.version_info[:2])"],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "(3, 13)"

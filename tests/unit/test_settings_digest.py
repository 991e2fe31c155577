"""The settings digest (template.yaml's SettingsDigest): a parameter-only redeploy publishes new versions.

SAM names the aliased functions' versions after their properties as written, so without it a changed
parameter value would leave the alias "live" on the old version (issue 20; the local stack's credit-budget
test redeploys with a raised AkoolCreditBudgetPerDay and caught exactly that). The inline function's own
code is run here, answering a ResponseURL served on 127.0.0.1, as CloudFormation's custom resource calls it.
"""

from __future__ import annotations

import json
import re
import threading
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from devkit import template as tpl
from tests.unit.cfn_eval import Stack
from tests.unit.sam_transform import SECRET_ARN, transformed_template

ALIASED = {"SubmitFunction", "WebhookFunction", "FinaliseFunction"}


@pytest.fixture(scope="module")
def source() -> dict[str, Any]:
    return tpl.load_template()


@pytest.fixture(scope="module")
def digest_code(source: dict[str, Any]) -> types.ModuleType:
    """The inline ZipFile code of SettingsDigestFunction, loaded as a module."""
    module = types.ModuleType("settings_digest_index")
    code = source["Resources"]["SettingsDigestFunction"]["Properties"]["Code"]["ZipFile"]
    exec(compile(code, "index.py", "exec"), module.__dict__)  # noqa: S102 - the template's own code
    return module


class _Server(HTTPServer):
    received: list[dict[str, Any]]


class _Answers(BaseHTTPRequestHandler):
    server: _Server

    def do_PUT(self) -> None:
        length = int(self.headers["Content-Length"])
        answer = json.loads(self.rfile.read(length))
        answer["content-type"] = self.headers.get("Content-Type")
        self.server.received.append(answer)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def response_url() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A ResponseURL on 127.0.0.1 and the answers PUT to it."""
    server = _Server(("127.0.0.1", 0), _Answers)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/cfn-response/token", server.received
    finally:
        server.shutdown()
        server.server_close()


def _event(url: str, settings: Any, request_type: str = "Create") -> dict[str, Any]:
    return {
        "RequestType": request_type, "ResponseURL": url, "StackId": "arn:aws:cloudformation:stack/dropswap",
        "RequestId": "r-1", "LogicalResourceId": "SettingsDigest", "ResourceType": "Custom::SettingsDigest",
        "ResourceProperties": {"ServiceToken": "arn:aws:lambda:fn",
                               **({"Settings": settings} if settings else {})},
    }


def _settings(source: dict[str, Any], **parameters: str) -> dict[str, Any]:
    """SettingsDigest's Settings as CloudFormation passes them for a deployment with `parameters`."""
    stack = Stack(transformed_template(), {"AkoolSecretArn": SECRET_ARN, **parameters})
    settings: dict[str, Any] = stack.value(source["Resources"]["SettingsDigest"]["Properties"]["Settings"])
    return settings


def _named(node: Any) -> set[str]:
    """The logical ids and parameters a template value refers to (Ref, Fn::GetAtt, Fn::Sub variables)."""
    if isinstance(node, list):
        return set().union(*(_named(n) for n in node))
    if not isinstance(node, dict):
        return set()
    if "Ref" in node:
        return {node["Ref"]}
    if "Fn::GetAtt" in node:
        return {node["Fn::GetAtt"][0]}
    if "Fn::Sub" in node:
        text, variables = (node["Fn::Sub"], {}) if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"]
        inline = {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)} - set(variables)
        return inline | _named(variables)
    return set().union(*(_named(v) for v in node.values()))


def test_given_the_template_then_the_digest_takes_every_parameter_and_named_resource_by_value(
    source: dict[str, Any],
) -> None:
    # Given the template, When SettingsDigest's input is read
    settings = source["Resources"]["SettingsDigest"]["Properties"]["Settings"]
    # Then it is every parameter, each as its value: a parameter added later is covered or this fails
    parameters = {name: {"Ref": name} for name in source["Parameters"]}
    assert {k: v for k, v in settings.items() if k in source["Parameters"]} == parameters
    # And every resource of the stack the aliased functions' environment names (a replaced queue or table
    # changes its name), but WebhookApi, which invokes WebhookFunction's alias: depending on it is a cycle
    named = _named(source["Globals"]["Function"]["Environment"]) | set().union(
        *(_named(source["Resources"][f]["Properties"]["Environment"]) for f in ALIASED))
    resources = (named & set(source["Resources"])) - {"SettingsDigest", "WebhookApi"}
    assert {k: v for k, v in settings.items() if k not in source["Parameters"]} == {
        name: {"Ref": name} for name in resources}
    assert "WebhookApi" in named


def test_given_the_aliased_functions_then_their_environment_and_version_carry_the_digest(
    source: dict[str, Any],
) -> None:
    transformed = transformed_template()
    resources = transformed["Resources"]
    # Given the transformed template, When each aliased function and its alias's version are read
    versions = {r["Properties"]["FunctionName"]["Ref"]: r for r in resources.values()
                if r["Type"] == "AWS::Lambda::Version"}
    assert set(versions) == ALIASED
    for name in ALIASED:
        env = resources[name]["Properties"]["Environment"]["Variables"]
        # Then the function's configuration changes with the digest (else publishing a version would fail:
        # "A version for this Lambda function exists"), and the version's description names it
        assert env["SETTINGS_DIGEST"] == {"Fn::GetAtt": ["SettingsDigest", "Digest"]}, name
        assert "${SettingsDigest.Digest}" in versions[name]["Properties"]["Description"]["Fn::Sub"], name
    # And the reconciler, which runs unversioned, does not depend on it
    assert "SettingsDigest" not in json.dumps(resources["ReconcileFunction"])


def test_given_create_update_and_delete_then_the_function_answers_success_with_a_stable_physical_id(
    source: dict[str, Any], digest_code: types.ModuleType, response_url: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = response_url
    settings = _settings(source)
    # Given the default deployment's settings, When CloudFormation creates and updates the resource
    for request_type in ("Create", "Update"):
        digest_code.handler(_event(url, settings, request_type), None)
    # Then each request is answered SUCCESS, with the same physical id (no replacement) and digest
    assert [a["Status"] for a in received] == ["SUCCESS"] * 2
    assert {a["PhysicalResourceId"] for a in received} == {"SettingsDigest"}
    [digest] = {a["Data"]["Digest"] for a in received}
    assert re.fullmatch("[0-9a-f]{16}", digest)
    stack_id = "arn:aws:cloudformation:stack/dropswap"
    assert all((a["RequestId"], a["StackId"]) == ("r-1", stack_id) for a in received)
    # And with an empty Content-Type: the presigned S3 URL was signed without one
    assert all(a["content-type"] == "" for a in received)


def test_given_a_delete_then_success_whatever_its_properties_so_rollback_and_teardown_never_block(
    digest_code: types.ModuleType, response_url: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = response_url
    # Given a Delete of a resource whose Create had failed (no Settings), When handled
    digest_code.handler(_event(url, None, "Delete"), None)
    # Then it is answered SUCCESS
    [answer] = received
    assert answer["Status"] == "SUCCESS" and answer["PhysicalResourceId"] == "SettingsDigest"


@pytest.mark.parametrize("changed", [
    {"AkoolCreditBudgetPerDay": "250"},
    {"SnapStart": "Enabled"},
    {"AllowedSourceHosts": "example.com"},
    {"AkoolSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:dropswap/other-XyZ123"},
], ids=["budget", "snapstart", "list", "secret"])
def test_given_a_parameter_only_redeploy_then_each_aliased_version_description_changes(
    source: dict[str, Any], digest_code: types.ModuleType, changed: dict[str, str],
) -> None:
    transformed = transformed_template()
    versions = [r for r in transformed["Resources"].values() if r["Type"] == "AWS::Lambda::Version"]

    def described(**parameters: str) -> list[str]:
        digest = digest_code.digest(_settings(source, **parameters))
        stack = Stack(transformed, {"AkoolSecretArn": SECRET_ARN, **parameters},
                      attributes={"SettingsDigest.Digest": digest})
        return [stack.value(v["Properties"]["Description"]) for v in versions]

    # Given a deployed stack, When only one parameter's value changes (the template unchanged)
    before, after = described(), described(**changed)
    # Then every version's description changes, which makes CloudFormation publish it again
    assert all(b != a for b, a in zip(before, after, strict=True)), (before, after)
    # And an unchanged redeploy keeps them (no needless versions)
    assert described() == before


def test_given_settings_in_another_order_then_the_digest_is_the_same(digest_code: types.ModuleType) -> None:
    # Given the same settings in two key orders, When digested, Then one digest
    assert digest_code.digest({"a": "1", "b": ["x", "y"]}) == digest_code.digest({"b": ["x", "y"], "a": "1"})
    assert digest_code.digest({"a": "1"}) != digest_code.digest({"a": "2"})


def test_given_no_settings_then_failed_is_answered_with_the_reason_not_left_waiting(
    digest_code: types.ModuleType, response_url: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = response_url
    # Given a request without Settings, When handled
    digest_code.handler(_event(url, None), None)
    # Then CloudFormation is told FAILED at once, with why
    [answer] = received
    assert answer["Status"] == "FAILED" and "Settings" in answer["Reason"]


def test_given_the_digest_role_then_it_may_only_write_its_own_logs(source: dict[str, Any]) -> None:
    # Given SettingsDigestRole, When its policies are read
    role = source["Resources"]["SettingsDigestRole"]["Properties"]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    # Then it writes to its own log group and does nothing else
    assert statements == [{"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                           "Resource": {"Fn::GetAtt": ["SettingsDigestLogGroup", "Arn"]}}]
    fn = source["Resources"]["SettingsDigestFunction"]["Properties"]
    assert fn["LoggingConfig"] == {"LogGroup": {"Ref": "SettingsDigestLogGroup"}}
    assert source["Resources"]["SettingsDigestLogGroup"]["Properties"]["RetentionInDays"] == {
        "Ref": "LogRetentionDays"}

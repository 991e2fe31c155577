"""template.yaml, transformed in-process by the SAM translator: wiring and least-privilege checks.

Every check iterates over all functions, so functions added later are covered without editing this file.
"""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local import template as tpl

ROOT = Path(__file__).resolve().parents[2]
PARAMETERS = {"AkoolSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:dropswap/akool-AbCdEf"}
DATA_SERVICES = ("s3:", "dynamodb:", "secretsmanager:", "sqs:")
# Event sources that invoke a function asynchronously: a failed event needs somewhere to go.
ASYNC_EVENTS = {"S3", "SNS"}


class _NoManagedPolicies:
    """The translator's managed-policy lookup, without calling IAM."""

    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="module")
def source() -> dict[str, Any]:
    return tpl.load_template()


@pytest.fixture(scope="module")
def transformed(source: dict[str, Any]) -> dict[str, Any]:
    from samtranslator.translator.transform import transform

    template = copy.deepcopy(source)
    # The translator wants deployable artifact locations, not the local folders `sam build` reads.
    for name, res in template["Resources"].items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::Serverless::Function":
            props["CodeUri"] = f"s3://artifacts/{name}.zip"
        elif res["Type"] == "AWS::Serverless::LayerVersion":
            props["ContentUri"] = f"s3://artifacts/{name}.zip"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        out: dict[str, Any] = transform(template, PARAMETERS, _NoManagedPolicies())
    return out


def _functions(source: dict[str, Any]) -> dict[str, dict[str, Any]]:
    fns = tpl.functions(source)
    assert fns, "the template defines no functions"
    return fns


def _refers_to(value: Any, logical_id: str) -> bool:
    """Whether an intrinsic value (Ref, GetAtt, Sub) points at a resource."""
    if isinstance(value, dict):
        if value.get("Ref") == logical_id:
            return True
        att = value.get("Fn::GetAtt")
        if att and (att[0] if isinstance(att, list) else str(att).split(".")[0]) == logical_id:
            return True
        sub = value.get("Fn::Sub")
        if sub is not None:
            text = sub[0] if isinstance(sub, list) else sub
            return bool(re.search(r"\$\{" + re.escape(logical_id) + r"(\.[^}]*)?\}", str(text)))
    return False


def _statements(document: Any) -> Iterator[dict[str, Any]]:
    """Every statement of a policy document, including both branches of Fn::If."""
    stmts = document.get("Statement", [])
    for stmt in stmts if isinstance(stmts, list) else [stmts]:
        if isinstance(stmt, dict) and "Fn::If" in stmt:
            for branch in stmt["Fn::If"][1:]:
                if isinstance(branch, dict) and "Ref" not in branch:
                    yield branch
        elif isinstance(stmt, dict):
            yield stmt


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _is_wildcard(resource: Any) -> bool:
    text = (
        resource
        if isinstance(resource, str)
        else (resource.get("Fn::Sub") if isinstance(resource, dict) else None)
    )
    if isinstance(text, list):
        text = text[0]
    if not isinstance(text, str):
        return False  # other intrinsics (GetAtt, Ref, Split of named buckets) name specific resources
    return text == "*" or text.endswith((":*", ":::*"))


def test_given_template_then_submit_function_gets_inbox_created_events_only(
    transformed: dict[str, Any],
) -> None:
    configs = [
        cfg
        for res in transformed["Resources"].values()
        if res["Type"] == "AWS::S3::Bucket"
        for cfg in res["Properties"].get("NotificationConfiguration", {}).get("LambdaConfigurations", [])
        if _refers_to(cfg["Function"], "SubmitFunction")
    ]
    assert configs, "no S3 notification invokes SubmitFunction"
    for cfg in configs:
        assert cfg["Event"].startswith("s3:ObjectCreated:")
        assert cfg["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "inbox/"}], cfg["Filter"]


def test_given_every_role_then_no_data_action_is_granted_on_a_wildcard_resource(
    transformed: dict[str, Any],
) -> None:
    checked = 0
    for name, res in transformed["Resources"].items():
        if res["Type"] == "AWS::IAM::Role":
            documents = [p["PolicyDocument"] for p in res["Properties"].get("Policies", [])]
        elif res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents = [res["Properties"]["PolicyDocument"]]
        else:
            continue
        for doc in documents:
            for stmt in _statements(doc):
                actions = [a for a in _as_list(stmt.get("Action", [])) if isinstance(a, str)]
                if stmt.get("Effect") != "Allow" or not any(
                    a.lower().startswith(DATA_SERVICES) for a in actions
                ):
                    continue
                checked += 1
                assert "NotResource" not in stmt, f"{name}: NotResource on data actions {actions}"
                wild = [r for r in _as_list(stmt.get("Resource")) if _is_wildcard(r)]
                assert not wild, f"{name}: {actions} granted on {wild}"
                assert not any(
                    a in {"*", "s3:*", "dynamodb:*", "sqs:*", "secretsmanager:*"} for a in actions
                ), f"{name}: service-wide action in {actions}"
    assert checked > 0


def test_given_every_function_then_its_handler_exists_on_disk(source: dict[str, Any]) -> None:
    for name, props in _functions(source).items():
        code_uri = props["CodeUri"]
        assert isinstance(code_uri, str) and code_uri.startswith("functions/"), f"{name}: CodeUri {code_uri}"
        module, _, func = props["Handler"].rpartition(".")
        path = ROOT / code_uri / (module.replace(".", "/") + ".py")
        assert path.is_file(), f"{name}: handler file {path} is missing"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
        assert func in defined, f"{name}: {path} defines no {func}()"


def test_given_every_function_then_a_log_group_with_retention_exists(source: dict[str, Any]) -> None:
    groups = {k: v for k, v in source["Resources"].items() if v["Type"] == "AWS::Logs::LogGroup"}
    for name, props in _functions(source).items():
        explicit = props.get("LoggingConfig", {}).get("LogGroup")
        mine = [
            g
            for gid, g in groups.items()
            if _refers_to(g["Properties"].get("LogGroupName"), name)
            or (explicit and _refers_to(explicit, gid))
        ]
        assert mine, f"{name}: no AWS::Logs::LogGroup for /aws/lambda/${{{name}}}"
        for g in mine:
            assert g["Properties"].get("RetentionInDays"), f"{name}: its log group keeps logs forever"


def test_given_async_event_sources_then_failed_events_have_a_destination(
    source: dict[str, Any], transformed: dict[str, Any]
) -> None:
    configs = [r for r in transformed["Resources"].values() if r["Type"] == "AWS::Lambda::EventInvokeConfig"]
    async_functions = [
        name
        for name, props in _functions(source).items()
        if any(e.get("Type") in ASYNC_EVENTS for e in props.get("Events", {}).values())
    ]
    assert "SubmitFunction" in async_functions
    for name in async_functions:
        mine = [c for c in configs if _refers_to(c["Properties"]["FunctionName"], name)]
        assert mine, f"{name}: no EventInvokeConfig"
        on_failure = mine[0]["Properties"].get("DestinationConfig", {}).get("OnFailure", {})
        assert on_failure.get("Destination"), f"{name}: failed events are dropped (no OnFailure destination)"
        assert mine[0]["Properties"].get("MaximumRetryAttempts") is not None

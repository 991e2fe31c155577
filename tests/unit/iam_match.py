"""What a function's role allows (from the transformed template), and what an AWS call needs.

A deliberately small IAM matcher: Allow/Deny statements with Action and Resource wildcards (`*`, `?`).
A statement with a Condition, NotAction or NotResource never counts as an Allow here, so the check errs
on the strict side; the template's function roles use none of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from tests.unit.cfn_eval import Stack

_TEMPLATE_POLICY = "template-managed-policy:"


class UnknownOperation(Exception):
    """An AWS operation this matcher has no IAM mapping for: add one (do not guess)."""


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditional: bool = False

    def matches(self, action: str, resource: str) -> bool:
        return any(_glob(a, action, fold=True) for a in self.actions) and any(
            _glob(r, resource) for r in self.resources
        )


@dataclass(frozen=True)
class Need:
    """One IAM permission a call needs: an action on a resource ARN, and why."""

    action: str
    resource: str
    why: str = ""


@lru_cache(maxsize=512)
def _pattern(pattern: str, fold: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.IGNORECASE | re.DOTALL if fold else re.DOTALL)


def _glob(pattern: str, value: str, fold: bool = False) -> bool:
    """IAM wildcard match: `*` any run of characters (`/` included), `?` one; actions case-insensitive."""
    return _pattern(pattern, fold).fullmatch(value) is not None


def _as_tuple(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    return tuple(str(i) for i in items)


def _parse(document: Mapping[str, Any]) -> list[Statement]:
    raw = document.get("Statement", [])
    out = []
    for stmt in raw if isinstance(raw, list) else [raw]:
        plain = "Action" in stmt and "Resource" in stmt
        out.append(
            Statement(
                effect=str(stmt.get("Effect")),
                actions=_as_tuple(stmt.get("Action", [])),
                resources=_as_tuple(stmt.get("Resource", [])),
                conditional=not plain or "Condition" in stmt,
            )
        )
    return out


def role_statements(stack: Stack, function: str) -> list[Statement]:
    """Every statement of the function's execution role: inline policies, managed policies defined in the
    template, and AWS::IAM::Policy resources attached to the role. AWS managed policies (logs, X-Ray) are
    left out: they grant nothing on S3, DynamoDB or Secrets Manager."""
    resources = stack.template["Resources"]
    role_ref = resources[function]["Properties"]["Role"]
    role_id = role_ref["Fn::GetAtt"][0] if isinstance(role_ref, dict) and "Fn::GetAtt" in role_ref else None
    if role_id is None:
        raise AssertionError(f"{function}: its role is not a role defined in the template ({role_ref!r})")
    policies = [name for name, r in resources.items() if r["Type"] == "AWS::IAM::ManagedPolicy"]
    physical = {**stack.physical, **{name: _TEMPLATE_POLICY + name for name in policies}}
    view = Stack(stack.template, stack.parameters, physical, stack.account, stack.region, stack.partition,
                 stack.stack_name)
    props = view.value(resources[role_id]["Properties"])
    documents = [p["PolicyDocument"] for p in props.get("Policies", [])]
    for arn in props.get("ManagedPolicyArns", []):
        if str(arn).startswith(_TEMPLATE_POLICY):
            documents.append(view.value(resources[arn[len(_TEMPLATE_POLICY):]]["Properties"]["PolicyDocument"]))
    for res in resources.values():
        if res["Type"] == "AWS::IAM::Policy" and _active(view, res):
            policy = view.value(res["Properties"])
            if role_id in [str(r) for r in policy.get("Roles", [])]:
                documents.append(policy["PolicyDocument"])
    return [s for doc in documents for s in _parse(doc)]


def _active(stack: Stack, resource: Mapping[str, Any]) -> bool:
    cond = resource.get("Condition")
    return cond is None or stack.condition(cond)


def allows(statements: Iterable[Statement], need: Need) -> bool:
    stmts = list(statements)
    if any(s.effect == "Deny" and s.matches(need.action, need.resource) for s in stmts):
        return False
    return any(
        s.effect == "Allow" and not s.conditional and s.matches(need.action, need.resource) for s in stmts
    )


# -- what a call needs -------------------------------------------------------------------------------
_S3_OBJECT_ACTIONS = {
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "DeleteObject": "s3:DeleteObject",
}
_SQS_QUEUE_ACTIONS = {"SendMessage", "ChangeMessageVisibility", "GetQueueAttributes", "DeleteMessage"}
_DYNAMODB_SINGLE_TABLE = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "DescribeTable"}


def needs(service: str, operation: str, params: Mapping[str, Any], stack: Stack) -> list[Need]:
    """The permissions the role must hold for one call, as AWS evaluates them."""
    p, r, a = stack.partition, stack.region, stack.account
    if service == "s3":
        bucket, key = str(params.get("Bucket", "")), params.get("Key")
        bucket_arn = f"arn:{p}:s3:::{bucket}"
        if operation in ("GetObject", "HeadObject"):
            return [
                Need("s3:GetObject", f"{bucket_arn}/{key}"),
                # Without it S3 answers 403 for a missing key, and the code reads "missing" from a 404.
                Need("s3:ListBucket", bucket_arn, "a missing key must answer 404, not 403"),
            ]
        if operation == "CopyObject":
            src = params["CopySource"]
            src_bucket, src_key = (
                (src["Bucket"], src["Key"]) if isinstance(src, Mapping)
                else str(src).lstrip("/").split("/", 1)
            )
            return [
                Need("s3:PutObject", f"{bucket_arn}/{key}"),
                Need("s3:GetObject", f"arn:{p}:s3:::{src_bucket}/{src_key}", "the copy's source"),
            ]
        if operation in _S3_OBJECT_ACTIONS:
            return [Need(_S3_OBJECT_ACTIONS[operation], f"{bucket_arn}/{key}")]
        if operation in ("ListObjectsV2", "ListObjects"):
            return [Need("s3:ListBucket", bucket_arn)]
    elif service == "dynamodb" and operation in _DYNAMODB_SINGLE_TABLE:
        table = f"arn:{p}:dynamodb:{r}:{a}:table/{params['TableName']}"
        index = params.get("IndexName")
        return [Need(f"dynamodb:{operation}", f"{table}/index/{index}" if index else table)]
    elif service == "secretsmanager" and operation == "GetSecretValue":
        secret = str(params["SecretId"])
        return [Need("secretsmanager:GetSecretValue", secret if secret.startswith("arn:") else
                     f"arn:{p}:secretsmanager:{r}:{a}:secret:{secret}-??????")]
    elif service == "sqs" and operation == "SendMessageBatch":
        name = str(params["QueueUrl"]).rstrip("/").rsplit("/", 1)[-1]
        return [Need("sqs:SendMessage", f"arn:{p}:sqs:{r}:{a}:{name}")]
    elif service == "sqs" and operation in _SQS_QUEUE_ACTIONS:
        # A queue URL ends with the queue's name: https://sqs.<region>.<domain>/<account>/<name>.
        name = str(params["QueueUrl"]).rstrip("/").rsplit("/", 1)[-1]
        return [Need(f"sqs:{operation}", f"arn:{p}:sqs:{r}:{a}:{name}")]
    elif service == "events" and operation == "PutEvents":
        buses = {str(e.get("EventBusName", "default")) for e in params["Entries"]}
        return [Need("events:PutEvents", f"arn:{p}:events:{r}:{a}:event-bus/{b}") for b in sorted(buses)]
    raise UnknownOperation(f"{service}:{operation}: add its IAM mapping to tests/unit/iam_match.py")

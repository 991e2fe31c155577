"""A small CloudFormation intrinsic evaluator for checks on the transformed template.

Evaluates Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Split, Fn::Select, Fn::If and the condition functions
against given parameters, pseudo parameters and physical names, as CloudFormation would at deploy time.
An attribute it does not know evaluates to a placeholder that matches no real ARN, so checks built on it
err on the strict side.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()
_SUB_VAR = re.compile(r"\$\{([^}]+)\}")


@dataclass
class Stack:
    """A transformed template as deployed with `parameters`, in an account and region."""

    template: Mapping[str, Any]
    parameters: Mapping[str, str] = field(default_factory=dict)
    physical: Mapping[str, str] = field(default_factory=dict)  # logical id -> name (what Ref returns)
    account: str = "123456789012"
    region: str = "us-east-1"
    partition: str = "aws"
    stack_name: str = "dropswap"
    attributes: Mapping[str, str] = field(default_factory=dict)  # "LogicalId.Attribute" -> GetAtt's value

    def __post_init__(self) -> None:
        self._conditions: dict[str, bool] = {}

    # -- names ---------------------------------------------------------------------------------
    def pseudo(self) -> dict[str, str]:
        suffix = "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com"
        return {
            "AWS::AccountId": self.account, "AWS::Region": self.region, "AWS::Partition": self.partition,
            "AWS::URLSuffix": suffix, "AWS::StackName": self.stack_name,
        }

    def resource(self, logical_id: str) -> Mapping[str, Any]:
        res: Mapping[str, Any] = self.template["Resources"][logical_id]
        return res

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        pseudo = self.pseudo()
        if name in pseudo:
            return pseudo[name]
        declared = self.template.get("Parameters", {})
        if name in declared:
            raw = self.parameters.get(name, declared[name].get("Default", ""))
            return str(raw).split(",") if declared[name]["Type"] == "CommaDelimitedList" else str(raw)
        if name in self.template["Resources"]:
            return self.physical.get(name, name)
        raise KeyError(f"Ref to unknown {name!r}")

    def get_att(self, logical_id: str, attribute: str) -> str:
        if f"{logical_id}.{attribute}" in self.attributes:
            return self.attributes[f"{logical_id}.{attribute}"]
        name = self.physical.get(logical_id, logical_id)
        kind = self.resource(logical_id)["Type"]
        p, r, a = self.partition, self.region, self.account
        arns = {
            "AWS::DynamoDB::Table": f"arn:{p}:dynamodb:{r}:{a}:table/{name}",
            "AWS::SQS::Queue": f"arn:{p}:sqs:{r}:{a}:{name}",
            "AWS::S3::Bucket": f"arn:{p}:s3:::{name}",
            "AWS::IAM::Role": f"arn:{p}:iam::{a}:role/{name}",
            "AWS::Lambda::Function": f"arn:{p}:lambda:{r}:{a}:function:{name}",
            "AWS::KMS::Key": f"arn:{p}:kms:{r}:{a}:key/{name}",
            "AWS::Events::EventBus": f"arn:{p}:events:{r}:{a}:event-bus/{name}",
        }
        if attribute == "Arn" and kind in arns:
            return arns[kind]
        if attribute in ("QueueName", "TableName", "BucketName"):
            return name
        return f"<unresolved {logical_id}.{attribute}>"

    # -- evaluation ----------------------------------------------------------------------------
    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.value(self.template["Conditions"][name]))
        return self._conditions[name]

    def value(self, node: Any) -> Any:
        """`node` with every intrinsic evaluated; AWS::NoValue drops list items and mapping keys."""
        if isinstance(node, list):
            items = [self.value(v) for v in node]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Condition":
                return self.condition(arg)
            if key.startswith("Fn::"):
                return self._function(key, arg)
        out = {k: self.value(v) for k, v in node.items()}
        return {k: v for k, v in out.items() if v is not NO_VALUE}

    def _function(self, name: str, arg: Any) -> Any:
        if name == "Fn::If":
            cond, yes, no = arg
            return self.value(yes if self.condition(cond) else no)
        if name == "Fn::GetAtt":
            logical_id, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
            return self.get_att(logical_id, attribute)
        if name == "Fn::Sub":
            return self._sub(arg)
        args = self.value(arg)
        if name == "Fn::Join":
            delimiter, items = args
            if not isinstance(delimiter, str):
                raise TypeError(f"Fn::Join delimiter must be a literal string, not {delimiter!r}")
            return delimiter.join(str(i) for i in items)
        if name == "Fn::Split":
            delimiter, text = args
            return str(text).split(delimiter)
        if name == "Fn::Select":
            index, items = args
            return items[int(index)]
        if name == "Fn::Equals":
            return str(args[0]) == str(args[1])
        if name == "Fn::Not":
            return not args[0]
        if name == "Fn::And":
            return all(args)
        if name == "Fn::Or":
            return any(args)
        raise NotImplementedError(name)

    def _sub(self, arg: Any) -> str:
        text, variables = (arg[0], self.value(arg[1])) if isinstance(arg, list) else (arg, {})

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in self.template["Resources"]:
                return self.get_att(*name.split(".", 1))
            return str(self.ref(name))

        return _SUB_VAR.sub(one, text)

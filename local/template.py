"""Read template.yaml for the local stack and the tests: the template is the one description of the system.

Loads the SAM template with CloudFormation's short-form tags (!Sub, !Ref, ...), and resolves the
intrinsics the functions' environment and the table definition use, against local values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"

_TAGS = {
    "!Ref": "Ref", "!Sub": "Fn::Sub", "!GetAtt": "Fn::GetAtt", "!Join": "Fn::Join", "!If": "Fn::If",
    "!Not": "Fn::Not", "!Equals": "Fn::Equals", "!Split": "Fn::Split", "!Select": "Fn::Select",
    "!And": "Fn::And", "!Or": "Fn::Or", "!FindInMap": "Fn::FindInMap", "!Base64": "Fn::Base64",
    "!ImportValue": "Fn::ImportValue", "!GetAZs": "Fn::GetAZs", "!Condition": "Condition",
}


class _Loader(yaml.SafeLoader):
    pass


def _construct(tag: str) -> Any:
    name = _TAGS[tag]

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt" and isinstance(value, str):
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {name: value}

    return construct


for _tag in _TAGS:
    _Loader.add_constructor(_tag, _construct(_tag))


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=_Loader)  # noqa: S506 - SafeLoader subclass with CFN tags only
    assert isinstance(data, dict)
    return data


@dataclass
class Resolver:
    """Resolves intrinsics against local values: parameters, pseudo parameters, resource refs/attrs."""

    parameters: dict[str, Any] = field(default_factory=dict)
    refs: dict[str, Any] = field(default_factory=dict)  # logical id -> value of !Ref
    attrs: dict[str, Any] = field(default_factory=dict)  # "Logical.Attr" -> value
    pseudo: dict[str, str] = field(
        default_factory=lambda: {
            "AWS::AccountId": "123456789012",
            "AWS::Region": "us-east-1",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "dropswap-local",
            "AWS::NoValue": "",
        }
    )

    def ref(self, name: str) -> Any:
        for table in (self.pseudo, self.parameters, self.refs):
            if name in table:
                return table[name]
        raise KeyError(f"cannot resolve !Ref {name} locally")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Join":
                sep, items = arg
                resolved = [self.resolve(i) for i in self.resolve(items)]
                return self.resolve(sep).join(str(i) for i in _flatten(resolved))
            if key == "Fn::GetAtt":
                dotted = ".".join(arg) if isinstance(arg, list) else arg
                if dotted in self.attrs:
                    return self.attrs[dotted]
                raise KeyError(f"cannot resolve !GetAtt {dotted} locally")
            if key == "Fn::Split":
                sep, text = arg
                return str(self.resolve(text)).split(sep)
        return {k: self.resolve(v) for k, v in value.items()}

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, local_vars = arg
            extra = {k: self.resolve(v) for k, v in local_vars.items()}
        else:
            text, extra = arg, {}

        def repl(m: re.Match[str]) -> str:
            name = m.group(1)
            if name in extra:
                return str(extra[name])
            if "." in name and not name.startswith("AWS::"):
                return str(self.resolve({"Fn::GetAtt": name.split(".", 1)}))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}!]+)\}", repl, text)


def _flatten(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for i in items:
        out.extend(_flatten(i) if isinstance(i, list) else [i])
    return out


def parameter_defaults(template: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, spec in template.get("Parameters", {}).items():
        if "Default" in spec:
            default = spec["Default"]
            out[name] = default.split(",") if spec.get("Type") == "CommaDelimitedList" and default else (
                [] if spec.get("Type") == "CommaDelimitedList" else default
            )
    return out


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Logical id -> properties of every AWS::Serverless::Function, with Globals merged in."""
    glob = template.get("Globals", {}).get("Function", {})
    out: dict[str, dict[str, Any]] = {}
    for name, res in template["Resources"].items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        props = dict(glob)
        props.update(res.get("Properties", {}))
        env = dict(glob.get("Environment", {}).get("Variables", {}))
        env.update(res.get("Properties", {}).get("Environment", {}).get("Variables", {}))
        props["Environment"] = {"Variables": env}
        out[name] = props
    return out


def table_definition(template: dict[str, Any], logical_id: str = "JobsTable") -> dict[str, Any]:
    """The CreateTable arguments of a DynamoDB table in the template (keys, GSIs, billing)."""
    props = template["Resources"][logical_id]["Properties"]
    args: dict[str, Any] = {
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    return args


def ttl_attribute(template: dict[str, Any], logical_id: str = "JobsTable") -> str | None:
    spec = template["Resources"][logical_id]["Properties"].get("TimeToLiveSpecification")
    return str(spec["AttributeName"]) if spec and spec.get("Enabled") else None

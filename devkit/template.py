"""Read template.yaml for the local stack and the tests: the template is the one description of the system.

Loads the SAM template with CloudFormation's short-form tags (!Sub, !Ref, ...) into the JSON form that
CloudFormation takes; resolving it is CloudFormation's job (the local stack deploys it to MiniStack).
"""

from __future__ import annotations

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

"""Build SharedLayer with its own make target and run python3.13 the way Lambda imports a handler.

Shared by tests/build (does the artifact import, from its bytecode?) and benchmarks/cold_start.py (how
long does that take?). Lambda's sys.path, in order: the function's code, the layer's python/, then the
runtime's own site-packages holding boto3. Here the runtime's boto3 is the one installed for the python3.13
that runs the import (.venvs/py313), and `-S` keeps that venv's other packages off the path.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.markers import Marker
from packaging.utils import canonicalize_name

from devkit import template as tpl

ROOT = Path(__file__).resolve().parents[1]
LAYER_SOURCE = ROOT / "layers" / "dropswap"
SAM_BUILT_LAYER = ROOT / ".aws-sam" / "build" / "SharedLayer" / "python"
# The dependencies whose import must come from the layer (boto3 is the runtime's).
LAYER_PACKAGES = ("dropswap", "aws_lambda_powertools", "requests", "urllib3", "cryptography", "jmespath",
                  "fastjsonschema", "charset_normalizer", "idna", "certifi")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;([^\\]*))?")
_LAMBDA_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "en_US.UTF-8",
    "TZ": ":UTC",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "AWS_ACCESS_KEY_ID": "dummy",
    "AWS_SECRET_ACCESS_KEY": "dummy",
    "AWS_SESSION_TOKEN": "dummy",
}


@dataclass(frozen=True)
class Handler:
    function: str  # logical id in template.yaml
    code_dir: Path
    module: str
    attr: str
    env: dict[str, str]  # the template's variables, resolved as by _resolve


_PSEUDO = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws",
           "AWS::StackName": "dropswap", "AWS::URLSuffix": "amazonaws.com"}


def _resolve(value: Any, params: dict[str, Any]) -> Any:
    """Enough of CloudFormation for environment values: parameter defaults, pseudo parameters, Sub and
    Join; a resource, a parameter without default or any other function becomes a placeholder name."""
    if not isinstance(value, dict | list):
        return str(value)
    if isinstance(value, list):
        return [_resolve(v, params) for v in value]
    ((fn, arg),) = value.items()
    if fn == "Ref":
        return params.get(arg, _PSEUDO.get(arg, f"dummy-{str(arg).lower()}"))
    if fn == "Fn::Sub" and isinstance(arg, str):
        return re.sub(r"\$\{([^}]+)\}", lambda m: str(_resolve({"Ref": m[1]}, params)), arg)
    if fn == "Fn::Join":
        items = _resolve(arg[1], params)
        return str(arg[0]).join(items if isinstance(items, list) else [items])
    return f"dummy-{fn.lower().replace('::', '-')}"


def pins(requirements: Path) -> dict[str, str]:
    """name → version of each `name==version` line of a requirements file that applies to this interpreter."""
    out: dict[str, str] = {}
    for line in requirements.read_text(encoding="utf-8").splitlines():
        m = PIN.match(line)
        if m and (not m[3] or Marker(m[3].strip()).evaluate()):
            out[canonicalize_name(m[1])] = m[2]
    return out


def handlers() -> list[Handler]:
    """Every function of template.yaml, as Lambda would load it."""
    template = tpl.load_template()
    params: dict[str, Any] = {}
    for name, p in template.get("Parameters", {}).items():
        if "Default" in p:
            default = str(p["Default"])
            is_list = p["Type"] == "CommaDelimitedList"
            params[name] = [x for x in default.split(",") if x] if is_list else default
    out = []
    for logical, props in tpl.functions(template).items():
        module, _, attr = str(props["Handler"]).rpartition(".")
        env = {k: str(_resolve(v, params)) for k, v in props["Environment"]["Variables"].items()}
        out.append(Handler(logical, ROOT / str(props["CodeUri"]), module, attr, env))
    return sorted(out, key=lambda h: h.function)


def host_pip_platforms() -> str:
    """pip --platform tags this machine loads, newest first, as Lambda's (glibc ≤ 2.34), for PIP_PLATFORM."""
    arch = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}[
        platform.machine().lower()]
    libc, version = platform.libc_ver()
    if libc != "glibc":
        raise RuntimeError(f"the layer's wheels are manylinux (glibc); this machine has {libc or 'no libc'}")
    newest = min(int(version.split(".")[1]), 34)
    return " ".join([f"manylinux_2_{m}_{arch}" for m in range(newest, 16, -1)] + [f"manylinux2014_{arch}"])


def build_layer(artifacts_dir: Path, python: Path) -> Path:
    """`make build-SharedLayer` for this machine (as the local stack does); returns the layer's python/."""
    proc = subprocess.run(
        ["make", "--no-print-directory", "-C", str(LAYER_SOURCE), "build-SharedLayer",
         f"ARTIFACTS_DIR={artifacts_dir}", f"PYTHON={python}", f"PIP_PLATFORM={host_pip_platforms()}"],
        capture_output=True, text=True, timeout=900, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"make build-SharedLayer failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return artifacts_dir / "python"


def runtime_site(python: Path) -> Path:
    """Where `python` finds boto3: stands in for the Lambda runtime's site-packages."""
    code = "import boto3, pathlib; print(pathlib.Path(boto3.__file__).resolve().parent.parent)"
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return Path(proc.stdout.strip())


def lambda_env(handler: Handler, layer: Path, site: Path) -> dict[str, str]:
    """The handler's environment in Lambda, and its sys.path order as PYTHONPATH (run python with -S)."""
    return {
        **_LAMBDA_ENV,
        **handler.env,
        "AWS_LAMBDA_FUNCTION_NAME": handler.function,
        "LAMBDA_TASK_ROOT": str(handler.code_dir),
        "PYTHONPATH": os.pathsep.join([str(handler.code_dir), str(layer), str(site)]),
    }

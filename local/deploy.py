"""Package template.yaml and deploy it through CloudFormation (with the SAM transform) to the local AWS.

This is what `sam build` + `sam deploy` do, for this machine:
- the layer is built by its own `build-SharedLayer` make target (SAM's `BuildMethod: makefile`), only for
  the host's architecture, because MiniStack runs functions on the host;
- each function folder and the layer go into an artifacts bucket as zips, and the template's CodeUri /
  ContentUri point there (what `sam package` writes);
- the stack is created with parameters; the only values that differ from a deployment are the AKOOL
  endpoints, the secret's ARN, LocalStackLoopbackResults (the emulator serves results on 127.0.0.1), and
  the timing parameters a caller passes for tests;
- `update_parameters` is what a redeploy with changed parameters is (`sam deploy --parameter-overrides`,
  or `aws cloudformation update-stack --use-previous-template`): e.g. a raised AkoolCreditBudgetPerDay.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devkit.template import ROOT, load_template

LAYER_DIR = ROOT / "layers" / "dropswap"
LAYER_CACHE = ROOT / ".dropswap" / "cache"
ARTIFACTS_BUCKET = "dropswap-local-artifacts"
_PIP_ARCH = {"x86_64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


class DeployError(RuntimeError):
    """The stack did not deploy; the message lists CloudFormation's reasons."""


@dataclass(frozen=True)
class Deployed:
    stack_name: str
    outputs: dict[str, str]
    resources: dict[str, str]  # logical id -> physical id


def build_host_layer(python: Path) -> Path:
    """The layer, built for this machine's architecture with the runtime's Python; cached by content."""
    digest = hashlib.sha256()
    for path in sorted(LAYER_DIR.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(LAYER_DIR)).encode() + b"\0" + path.read_bytes())
    machine = platform.machine()
    digest.update(machine.encode() + str(python).encode())
    target = LAYER_CACHE / f"layer-{machine}-{digest.hexdigest()[:16]}"
    if target.exists():
        return target
    LAYER_CACHE.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="layer-build-", dir=LAYER_CACHE))
    try:
        build = subprocess.run(
            ["make", "--no-print-directory", "-C", str(LAYER_DIR), "build-SharedLayer",
             f"ARTIFACTS_DIR={scratch}", f"PYTHON={python}", f"PIP_ARCH={_PIP_ARCH[machine]}"],
            capture_output=True, text=True, env=_build_env(), check=False,
        )
        if build.returncode != 0:
            raise DeployError(f"the layer build failed:\n{build.stdout[-2000:]}{build.stderr[-3000:]}")
        try:
            scratch.rename(target)
        except OSError:  # another run built the same content first
            if not target.exists():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def zip_folder(folder: Path, keep_bytecode: bool = False) -> bytes:
    """A deployment zip. A checkout's __pycache__ is the dev interpreter's, so only a build keeps its own."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if path.is_file() and (keep_bytecode or "__pycache__" not in rel.parts):
                zf.write(path, str(rel))
    return buf.getvalue()


def packaged_template(s3: Any, layer: Path) -> dict[str, Any]:
    """template.yaml with every CodeUri/ContentUri replaced by an s3:// zip in the artifacts bucket."""
    template = load_template()
    s3.create_bucket(Bucket=ARTIFACTS_BUCKET)
    for name, res in template["Resources"].items():
        props = res.get("Properties", {})
        if res.get("Type") == "AWS::Serverless::Function":
            body, prop = zip_folder(ROOT / str(props["CodeUri"])), "CodeUri"
        elif res.get("Type") == "AWS::Serverless::LayerVersion":
            body, prop = zip_folder(layer, keep_bytecode=True), "ContentUri"
        else:
            continue
        key = f"{name}-{hashlib.sha256(body).hexdigest()[:16]}.zip"
        s3.put_object(Bucket=ARTIFACTS_BUCKET, Key=key, Body=body)
        props[prop] = f"s3://{ARTIFACTS_BUCKET}/{key}"
    return template


def deploy(cfn: Any, s3: Any, stack_name: str, layer: Path, parameters: dict[str, str],
           timeout: float = 120.0) -> Deployed:
    template = packaged_template(s3, layer)
    known = set(template.get("Parameters", {}))
    unknown = set(parameters) - known
    if unknown:
        raise DeployError(f"template.yaml has no parameter(s) {sorted(unknown)}")
    cfn.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    stack, status = _wait(cfn, stack_name, timeout)
    if status != "CREATE_COMPLETE":
        raise DeployError(f"stack {stack_name} ended {status}: " + "; ".join(_failures(cfn, stack_name)))
    return _deployed(cfn, stack_name, stack)


def update_parameters(cfn: Any, stack_name: str, changes: dict[str, str], timeout: float = 120.0) -> Deployed:
    """Update the deployed stack's parameters named in `changes`, keeping the template and every other
    parameter (UsePreviousValue), as a redeploy with --parameter-overrides does; the functions whose
    environment changes get it at their next cold start."""
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    current = {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters", [])}
    unknown = set(changes) - set(current)
    if unknown:
        raise DeployError(f"stack {stack_name} has no parameter(s) {sorted(unknown)}")
    if all(current[k] == v for k, v in changes.items()):
        return _deployed(cfn, stack_name, stack)  # CloudFormation refuses an update that changes nothing
    cfn.update_stack(
        StackName=stack_name,
        UsePreviousTemplate=True,
        Parameters=[
            {"ParameterKey": k, "ParameterValue": changes[k]} if k in changes
            else {"ParameterKey": k, "UsePreviousValue": True}
            for k in current
        ],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    stack, status = _wait(cfn, stack_name, timeout)
    if status != "UPDATE_COMPLETE":
        raise DeployError(f"stack {stack_name} ended {status}: " + "; ".join(_failures(cfn, stack_name)))
    return _deployed(cfn, stack_name, stack)


def _wait(cfn: Any, stack_name: str, timeout: float) -> tuple[dict[str, Any], str]:
    deadline = time.monotonic() + timeout
    while True:
        stack: dict[str, Any] = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        status = str(stack["StackStatus"])
        if not status.endswith("_IN_PROGRESS"):
            return stack, status
        if time.monotonic() > deadline:
            raise DeployError(f"stack {stack_name} still {status} after {timeout:.0f}s")
        time.sleep(0.25)


def _failures(cfn: Any, stack_name: str) -> list[str]:
    events = cfn.describe_stack_events(StackName=stack_name)["StackEvents"]
    reasons = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}"
               for e in events if "FAILED" in str(e.get("ResourceStatus"))]
    return reasons or ["no reason given"]


def _deployed(cfn: Any, stack_name: str, stack: dict[str, Any]) -> Deployed:
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    resources = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                 for r in cfn.describe_stack_resources(StackName=stack_name)["StackResources"]}
    return Deployed(stack_name, outputs, resources)


def _build_env() -> dict[str, str]:
    """Environment for building with the runtime's interpreter: no dev-venv paths leaking in."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}

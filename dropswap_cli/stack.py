"""Which dropswap stack to talk to, and S3 clients for it.

- `--stack NAME` (or DROPSWAP_STACK): a CloudFormation stack; its DropBucketName output is the bucket. The
  standard AWS credential chain applies (profiles, SSO, environment, instance roles; AWS_ENDPOINT_URL and
  AWS_CA_BUNDLE too).
- else the local stack `make up` runs: `--local FILE` (or DROPSWAP_LOCAL), else .dropswap/local.json in the
  current folder or a parent. Its endpoint, region, bucket and CA come from that file; the credentials are
  the local AWS's administrator key (a fixed, public value), never the user's AWS credentials.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, NoRegionError

from dropswap_cli.errors import CliError

BUCKET_OUTPUT = "DropBucketName"
LOCAL_FILE = Path(".dropswap") / "local.json"
# MiniStack's administrator key for the local stack (local/ministack.py ADMIN_KEY): public, not a secret.
LOCAL_ADMIN_KEY = "test"
_CONFIG = Config(retries={"max_attempts": 4, "mode": "standard"}, connect_timeout=10, read_timeout=60)


@dataclass(frozen=True)
class Stack:
    description: str  # for messages: "stack NAME (region)" or "the local stack (FILE)"
    bucket: str
    s3: Any
    # For `dropswap doctor`: the CloudFormation stack's name and outputs, and a client of any service.
    name: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    # A CloudFormation stack's parameters (the pacing figures an ETA uses: progress.py).
    parameters: dict[str, str] = field(default_factory=dict)
    session: Any = None
    endpoint_url: str | None = None
    verify: str | bool = True
    # The webhook URL with "{job_id}": the local stack's API is not at the host its output names.
    webhook_url: str | None = None

    def client(self, service: str) -> Any:
        return self.session.client(
            service, endpoint_url=self.endpoint_url, verify=self.verify, config=_CONFIG
        )


def find(stack_name: str | None, region: str | None, local_file: Path | None) -> Stack:
    name = stack_name or os.environ.get("DROPSWAP_STACK")
    if name:
        return _cloudformation_stack(name, region)
    path = local_file or (Path(os.environ["DROPSWAP_LOCAL"]) if os.environ.get("DROPSWAP_LOCAL") else None)
    if path is None:
        path = _find_upwards(Path.cwd())
    if path is None:
        raise CliError(
            "no stack given: pass --stack NAME (a deployed dropswap stack), or start the local stack with "
            "`make up` (it writes .dropswap/local.json) and run dropswap inside the repository"
        )
    return _local_stack(path)


def _find_upwards(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / LOCAL_FILE).is_file():
            return folder / LOCAL_FILE
    return None


def _cloudformation_stack(name: str, region: str | None) -> Stack:
    # AWS_REGION too: botocore reads only AWS_DEFAULT_REGION, other AWS tools read AWS_REGION.
    session = boto3.Session(region_name=region or os.environ.get("AWS_REGION") or None)
    try:
        cfn: Any = session.client("cloudformation", config=_CONFIG)
    except NoRegionError as exc:
        raise CliError("no AWS region: pass --region or set AWS_REGION (the stack's region)") from exc
    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ValidationError":
            raise CliError(f"no CloudFormation stack named {name!r} in {session.region_name}: check --stack "
                           "and the region (--region, AWS_REGION or the profile's)") from exc
        raise
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    if BUCKET_OUTPUT not in outputs:
        raise CliError(f"stack {name!r} has no {BUCKET_OUTPUT} output: is it a dropswap stack, deployed "
                       "completely?")
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stacks[0].get("Parameters", [])}
    base = outputs.get("WebhookBaseUrl", "").rstrip("/")
    return Stack(f"stack {name} ({session.region_name})", outputs[BUCKET_OUTPUT],
                 session.client("s3", config=_CONFIG), name=name, outputs=outputs, parameters=parameters,
                 session=session,
                 webhook_url=f"{base}/webhooks/akool/{{job_id}}" if base else None)


def _local_stack(path: Path) -> Stack:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        endpoint, region = str(info["aws_endpoint_url"]), str(info["region"])
        bucket = str(info.get("bucket") or info["outputs"][BUCKET_OUTPUT])
    except FileNotFoundError as exc:
        raise CliError(f"{path}: no such file (start the local stack with `make up`)") from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CliError(f"{path}: not a local stack description written by `make up` ({exc!r})") from exc
    ca_bundle = info.get("ca_bundle")
    session = boto3.Session(aws_access_key_id=LOCAL_ADMIN_KEY, aws_secret_access_key=LOCAL_ADMIN_KEY,
                            region_name=region)
    verify: str | bool = str(ca_bundle) if ca_bundle else True
    s3 = session.client("s3", endpoint_url=endpoint, verify=verify, config=_CONFIG)
    outputs = info.get("outputs") if isinstance(info.get("outputs"), dict) else {}
    return Stack(f"the local stack ({path})", bucket, s3, name=str(info.get("stack_name") or ""),
                 outputs={str(k): str(v) for k, v in outputs.items()}, session=session, endpoint_url=endpoint,
                 verify=verify, webhook_url=str(info["webhook_url"]) if info.get("webhook_url") else None)

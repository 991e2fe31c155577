"""Change template parameters of the running local stack (`make up`), as `sam deploy --parameter-overrides`
does on AWS: the stack is updated through CloudFormation with its template and every other parameter kept.

    .venv/bin/python -m local.redeploy AkoolCreditBudgetPerDay=500

The stack is found through .dropswap/local.json (written by `make up`). A function whose environment
changes gets the new value at its next cold start; jobs waiting for the credit budget resume at the
reconciler's next run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import boto3

from local import deploy
from local.ministack import ADMIN_KEY
from local.stack import STATE_DIR


def _parameters(pairs: list[str], parser: argparse.ArgumentParser) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            parser.error(f"{pair!r} is not NAME=VALUE")
        out[key] = value
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.redeploy", description=__doc__.split("\n")[0])
    parser.add_argument("parameters", nargs="+", metavar="NAME=VALUE", help="template parameters to change")
    parser.add_argument("--local", type=Path, default=STATE_DIR / "local.json",
                        help="the running stack's local.json (default .dropswap/local.json)")
    args = parser.parse_args(argv)
    changes = _parameters(args.parameters, parser)
    if not args.local.exists():
        parser.error(f"{args.local} not found: start the stack with `make up` first")
    info: dict[str, Any] = json.loads(args.local.read_text(encoding="utf-8"))
    cfn = boto3.client(
        "cloudformation", endpoint_url=info["aws_endpoint_url"], region_name=info["region"],
        aws_access_key_id=ADMIN_KEY, aws_secret_access_key=ADMIN_KEY, verify=str(info["ca_bundle"]),
    )
    try:
        deploy.update_parameters(cfn, str(info["stack_name"]), changes)
    except deploy.DeployError as exc:
        print(f"redeploy failed: {exc}", file=sys.stderr)
        return 1
    print(f"{info['stack_name']}: " + ", ".join(f"{k}={v}" for k, v in changes.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

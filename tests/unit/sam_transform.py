"""template.yaml through the SAM transform, in-process: what CloudFormation deploys, for template tests."""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from devkit.template import load_template

REGION = "us-east-1"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:dropswap/akool-AbCdEf"
# The two deployments worth checking: no extra source buckets (the default), and two of them.
NO_EXTRA_BUCKETS = ""
TWO_EXTRA_BUCKETS = "team-faces,faces-library"


class _NoManagedPolicies:
    """The translator's managed-policy lookup, without calling IAM."""

    def load(self) -> dict[str, str]:
        return {}


def transform(
    source: Mapping[str, Any], extra_source_buckets: str = NO_EXTRA_BUCKETS, *, layer_zip: str | None = None,
) -> dict[str, Any]:
    """The transformed template. ExtraSourceBuckets becomes the parameter's default, so tools that read only
    the template (cfn-lint, the IAM evaluator) see the value a deployment would pass. `layer_zip`: where the
    layer's build was uploaded (a new build, a new location)."""
    from samtranslator.translator.transform import transform as sam_transform

    template = copy.deepcopy(dict(source))
    template["Parameters"]["ExtraSourceBuckets"]["Default"] = extra_source_buckets
    # The translator wants deployable artifact locations, not the local folders `sam build` reads.
    for name, res in template["Resources"].items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::Serverless::Function":
            props["CodeUri"] = f"s3://artifacts/{name}.zip"
        elif res["Type"] == "AWS::Serverless::LayerVersion":
            props["ContentUri"] = layer_zip or f"s3://artifacts/{name}.zip"
    parameters = {"AkoolSecretArn": SECRET_ARN, "ExtraSourceBuckets": extra_source_buckets}
    saved = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = REGION  # the translator picks the partition from the region
    try:
        out: dict[str, Any] = sam_transform(template, parameters, _NoManagedPolicies())
    finally:
        if saved is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = saved
    return out


@lru_cache(maxsize=4)
def transformed_template(extra_source_buckets: str = NO_EXTRA_BUCKETS) -> dict[str, Any]:
    """Cached per parameter value: callers must not modify the result."""
    return transform(load_template(), extra_source_buckets)

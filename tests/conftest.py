"""Shared fixtures: AWS resources in moto, created from template.yaml so tests use the deployed shapes."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from devkit import template as tpl
from devkit.credentials import TEST_API_KEY, TEST_CLIENT_ID

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
BUCKET = "dropswap-123456789012-us-east-1-drop"
TABLE = "dropswap-jobs"
# The queues' physical names in the unit tests' deployment (logical id -> name; tests/unit/iam_grants.py).
QUEUES = {
    "SubmitQueue": "dropswap-submit",
    "SubmitDLQ": "dropswap-submit-dlq",
    "FinaliseQueue": "dropswap-finalise",
    "FinaliseDLQ": "dropswap-finalise-dlq",
}
SECRET_NAME = "dropswap/akool"
# DropswapEventBus's physical name in the unit tests' deployment.
EVENT_BUS = "dropswap-events"
# Test credentials shared by the events/ samples and the tests (never real ones).
EVENTS = ROOT / "events"


def load_event(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return data


def load_handler(function: str) -> ModuleType:
    """Import functions/<function>/app.py under a unique module name (every function has an app.py)."""
    path = ROOT / "functions" / function / "app.py"
    name = f"dropswap_fn_{function}_app"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a region; no endpoint override, so nothing can reach real AWS."""
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)


@pytest.fixture
def moto_aws(aws_env: None) -> Iterator[None]:
    from moto import mock_aws

    from dropswap.adapters import aws
    from tests import moto_atomic

    moto_atomic.install()
    from dropswap.settings import settings

    with mock_aws():
        # Clients are cached per process: drop them so each test gets clients inside its own mock.
        aws.s3.cache_clear()
        aws.dynamodb.cache_clear()
        aws.sqs.cache_clear()
        settings.cache_clear()
        yield
        aws.s3.cache_clear()
        aws.dynamodb.cache_clear()
        aws.sqs.cache_clear()
        settings.cache_clear()


def create_table(client: Any, name: str = TABLE) -> None:
    """The Jobs table as template.yaml defines it: keys, GSIs, billing, TTL."""
    props = tpl.load_template()["Resources"]["JobsTable"]["Properties"]
    client.create_table(
        TableName=name,
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
        GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"],
    )
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        client.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
        )


def create_queues(client: Any) -> dict[str, str]:
    """The queues as template.yaml defines them (visibility, retention, redrive); logical id -> URL."""
    resources = tpl.load_template()["Resources"]
    urls: dict[str, str] = {}
    # Dead-letter queues first: the others' redrive policies name them.
    for logical in sorted(QUEUES, key=lambda q: "RedrivePolicy" in resources[q]["Properties"]):
        props = resources[logical]["Properties"]
        attributes = {k: str(props[k]) for k in ("VisibilityTimeout", "MessageRetentionPeriod") if k in props}
        redrive = props.get("RedrivePolicy")
        if redrive:
            dlq = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
            arn = client.get_queue_attributes(QueueUrl=urls[dlq], AttributeNames=["QueueArn"])
            attributes["RedrivePolicy"] = json.dumps({
                "deadLetterTargetArn": arn["Attributes"]["QueueArn"],
                "maxReceiveCount": redrive["maxReceiveCount"],
            })
        urls[logical] = client.create_queue(QueueName=QUEUES[logical], Attributes=attributes)["QueueUrl"]
    return urls


@pytest.fixture
def resources(moto_aws: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Bucket, Jobs table, queues (from template.yaml) and AKOOL secret in moto; env vars as in the
    template."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    create_table(boto3.client("dynamodb", region_name=REGION))
    queues = create_queues(boto3.client("sqs", region_name=REGION))
    boto3.client("events", region_name=REGION).create_event_bus(Name=EVENT_BUS)
    sm = boto3.client("secretsmanager", region_name=REGION)
    arn = sm.create_secret(
        Name=SECRET_NAME, SecretString=json.dumps({"clientId": TEST_CLIENT_ID, "apiKey": TEST_API_KEY})
    )["ARN"]
    env = {
        "DROP_BUCKET": BUCKET,
        "JOBS_TABLE": TABLE,
        "AKOOL_SECRET_ID": arn,
        "AKOOL_BASE_URL": "https://openapi.akool.test",
        "AKOOL_DETECT_URL": "https://openapi.akool.test/interface/detect-api",
        "WEBHOOK_BASE_URL": "https://api.example.test/v1",
        "POWERTOOLS_SERVICE_NAME": "dropswap-test",
        "POWERTOOLS_METRICS_NAMESPACE": "dropswap",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AKOOL_RETRY_BASE_SECONDS": "0",
        "SUBMIT_QUEUE_URL": queues["SubmitQueue"],
        "FINALISE_QUEUE_URL": queues["FinaliseQueue"],
        "EVENT_BUS_NAME": EVENT_BUS,
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    os.environ.pop("EXTRA_SOURCE_BUCKETS", None)
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
    return {"bucket": BUCKET, "table": TABLE, "secret_arn": arn, **{f"{q}Url": u for q, u in queues.items()}}

"""Lazily created, process-wide boto3 clients (created on first use, then reused while warm).

boto3 honours AWS_ENDPOINT_URL, which is how the local stack points every client at its moto server.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)


@lru_cache(maxsize=1)
def s3() -> S3Client:
    # SigV4 so presigned URLs work in every region and on the local stack.
    return boto3.client("s3", config=_CONFIG.merge(Config(signature_version="s3v4")))


@lru_cache(maxsize=1)
def dynamodb() -> DynamoDBClient:
    return boto3.client("dynamodb", config=_CONFIG)


@lru_cache(maxsize=1)
def events() -> Any:
    # No type stubs for EventBridge in the dev venv (mypy_boto3_events is not installed).
    return boto3.client("events", config=_CONFIG)


@lru_cache(maxsize=1)
def sqs() -> SQSClient:
    return boto3.client("sqs", config=_CONFIG)



def load_models() -> None:
    """Build each client once, so the default session's loader holds their service models (read from
    disk: about a second for the four). Before a SnapStart snapshot: restored copies skip that read."""
    for client in _CLIENTS:
        client()


def forget_clients() -> None:
    """Drop the clients and boto3's default session (its resolved credentials and connections): the next
    use builds new ones. For SnapStart (dropswap.app.snapstart): nothing of a snapshot's connections or
    credentials is used after a restore. The new session keeps the old one's loader (service models
    only, no credentials), so rebuilding the clients costs what a warm process pays, not a cold one."""
    for client in _CLIENTS:
        client.cache_clear()
    old = boto3.DEFAULT_SESSION
    if old is None:
        return
    fresh = botocore.session.get_session()
    fresh.register_component("data_loader", old._session.get_component("data_loader"))
    boto3.setup_default_session(botocore_session=fresh)


_CLIENTS = (s3, dynamodb, events, sqs)

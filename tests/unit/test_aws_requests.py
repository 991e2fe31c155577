"""local/aws_requests.py: the moto server's request counter classifies what the SDK sends."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from local.aws_requests import AwsCall, AwsRequestCounter, classify

SIGV4 = "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host"


def environ(method: str, path: str = "/", query: str = "", *, service: str | None = "s3",
            ua: str = "Boto3/1.44.5 md/Botocore#1.44.5 ua/2.1 os/linux", **headers: str) -> dict[str, Any]:
    env: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
                           "HTTP_USER_AGENT": ua}
    if service:
        env["HTTP_AUTHORIZATION"] = SIGV4.format(service=service)
    env.update({f"HTTP_{k.upper()}": v for k, v in headers.items()})
    return env


@pytest.mark.parametrize(("env", "expected"), [
    (environ("POST", service="dynamodb", x_amz_target="DynamoDB_20120810.UpdateItem",
             ua="Boto3/1.44.5 md/Botocore#1.44.5 app/WebhookFunction"),
     AwsCall("WebhookFunction", "dynamodb", "UpdateItem")),
    (environ("POST", service="secretsmanager", x_amz_target="secretsmanager.GetSecretValue"),
     AwsCall("sdk", "secretsmanager", "GetSecretValue")),
    (environ("HEAD", "/bucket/inbox/Summer%20party/Zo%C3%AB.jpg"),
     AwsCall("sdk", "s3", "HeadObject", "inbox/Summer party/Zoë.jpg")),
    (environ("PUT", "/bucket/results/a.jpg"), AwsCall("sdk", "s3", "PutObject", "results/a.jpg")),
    (environ("PUT", "/bucket/results/a.jpg", x_amz_copy_source="bucket/x"),
     AwsCall("sdk", "s3", "CopyObject", "results/a.jpg")),
    (environ("POST", "/bucket/results/a.jpg", "uploads"),
     AwsCall("sdk", "s3", "CreateMultipartUpload", "results/a.jpg")),
    (environ("PUT", "/bucket/results/a.jpg", "partNumber=1&uploadId=u"),
     AwsCall("sdk", "s3", "UploadPart", "results/a.jpg")),
    (environ("POST", "/bucket/results/a.jpg", "uploadId=u"),
     AwsCall("sdk", "s3", "CompleteMultipartUpload", "results/a.jpg")),
    (environ("GET", "/bucket", "list-type=2&prefix=inbox%2F"), AwsCall("sdk", "s3", "ListObjectsV2")),
    # A presigned URL fetched by the AKOOL emulator: no Authorization header, a requests User-Agent
    (environ("GET", "/bucket/inbox/a.jpg", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
             "local%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=ab", service=None,
             ua="python-requests/2.34"),
     AwsCall("other", "s3", "GetObject", "inbox/a.jpg")),
])
def test_given_request_then_classified(env: dict[str, Any], expected: AwsCall) -> None:
    assert classify(env) == expected


def test_given_requests_through_the_middleware_then_counted_and_only_successful_writes_per_key() -> None:
    statuses = iter(["200 OK", "200 OK", "404 Not Found", "500 Internal Server Error"])

    def app(env: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response(next(statuses), [])
        return [b""]

    counter = AwsRequestCounter(app)
    for env in (environ("PUT", "/b/results/a.jpg"), environ("PUT", "/b/results/a.jpg"),
                environ("HEAD", "/b/inbox/x.jpg"), environ("PUT", "/b/results/b.jpg")):
        list(counter(env, lambda status, headers, exc_info=None: None))
    assert counter.calls() == {AwsCall("sdk", "s3", "PutObject"): 3, AwsCall("sdk", "s3", "HeadObject"): 1}
    assert counter.errors() == {AwsCall("sdk", "s3", "PutObject"): 1, AwsCall("sdk", "s3", "HeadObject"): 1}
    assert counter.object_writes("results/") == {"results/a.jpg": 2}
    assert counter.total(service="s3") == 4
    counter.reset()
    assert counter.total() == 0

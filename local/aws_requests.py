"""Count the AWS API requests the moto server receives, by caller, service and operation (dev-only).

A WSGI middleware around the moto server's app (`StackConfig(count_aws_requests=True)`): the functions
run in their own processes, so the server side is the one place that sees every call. Each request is
classified from what the SDK sends anyway:
- caller: the `app/<id>` part of the User-Agent, which botocore adds from `AWS_SDK_UA_APP_ID` (the local
  stack sets it to the function's logical id in each worker when counting); other botocore clients
  (the stack's own plumbing, tests, benchmarks) are `sdk`; anything else (presigned URLs fetched by the
  AKOOL emulator) is `other`;
- service: the credential scope of the SigV4 `Authorization` header or of a presigned URL;
- operation: `X-Amz-Target` for JSON protocols (DynamoDB, Secrets Manager, SQS), else from S3's REST
  method, path and query.
Successful S3 object writes are also counted per key, so a test can tell whether a result was written
twice.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

_APP_ID = re.compile(r"(?:^|\s)app/([A-Za-z0-9!#$%&'*+\-.^_`|~]+)")
_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/,\s]+/([^/,\s]+)/aws4_request")
# Object writes: each one that succeeds stores (or replaces) an object.
S3_WRITES = frozenset({"PutObject", "CopyObject", "CompleteMultipartUpload"})

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass(frozen=True)
class AwsCall:
    caller: str
    service: str
    operation: str
    key: str | None = None  # S3 object key (decoded), when the request names one


def classify(environ: dict[str, Any]) -> AwsCall:
    """What a request to the moto server is: who sent it, to which service, which operation."""
    ua = str(environ.get("HTTP_USER_AGENT", ""))
    m = _APP_ID.search(ua)
    if m:
        caller = m.group(1)
    elif "botocore" in ua.lower() or "boto3" in ua.lower():
        caller = "sdk"
    else:
        caller = "other"
    query = str(environ.get("QUERY_STRING", ""))
    scope = _SCOPE.search(str(environ.get("HTTP_AUTHORIZATION", "")))
    if scope is None:
        cred = parse_qs(query).get("X-Amz-Credential", [""])[0]
        scope = re.search(r"^[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request$", cred)
        service = scope.group(1) if scope else "unknown"
    else:
        service = scope.group(1)
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    if target:
        return AwsCall(caller, service, target.rsplit(".", 1)[-1])
    if service == "s3":
        op, key = _s3_operation(environ, query)
        return AwsCall(caller, service, op, key)
    return AwsCall(caller, service, str(environ.get("REQUEST_METHOD", "?")))


def _s3_operation(environ: dict[str, Any], query: str) -> tuple[str, str | None]:
    method = str(environ.get("REQUEST_METHOD", "GET")).upper()
    # Path-style addressing (the endpoint is an IP): /<bucket>[/<key>].
    path = unquote(str(environ.get("PATH_INFO", "")))
    parts = path.lstrip("/").split("/", 1)
    key = parts[1] if len(parts) == 2 and parts[1] else None
    params = parse_qs(query, keep_blank_values=True)
    if key is None:
        bucket_ops = {"GET": "ListObjectsV2" if params.get("list-type") == ["2"] else "ListObjects",
                      "HEAD": "HeadBucket", "PUT": "CreateBucket", "DELETE": "DeleteBucket"}
        if "notification" in params:
            return ("PutBucketNotificationConfiguration" if method == "PUT"
                    else "GetBucketNotificationConfiguration"), None
        if method == "POST" and "delete" in params:
            return "DeleteObjects", None
        return bucket_ops.get(method, f"Bucket{method.title()}"), None
    if "uploadId" in params:
        if method == "PUT":
            return "UploadPart", key
        if method == "POST":
            return "CompleteMultipartUpload", key
        if method == "DELETE":
            return "AbortMultipartUpload", key
        return "ListParts", key
    if method == "POST" and "uploads" in params:
        return "CreateMultipartUpload", key
    if method == "PUT":
        return ("CopyObject" if environ.get("HTTP_X_AMZ_COPY_SOURCE") else "PutObject"), key
    return {"GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}.get(method, method), key


class AwsRequestCounter:
    """WSGI middleware: passes every request to `app` and counts it (thread-safe)."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._calls: Counter[AwsCall] = Counter()
        self._errors: Counter[AwsCall] = Counter()
        self._writes: Counter[str] = Counter()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        call = classify(environ)

        def counting_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            code = int(status.split(" ", 1)[0]) if status[:3].isdigit() else 0
            with self._lock:
                self._calls[AwsCall(call.caller, call.service, call.operation)] += 1
                if code >= 400:
                    self._errors[AwsCall(call.caller, call.service, call.operation)] += 1
                elif call.operation in S3_WRITES and call.key is not None:
                    self._writes[call.key] += 1
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        return self.app(environ, counting_start_response)

    # -- reading ---------------------------------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._errors.clear()
            self._writes.clear()

    def calls(self) -> Counter[AwsCall]:
        """Requests by (caller, service, operation), answered with any status."""
        with self._lock:
            return Counter(self._calls)

    def errors(self) -> Counter[AwsCall]:
        """The requests of `calls()` that were answered 4xx/5xx (e.g. a HEAD of a missing key)."""
        with self._lock:
            return Counter(self._errors)

    def object_writes(self, prefix: str = "") -> Counter[str]:
        """Successful object writes (PutObject, CopyObject, CompleteMultipartUpload) per S3 key."""
        with self._lock:
            return Counter({k: n for k, n in self._writes.items() if k.startswith(prefix)})

    def total(self, caller: str | None = None, service: str | None = None) -> int:
        return sum(
            n for c, n in self.calls().items()
            if (caller is None or c.caller == caller) and (service is None or c.service == service)
        )

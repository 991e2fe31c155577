"""AWS calls by caller, from MiniStack's CloudTrail (`StackConfig(record_aws_requests=True)`).

MiniStack records every request it serves (after serving it, denied requests excepted) as a CloudTrail
event in an in-memory ring that LookupEvents reads. An event names its caller only by access key id, so
this module maps keys to functions, relying on how MiniStack 1.5.x makes each function's credentials under
AUTH (ministack/core/lambda_runtime.py `execution_credentials`):

    access key id = "ASIA" + SHA-256("<function ARN>:<role ARN>").hexdigest()[:16].upper()

Every event is attributed to a function (by that key), to the administrator (`ADMIN_KEY`: the stack's own
clients, this driver, unsigned requests) or else raises `UnknownCaller`: a key that maps to neither means
the derivation changed, and counting on would silently drop calls. Requests signed with a function's key
but not sent by an AWS SDK are presigned URLs the function handed out (AKOOL fetching the inputs); they
are counted apart, as "<Function> presigned".

Limits of MiniStack's events, and what is done about them: S3 operations are named from method and path
only (an UploadPart is a "PutObject", CompleteMultipartUpload a "CreateMultipartUpload"), so
`object_writes` refuses to count a key that saw a multipart upload; a request that failed in the service
(404, 412) is recorded like one that succeeded, as the old request counter counted them too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from local.ministack import ADMIN_KEY

ADMIN = "admin"
PRESIGNED = " presigned"
_PAGE = 50  # LookupEvents' maximum page; MiniStack has no NextToken, so pages are walked by EndTime
_SDK_AGENTS = ("boto3/", "botocore/", "aws-cli/", "aws-sdk-")


class UnknownCaller(RuntimeError):
    """An event's access key belongs to no known function and is not the administrator's."""


class RecordingGap(RuntimeError):
    """The window's start marker is not in the recording: the ring overflowed or recording is off."""


@dataclass(frozen=True)
class AwsCall:
    caller: str  # a function's logical id, "<logical id> presigned", or ADMIN
    service: str  # "s3", "dynamodb", ...
    operation: str  # CloudTrail's eventName
    key: str | None = None  # the S3 object key, when the request names one


@dataclass(frozen=True)
class Mark:
    """The start of a window: the request id of a marker request, and when it was sent."""

    request_id: str
    at: dt.datetime


def function_access_key(function_arn: str, role_arn: str) -> str:
    """The access key id MiniStack gives a function under AUTH (see the module's docstring)."""
    digest = hashlib.sha256(f"{function_arn}:{role_arn}".encode()).hexdigest()
    return f"ASIA{digest[:16].upper()}"


def is_sdk(user_agent: str) -> bool:
    ua = user_agent.lower()
    return any(ua.startswith(a) or f" {a}" in ua for a in _SDK_AGENTS)


def classify(event: Mapping[str, Any], callers: Mapping[str, str]) -> AwsCall:
    """One LookupEvents event as an AwsCall; `callers` maps access key id -> function logical id."""
    key_id = str(event.get("AccessKeyId", ""))
    detail = json.loads(str(event.get("CloudTrailEvent") or "{}"))
    if key_id == ADMIN_KEY:
        caller = ADMIN
    elif key_id in callers:
        caller = callers[key_id]
        if not is_sdk(str(detail.get("userAgent", ""))):
            caller += PRESIGNED
    else:
        raise UnknownCaller(
            f"access key {key_id!r} ({event.get('EventName')}) is neither the administrator's nor any known "
            f"function's {sorted(callers.values())}: has MiniStack's key derivation changed?"
        )
    service = str(event.get("EventSource", "")).removesuffix(".amazonaws.com")
    obj = next((r.get("ResourceName") for r in event.get("Resources", [])
                if r.get("ResourceType") == "AWS::S3::Object"), None)
    return AwsCall(caller, service, str(event.get("EventName", "")), unquote(obj) if obj else None)


def events_since(cloudtrail: Any, mark: Mark) -> list[dict[str, Any]]:
    """Every recorded event from `mark` (its marker request excluded) to now, oldest first.

    LookupEvents returns at most 50 events, newest first, and MiniStack gives no NextToken: each next page
    asks for events up to the oldest one seen (plus 1 µs, as timestamps are rounded on the way), and
    events seen twice are dropped by id. Stops at the marker; raises RecordingGap if it is not there.
    """
    seen: dict[str, dict[str, Any]] = {}
    start = mark.at - dt.timedelta(seconds=5)  # clock rounding; the marker, not the time, ends the window
    kwargs: dict[str, Any] = {"MaxResults": _PAGE, "StartTime": start}
    while True:
        page: list[dict[str, Any]] = cloudtrail.lookup_events(**kwargs)["Events"]
        fresh = [e for e in page if e["EventId"] not in seen]
        for event in fresh:
            if _request_id(event) == mark.request_id:
                return sorted((e for e in seen.values()), key=lambda e: e["EventTime"])
            seen[event["EventId"]] = event
        if len(page) < _PAGE:
            raise RecordingGap(
                f"the marker request {mark.request_id} is not among {len(seen)} recorded events: "
                "CLOUDTRAIL_MAX_EVENTS too small for this window, or recording is off"
            )
        if not fresh:
            raise RecordingGap(f"more than {_PAGE} events share one microsecond; cannot page past them")
        kwargs["EndTime"] = min(e["EventTime"] for e in page) + dt.timedelta(microseconds=1)


def _request_id(event: Mapping[str, Any]) -> str:
    return str(json.loads(str(event.get("CloudTrailEvent") or "{}")).get("requestID", ""))


class CallRecorder:
    """Counts the AWS calls each function makes, over windows opened with `mark()`."""

    def __init__(self, stack: Any) -> None:
        self.cloudtrail = stack.client("cloudtrail")
        self._s3 = stack.client("s3")
        self._bucket = str(stack.bucket)
        lam = stack.client("lambda")
        self.callers: dict[str, str] = {}
        for logical, name in stack.functions.items():
            config = lam.get_function_configuration(FunctionName=name)
            self.callers[function_access_key(config["FunctionArn"], config["Role"])] = logical
            # A function behind the alias "live" runs as its published version, whose ARN is qualified.
            aliases = lam.list_aliases(FunctionName=name)["Aliases"]
            for alias in aliases:
                live = lam.get_function_configuration(FunctionName=name, Qualifier=alias["Name"])
                self.callers[function_access_key(live["FunctionArn"], live["Role"])] = logical

    def mark(self) -> Mark:
        """Open a window: one recorded request whose id ends the next `calls()` walk."""
        at = dt.datetime.now(dt.UTC)
        resp = self._s3.head_bucket(Bucket=self._bucket)
        return Mark(str(resp["ResponseMetadata"]["RequestId"]), at)

    def calls(self, mark: Mark) -> Counter[AwsCall]:
        """AWS calls since `mark`. Call it once the stack is idle: events are recorded after the reply."""
        return Counter(classify(e, self.callers) for e in events_since(self.cloudtrail, mark))


def by_function(calls: Counter[AwsCall], functions: Iterable[str]) -> dict[str, int]:
    """Calls each function made itself (its presigned URLs, used by others, not counted)."""
    names = set(functions)
    out: dict[str, int] = {}
    for call, n in calls.items():
        if call.caller in names:
            out[call.caller] = out.get(call.caller, 0) + n
    return out


def object_writes(calls: Counter[AwsCall], prefix: str) -> dict[str, int]:
    """PutObject requests per S3 key under `prefix`, by any caller."""
    writes: Counter[str] = Counter()
    for call, n in calls.items():
        if call.service != "s3" or not call.key or not call.key.startswith(prefix):
            continue
        if call.operation == "CreateMultipartUpload":
            raise ValueError(f"{call.key} was written by a multipart upload: its parts and writes cannot "
                             "be told apart in MiniStack's events")
        if call.operation == "PutObject":
            writes[call.key] += n
    return dict(writes)

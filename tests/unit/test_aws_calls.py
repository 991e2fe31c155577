"""benchmarks/aws_calls.py: CloudTrail events from MiniStack attributed to functions, paged without tokens."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from typing import Any

import pytest

from benchmarks import aws_calls
from benchmarks.aws_calls import ADMIN, AwsCall, Mark, RecordingGap, UnknownCaller
from local.ministack import ADMIN_KEY

SUBMIT_ARN = "arn:aws:lambda:us-east-1:000000000000:function:dropswap-local-SubmitFunction-X"
SUBMIT_ROLE = "arn:aws:iam::000000000000:role/dropswap-local-SubmitFunctionRole-Y"
T0 = dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.UTC)


def _event(n: int, key: str = ADMIN_KEY, at: dt.datetime | None = None, agent: str = "Boto3/1.43 md/x",
           name: str = "GetItem", source: str = "dynamodb.amazonaws.com",
           resources: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"EventId": f"e{n}", "EventName": name, "EventSource": source, "AccessKeyId": key,
            "EventTime": at or T0 + dt.timedelta(milliseconds=n), "Resources": resources or [],
            "CloudTrailEvent": json.dumps({"requestID": f"r{n}", "userAgent": agent})}


class FakeCloudTrail:
    """LookupEvents as MiniStack answers it: newest first, at most MaxResults, Start/EndTime inclusive."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events
        self.calls = 0

    def lookup_events(self, MaxResults: int, StartTime: dt.datetime,
                      EndTime: dt.datetime | None = None) -> dict[str, Any]:
        self.calls += 1
        chosen = [e for e in sorted(self.events, key=lambda e: e["EventTime"], reverse=True)
                  if e["EventTime"] >= StartTime and (EndTime is None or e["EventTime"] <= EndTime)]
        return {"Events": chosen[:MaxResults]}


def test_given_a_function_and_its_role_when_deriving_its_key_then_it_is_ministacks_asia_form() -> None:
    key = aws_calls.function_access_key(SUBMIT_ARN, SUBMIT_ROLE)
    assert key.startswith("ASIA") and len(key) == 20 and key[4:] == key[4:].upper()
    assert key != aws_calls.function_access_key(SUBMIT_ARN, SUBMIT_ROLE + "2")


def test_given_events_when_classified_then_admin_function_and_presigned_are_told_apart() -> None:
    key = aws_calls.function_access_key(SUBMIT_ARN, SUBMIT_ROLE)
    callers = {key: "SubmitFunction"}
    s3_object = [{"ResourceName": "bucket", "ResourceType": "AWS::S3::Bucket"},
                 {"ResourceName": "inbox/a%20b.jpg", "ResourceType": "AWS::S3::Object"}]
    assert aws_calls.classify(_event(1), callers) == AwsCall(ADMIN, "dynamodb", "GetItem")
    assert aws_calls.classify(_event(2, key), callers) == AwsCall("SubmitFunction", "dynamodb", "GetItem")
    presigned = _event(3, key, agent="python-requests/2.32", name="GetObject", source="s3.amazonaws.com",
                       resources=s3_object)
    assert aws_calls.classify(presigned, callers) == AwsCall(
        "SubmitFunction presigned", "s3", "GetObject", "inbox/a b.jpg")


def test_given_a_key_of_no_known_function_when_classified_then_it_raises() -> None:
    with pytest.raises(UnknownCaller, match="ASIAUNKNOWN"):
        aws_calls.classify(_event(1, "ASIAUNKNOWN"), {"ASIAKNOWN": "SubmitFunction"})


def test_given_more_events_than_a_page_when_walked_then_all_after_the_marker_come_back_once() -> None:
    # Given 130 events after the marker; 16 share one timestamp across the first page's end (event 82)
    events = [_event(0)]  # before the window
    events.append(_event(1))  # the marker (request id r1)
    same = T0 + dt.timedelta(milliseconds=80)
    events += [_event(n, at=same if 75 <= n <= 90 else None) for n in range(2, 132)]
    trail = FakeCloudTrail(events)
    # When
    got = aws_calls.events_since(trail, Mark("r1", T0))
    # Then every event after the marker, once, oldest first
    want = sorted(events[2:], key=lambda e: e["EventTime"])
    assert sorted(e["EventId"] for e in got) == sorted(e["EventId"] for e in want)
    assert [e["EventTime"] for e in got] == [e["EventTime"] for e in want]
    assert trail.calls >= 3


def test_given_the_marker_is_no_longer_recorded_when_walked_then_it_raises_a_gap() -> None:
    trail = FakeCloudTrail([_event(n) for n in range(2, 20)])
    with pytest.raises(RecordingGap):
        aws_calls.events_since(trail, Mark("r1", T0))


def test_given_puts_and_a_multipart_upload_when_counting_writes_then_multipart_raises() -> None:
    calls = Counter({AwsCall("WebhookFunction", "s3", "PutObject", "results/a.jpg"): 1,
                     AwsCall("WebhookFunction", "s3", "PutObject", "results/b.jpg"): 2,
                     AwsCall("SubmitFunction", "s3", "GetObject", "results/c.jpg"): 1,
                     AwsCall(ADMIN, "s3", "PutObject", "inbox/a.jpg"): 1})
    assert aws_calls.object_writes(calls, "results/") == {"results/a.jpg": 1, "results/b.jpg": 2}
    calls[AwsCall("WebhookFunction", "s3", "CreateMultipartUpload", "results/d.jpg")] = 2
    with pytest.raises(ValueError, match="multipart"):
        aws_calls.object_writes(calls, "results/")

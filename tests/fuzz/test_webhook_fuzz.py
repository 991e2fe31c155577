"""Fuzzing the webhook function (functions/webhook/app.py) with what anyone on the internet can send it.

Arbitrary bodies (text, JSON, near-callbacks, callbacks signed with the right credentials around any
payload), base64 flags, headers, query tokens and job ids, against three jobs in moto: a SUBMITTED one
(the sample events' job), a WAITING one (no token stored yet) and a SUCCEEDED one. Whatever comes in:
- no exception escapes the handler;
- the answer's statusCode is one of the contract's: 200, 400, 401, 404;
- a rejected call (anything but 200) writes nothing: every job item is unchanged and no object appears
  under results/.
AKOOL is faked at the HTTP boundary: listbyids knows none of the ids (so a right token with a wrong
signature learns nothing it could write), and the one result URL that exists serves a JPEG. After an
accepted call the jobs and results/ are put back, so every example starts from the same state.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
import responses
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dropswap.jobs import Status
from dropswap.webhook_crypto import encrypt, signature
from events.generate import AKOOL_ID, JOB_ID, RESULT_URL, TOKEN, api_event
from tests.conftest import BUCKET, REGION, TABLE, TEST_API_KEY, TEST_CLIENT_ID, load_handler
from tests.fuzz.profiles import examples
from tests.unit.test_finalise_support import JPEG, FakeContext, make_job, store

# A call the router does not match (e.g. an empty job id) flushes no metric; Powertools warns each time.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

CONTRACT_CODES = {200, 400, 401, 404}
LIST_URL = "https://openapi.akool.test/api/open/v3/faceswap/result/listbyids"
WAITING_ID = "1" * 32
DONE_ID = "2" * 32
DONE_TOKEN = "done-token-" + "d" * 32


@pytest.fixture
def handler(resources: dict[str, str]) -> Iterator[ModuleType]:
    module = load_handler("webhook")
    make_job()  # SUBMITTED, token TOKEN, AKOOL _id AKOOL_ID
    store().transition(WAITING_ID, Status.WAITING, set_fields={
        "bucket": BUCKET, "image_key": "inbox/w/a.jpg", "sidecar_key": "inbox/w/a.jpg.faceswap.json",
        "sidecar_etag": "e", "waiting_for": "inbox/w/a.jpg"})
    make_job(DONE_ID, akool_id="6593c94c0ef703e8c055e3c9", token=DONE_TOKEN, image_key="inbox/d/done.jpg")
    store().transition(DONE_ID, Status.SUCCEEDED, set_fields={"result_key": "results/d/done.swapped.jpg"})
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(LIST_URL, json={"code": 1000, "msg": "OK", "data": {"result": []}})
        mock.get(RESULT_URL.split("?")[0], body=JPEG, content_type="image/jpeg")
        yield module


class World:
    """The jobs' raw items and results/ as they were, to compare with and to restore."""

    def __init__(self) -> None:
        self.ddb = boto3.client("dynamodb", region_name=REGION)
        self.s3 = boto3.client("s3", region_name=REGION)
        self.items = self.snapshot()

    def snapshot(self) -> dict[str, Any]:
        def item(jid: str) -> Any:
            key = {"job_id": {"S": jid}}
            return self.ddb.get_item(TableName=TABLE, Key=key, ConsistentRead=True).get("Item")

        return {jid: item(jid) for jid in (JOB_ID, WAITING_ID, DONE_ID)}

    def results(self) -> list[str]:
        resp = self.s3.list_objects_v2(Bucket=BUCKET, Prefix="results/")
        return [o["Key"] for o in resp.get("Contents", [])]

    def restore(self) -> None:
        for key in self.results():
            self.s3.delete_object(Bucket=BUCKET, Key=key)
        if self.snapshot() != self.items:
            for item in self.items.values():
                self.ddb.put_item(TableName=TABLE, Item=item)


# -- what a caller can send ---------------------------------------------------------------------------
PAYLOADS = st.one_of(
    st.fixed_dictionaries({
        "_id": st.one_of(st.just(AKOOL_ID), st.text(max_size=30), st.integers(), st.none()),
        "status": st.one_of(st.integers(-1, 6), st.sampled_from(["3", " 2", "x", "", True]), st.none()),
        "type": st.sampled_from(["faceswap", "video", ""]),
        "url": st.one_of(st.just(RESULT_URL), st.sampled_from(["", "http://x.test/a.jpg", "ftp://x/a.jpg",
                                                               "not a url", "https://"]), st.none()),
    }),
    st.dictionaries(st.text(max_size=8), st.one_of(st.text(max_size=8), st.integers()), max_size=4),
    st.text(max_size=40),
)


@st.composite
def signed(draw: st.DrawFn) -> str:
    """A callback signed and encrypted with the real credentials, around any payload, maybe tampered."""
    payload = draw(PAYLOADS)
    ts = draw(st.one_of(st.integers(0, 2**41), st.text(min_size=1, max_size=12)))
    nonce = draw(st.one_of(st.integers(0, 10**6), st.text(min_size=1, max_size=12)))
    data = encrypt(payload, TEST_CLIENT_ID, TEST_API_KEY)  # as build_callback, with any timestamp/nonce
    body: dict[str, Any] = {"signature": signature(TEST_CLIENT_ID, ts, nonce, data), "dataEncrypt": data,
                            "timestamp": ts, "nonce": nonce}
    tamper = draw(st.sampled_from(["none", "none", "signature", "data", "drop", "retype", "truncate"]))
    if tamper == "signature":
        body["signature"] = draw(st.text(max_size=45))
    elif tamper == "data":
        body["dataEncrypt"] = draw(st.text(max_size=60))
    elif tamper == "drop":
        body.pop(draw(st.sampled_from(sorted(body))))
    elif tamper == "retype":
        body[draw(st.sampled_from(sorted(body)))] = draw(st.one_of(st.none(), st.booleans(), st.integers(),
                                                                   st.lists(st.integers(), max_size=2)))
    text = json.dumps(body)
    if tamper == "truncate":
        text = text[: draw(st.integers(0, len(text)))]
    return text


JSON_BODIES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["signature", "dataEncrypt", "timestamp", "nonce", "x"]) | st.text(max_size=6),
        inner, max_size=5),
    max_leaves=12,
).map(json.dumps)
BODIES = st.one_of(st.none(), signed(), JSON_BODIES, st.text(max_size=200),
                   st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
JOB_IDS = st.one_of(
    st.sampled_from([JOB_ID, WAITING_ID, DONE_ID, "", "x" * 200, JOB_ID.upper(), JOB_ID + " "]),
    st.text(max_size=40),
)
TOKENS = st.one_of(
    st.sampled_from([TOKEN, DONE_TOKEN, "", TOKEN + "x", TOKEN[:-1], TOKEN.upper()]), st.none(),
    st.text(max_size=60),
)
HEADERS = st.one_of(st.none(), st.dictionaries(
    st.sampled_from(["Content-Type", "content-type", "Content-Encoding", "Host", "X-Forwarded-Proto"])
    | st.text(min_size=1, max_size=10),
    st.sampled_from(["application/json", "text/plain", "gzip", "application/octet-stream", ""])
    | st.text(max_size=20), max_size=4))


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    job_id = draw(JOB_IDS)
    body = draw(BODIES)
    b64 = draw(st.sampled_from(["no", "no", "encoded", "flag-only", "garbage"]))
    event = api_event(body if body is not None else "", token=draw(TOKENS) or "", job_id=job_id)
    if body is None:
        event["body"] = None
    if b64 == "encoded" and body is not None:
        raw = body.encode("utf-8", "surrogatepass")
        event["body"], event["isBase64Encoded"] = base64.b64encode(raw).decode(), True
    elif b64 == "flag-only":
        event["isBase64Encoded"] = True
    elif b64 == "garbage":
        event["body"], event["isBase64Encoded"] = draw(st.text(max_size=30)), True
    token_shape = draw(st.sampled_from(["single", "none", "multi", "extra"]))
    token = event["queryStringParameters"]["token"]
    if token_shape == "none":
        event["queryStringParameters"] = event["multiValueQueryStringParameters"] = None
    elif token_shape == "multi":
        other = draw(TOKENS) or ""
        event["queryStringParameters"] = {"token": other}
        event["multiValueQueryStringParameters"] = {"token": [token, other]}
    elif token_shape == "extra":
        extra = draw(st.dictionaries(st.text(min_size=1, max_size=6), st.text(max_size=10), max_size=3))
        event["queryStringParameters"] = {**extra, "token": token}
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in event["queryStringParameters"].items()}
    headers = draw(HEADERS)
    if headers is not None or draw(st.booleans()):
        event["headers"] = headers
        event["multiValueHeaders"] = {k: [v] for k, v in headers.items()} if headers else None
    return event


def test_given_any_request_then_a_contract_answer_and_nothing_written_unless_accepted(
    handler: ModuleType,
) -> None:
    world = World()

    @settings(max_examples=examples(1.5))
    @given(event=events())
    @example(event=api_event('{"signature":"a","dataEncrypt":"b","timestamp":1,"nonce":1}',
                             job_id=WAITING_ID))
    @example(event={**api_event("{}"), "isBase64Encoded": True, "body": "%%%"})
    def check(event: dict[str, Any]) -> None:
        try:
            reply = handler.lambda_handler(event, FakeContext())
            assert isinstance(reply, dict), reply
            assert reply.get("statusCode") in CONTRACT_CODES, reply
            json.loads(reply.get("body") or "{}")
            if reply["statusCode"] != 200:
                assert world.snapshot() == world.items, f"rejected ({reply['statusCode']}) but a job changed"
                assert world.results() == [], "rejected but something was written under results/"
        finally:
            world.restore()

    check()

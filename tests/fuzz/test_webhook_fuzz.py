"""Fuzzing the webhook function (functions/webhook/app.py) with what anyone on the internet can send it.

Arbitrary bodies (text, JSON, nesting thousands of levels deep under 64 KiB, near-callbacks, callbacks
signed with the right credentials around any payload, nested ones included), base64 flags, headers, query
tokens and job ids, against three jobs in moto: a SUBMITTED one (the sample events' job), a WAITING one (no
token stored yet) and a SUCCEEDED one. Whatever comes in:
- no exception escapes the handler;
- the answer's statusCode is one of the contract's: 200, 400, 401 (404 only from the router, for a path
  that names no job at all);
- a wrong token gets exactly the answer an unknown job gets (no existence oracle);
- a rejected call (anything but 200) writes nothing: every job item is unchanged and no object appears
  under results/.
The parsers underneath (untrusted_json, parse_callback, decrypt) are fuzzed on their own as well, with
more examples: they raise nothing but their own documented error, and the nesting bound counts brackets
inside strings correctly.
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

from devkit.credentials import TEST_API_KEY, TEST_CLIENT_ID
from dropswap.domain import untrusted_json
from dropswap.domain.jobs import Status
from dropswap.domain.webhook_crypto import WebhookCryptoError, decrypt, encrypt, signature
from dropswap.flows.webhook import MAX_BODY_BYTES, parse_callback
from events.generate import AKOOL_ID, JOB_ID, RESULT_URL, TOKEN, api_event
from tests.conftest import BUCKET, REGION, TABLE, load_handler
from tests.fuzz.profiles import examples
from tests.unit.test_finalise_support import JPEG, FakeContext, make_job, store

# A call the router does not match (e.g. an empty job id) flushes no metric; Powertools warns each time.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

CONTRACT_CODES = {200, 400, 401}
ROUTER_NOT_FOUND = {"statusCode": 404, "message": "Not found"}
UNKNOWN_ID = "9" * 32  # a well-formed job id no job has
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
@st.composite
def nested_text(draw: st.DrawFn, max_chars: int = 40_000) -> str:
    """JSON (or nearly) nested up to thousands of levels: lists, objects, callback-like keys, mixed."""
    openers = draw(st.lists(st.sampled_from(['[', '{"a":', '{"signature":', '{"_id":', '{"status":',
                                              '[1,', '{"x":"]}[{\\"",']), min_size=1, max_size=3))
    depth = draw(st.integers(1, 20_000))
    levels = [openers[i % len(openers)] for i in range(depth)]
    while sum(map(len, levels)) * 2 > max_chars:
        levels = levels[: len(levels) // 2]
    closers = ["]" if o.startswith("[") else "}" for o in reversed(levels)]
    core = draw(st.sampled_from(["1", '"x"', "null", "{}", "[]", ""]))
    text = "".join(levels) + core + "".join(closers)
    return text[: draw(st.integers(0, len(text)))] if draw(st.booleans()) and draw(st.booleans()) else text


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
    nested_text(max_chars=40_000),  # encrypted: base64 of it stays under the 64 KiB body cap
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
BODIES = st.one_of(st.none(), signed(), JSON_BODIES, nested_text(max_chars=MAX_BODY_BYTES - 100),
                   st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
JOB_IDS = st.one_of(
    st.sampled_from([JOB_ID, WAITING_ID, DONE_ID, "", "x" * 200, JOB_ID.upper(), JOB_ID + " "]),
    st.text(max_size=40),
    nested_text(max_chars=40_000),  # encrypted: base64 of it stays under the 64 KiB body cap
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
            answer = json.loads(reply.get("body") or "{}")
            job_id = (event.get("pathParameters") or {}).get("job_id")
            if reply.get("statusCode") == 404:  # the router's: no route for this path, not the handler's
                assert {"statusCode": 404, **answer} == ROUTER_NOT_FOUND, reply
                assert job_id not in (JOB_ID, WAITING_ID, DONE_ID), reply
            else:
                assert reply.get("statusCode") in CONTRACT_CODES, reply
            token = (event.get("queryStringParameters") or {}).get("token")
            if job_id in (JOB_ID, WAITING_ID, DONE_ID) and token not in (TOKEN, DONE_TOKEN):
                # A wrong token: the very answer an unknown job gets
                unknown = {**event, "path": event["path"].replace(job_id, UNKNOWN_ID),
                           "pathParameters": {"job_id": UNKNOWN_ID}}
                assert handler.lambda_handler(unknown, FakeContext()) == reply
            if reply["statusCode"] != 200:
                assert world.snapshot() == world.items, f"rejected ({reply['statusCode']}) but a job changed"
                assert world.results() == [], "rejected but something was written under results/"
        finally:
            world.restore()

    check()


# -- the parsers on their own ---------------------------------------------------------------------------
def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


@settings(max_examples=examples(3))
@given(text=st.one_of(nested_text(max_chars=MAX_BODY_BYTES + 1000), JSON_BODIES, st.text(max_size=300)),
       as_bytes=st.booleans())
def test_given_any_text_then_load_object_returns_a_shallow_object_or_its_own_error(
    text: str, as_bytes: bool
) -> None:
    # Given any text (deeply nested JSON included), as str or UTF-8 bytes
    raw: bytes | str = text.encode("utf-8", "surrogatepass") if as_bytes else text
    # When loaded, Then a JSON object within the depth bound, or UntrustedJsonError and nothing else
    try:
        value = untrusted_json.load_object(raw, max_bytes=MAX_BODY_BYTES)
    except untrusted_json.UntrustedJsonError:
        return
    assert isinstance(value, dict) and _depth(value) <= untrusted_json.MAX_DEPTH
    json.dumps(value, ensure_ascii=False).encode("utf-8")  # every string encodable


@settings(max_examples=examples(3))
@given(leaf=st.text(max_size=20), wrappers=st.lists(st.sampled_from(["list", "dict"]), min_size=1,
                                                      max_size=untrusted_json.MAX_DEPTH + 3),
       ensure_ascii=st.booleans())
def test_given_nested_object_then_accepted_exactly_when_within_the_depth_bound(
    leaf: str, wrappers: list[str], ensure_ascii: bool
) -> None:
    # Given a JSON object nested len(wrappers) deep around a string that may hold brackets, quotes and
    # backslashes (which the nesting scan must not count)
    value: Any = leaf + '"[{\\'
    for kind in wrappers[:-1]:
        value = [value] if kind == "list" else {"k[": value}
    value = {"{": value}
    text = json.dumps(value, ensure_ascii=ensure_ascii)
    # When loaded, Then accepted (and equal) exactly when it is no deeper than MAX_DEPTH
    if len(wrappers) <= untrusted_json.MAX_DEPTH:
        assert untrusted_json.load_object(text, max_bytes=MAX_BODY_BYTES) == value
    else:
        with pytest.raises(untrusted_json.UntrustedJsonError):
            untrusted_json.load_object(text, max_bytes=MAX_BODY_BYTES)


@settings(max_examples=examples(3))
@given(body=BODIES, is_base64=st.booleans())
def test_given_any_body_then_parse_callback_never_raises(body: str | None, is_base64: bool) -> None:
    # Given any body, When parsed, Then a Callback or None (→ 400), never an exception
    if body is not None and is_base64:
        body = base64.b64encode(body.encode("utf-8", "surrogatepass")).decode()
    cb = parse_callback(body, is_base64=is_base64)
    if cb is not None:
        # And what it returns can be signed over without an encoding error
        signature(TEST_CLIENT_ID, cb.timestamp, cb.nonce, cb.data_encrypt)


@settings(max_examples=examples(2))
@given(payload=PAYLOADS, tamper=st.sampled_from(["none", "flip", "text"]), text=st.text(max_size=80))
def test_given_any_payload_then_decrypt_returns_an_object_or_its_own_error(
    payload: Any, tamper: str, text: str
) -> None:
    # Given any payload encrypted with our credentials (maybe altered), or any text as dataEncrypt
    data = encrypt(payload, TEST_CLIENT_ID, TEST_API_KEY)
    if tamper == "flip":
        raw = bytearray(base64.b64decode(data))
        raw[len(raw) // 2] ^= 0x55
        data = base64.b64encode(bytes(raw)).decode()
    elif tamper == "text":
        data = text
    # When decrypted, Then a shallow JSON object, or WebhookCryptoError and nothing else
    try:
        value = decrypt(data, TEST_CLIENT_ID, TEST_API_KEY)
    except WebhookCryptoError:
        return
    assert isinstance(value, dict) and _depth(value) <= untrusted_json.MAX_DEPTH

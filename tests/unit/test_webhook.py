"""WebhookFunction: AKOOL callbacks are verified in order, enqueued, and answered as AKOOL needs; what they
enqueue is finalised once (FinaliseFunction, driven here as the FinaliseQueue's event source would)."""

from __future__ import annotations

import base64
import json
import time
from types import ModuleType
from typing import Any

import boto3
import pytest
import responses

from devkit.credentials import TEST_API_KEY, TEST_CLIENT_ID
from dropswap.adapters.queues import SqsQueue
from dropswap.adapters.slot_store import SlotStore
from dropswap.domain.jobs import Status
from dropswap.domain.redelivery import RetryLater
from dropswap.domain.tokens import hash_token
from dropswap.domain.webhook_crypto import build_callback, encrypt, signature
from dropswap.flows.finalise import finalise_message
from dropswap.flows.webhook import WebhookService, parse_callback
from events.generate import AKOOL_ID, IMAGE_KEY, JOB_ID, RESULT_URL, TOKEN, api_event, callback_body, render
from events.generate import build_events as generate_events
from tests.conftest import BUCKET, EVENTS, REGION, TABLE, load_event, load_handler
from tests.unit.queue_support import depth, drain, receive
from tests.unit.test_finalise_support import (
    JPEG,
    REPORT_KEY,
    RESULT_KEY,
    FakeAkool,
    FakeContext,
    finaliser,
    get_job,
    make_job,
    s3_bytes,
    s3_json,
    s3_keys,
    store,
)
from tests.unit.test_webhook_crypto import DOC_DATA, DOC_SIGNATURE

LIST_URL = "https://openapi.akool.test/api/open/v3/faceswap/result/listbyids"
RESULT_BASE = RESULT_URL.split("?")[0]


def _listbyids(rsps: responses.RequestsMock, status: int | None, url: str | None = RESULT_URL) -> None:
    """AKOOL's listbyids answering for AKOOL_ID (status None: AKOOL does not know the id)."""
    result = [] if status is None else [{"_id": AKOOL_ID, "faceswap_status": status, "url": url}]
    rsps.get(LIST_URL, json={"code": 1000, "msg": "OK", "data": {"result": result}})


def _invoke(handler: ModuleType, event: dict[str, Any], *, finalise: bool = True) -> dict[str, Any]:
    """The webhook's reply; then (unless `finalise` is False) FinaliseFunction runs what it enqueued."""
    reply: dict[str, Any] = handler.lambda_handler(event, FakeContext())
    if finalise:
        _finalise()
    return reply


def _finalise() -> int:
    return drain(load_handler("finalise"), _finalise_queue(), FakeContext())


def _finalise_queue() -> str:
    import os

    return os.environ["FINALISE_QUEUE_URL"]


def _snapshot() -> tuple[Any, ...]:
    job = get_job()
    return job.status, job.updated_at, job.akool_status, tuple(sorted(job.extra)), tuple(s3_keys())


@pytest.fixture
def handler(resources) -> ModuleType:
    return load_handler("webhook")


@pytest.fixture
def rsps() -> Any:
    # Every HTTP call the webhook makes must be one the test expects (unexpected ones fail loudly).
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(RESULT_BASE, body=JPEG, content_type="image/jpeg")
        yield mock


def _metric(stdout: str, name: str) -> list[float]:
    """The values of metric `name` in the EMF blobs Powertools printed."""
    values: list[float] = []
    for line in stdout.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            values.extend(json.loads(line).get(name, []))
    return values


def _result_downloads(mock: responses.RequestsMock) -> int:
    return sum(1 for c in mock.calls if c.request.url and c.request.url.startswith(RESULT_BASE))


# -- events/ samples ---------------------------------------------------------------------------------
def test_given_generator_then_events_on_disk_are_current() -> None:
    # Given the committed events/ samples, When regenerated, Then byte-identical (reproducible)
    for name, event in generate_events().items():
        on_disk = (EVENTS / name).read_text(encoding="utf-8")
        assert on_disk == render(event), f"events/{name} is stale: run python -m events.generate"


def test_given_status_3_event_then_result_and_report_stored_and_succeeded(handler, rsps, capsys) -> None:
    # Given a SUBMITTED job and AKOOL's signed, encrypted status-3 callback (events/)
    make_job()
    # When the webhook function receives it
    reply = _invoke(handler, load_event("apigw-webhook-status3.json"))
    # Then 200 (answered before the download: the job was still SUBMITTED), and once finalised the
    # result and the report are stored, and the job SUCCEEDED
    assert reply["statusCode"] == 200
    assert json.loads(reply["body"]) == {"ok": True, "job_id": JOB_ID, "status": "SUBMITTED"}
    assert s3_bytes(RESULT_KEY) == JPEG and s3_json(REPORT_KEY)["status"] == "SUCCEEDED"
    job = get_job()
    assert job.status is Status.SUCCEEDED and job.result_key == RESULT_KEY
    # And the metrics are emitted, while the logs hold no token, secret or signed-URL query string
    out = capsys.readouterr().out
    assert "WebhooksAccepted" in out and "JobsSucceeded" in out
    for secret in (TOKEN, TEST_API_KEY, "Signature=", "Expires="):
        assert secret not in out


def test_given_status_3_callback_then_answered_without_downloading_and_akool_word_enqueued(
    handler, rsps
) -> None:
    # Given a SUBMITTED job holding an AKOOL slot
    make_job()
    slots = SlotStore(boto3.client("dynamodb", region_name=REGION), TABLE)
    assert slots.take(JOB_ID, 4)
    # When AKOOL's status-3 callback arrives (and nothing consumes the FinaliseQueue yet)
    reply = _invoke(handler, load_event("apigw-webhook-status3.json"), finalise=False)
    # Then 200 at once: nothing downloaded or stored, the job untouched but its slot given back, and
    # AKOOL's word waits on the FinaliseQueue
    assert reply["statusCode"] == 200 and _result_downloads(rsps) == 0 and s3_keys() == []
    assert get_job().status is Status.SUBMITTED and slots.holders() == frozenset()
    [record] = receive(_finalise_queue())["Records"]
    message = json.loads(record["body"])
    assert message["job_id"] == JOB_ID and message["akool"]["status"] == 3
    assert message["akool"]["url"] == RESULT_URL


def test_given_same_callback_5_times_then_stored_once_and_200_each_time(handler, rsps) -> None:
    # Given a SUBMITTED job
    make_job()
    event = load_event("apigw-webhook-status3.json")
    # When AKOOL delivers the same status-3 callback five times
    replies = [_invoke(handler, event)["statusCode"] for _ in range(5)]
    # Then every delivery gets 200 and the result was downloaded and stored once
    assert replies == [200] * 5
    assert _result_downloads(rsps) == 1
    assert get_job().status is Status.SUCCEEDED and s3_keys() == sorted([RESULT_KEY, REPORT_KEY])


def test_given_status_2_event_then_processing(handler, rsps) -> None:
    make_job()
    reply = _invoke(handler, load_event("apigw-webhook-status2.json"))
    assert reply["statusCode"] == 200
    job = get_job()
    assert job.status is Status.PROCESSING and job.akool_status == 2


def test_given_status_2_after_3_then_200_and_nothing_changes(handler, rsps) -> None:
    # Given a job finalised by the status-3 callback
    make_job()
    assert _invoke(handler, load_event("apigw-webhook-status3.json"))["statusCode"] == 200
    before = _snapshot()
    # When the status-2 callback arrives late
    reply = _invoke(handler, load_event("apigw-webhook-status2.json"))
    # Then it is answered 200 (authentic) and changes nothing
    assert reply["statusCode"] == 200 and json.loads(reply["body"])["status"] == "SUCCEEDED"
    assert _snapshot() == before


def test_given_base64_status_4_event_then_failed_with_report(handler, rsps, capsys) -> None:
    # Given a PROCESSING job and a base64-encoded status-4 callback
    make_job(status=Status.PROCESSING)
    event = load_event("apigw-webhook-status4.json")
    assert event["isBase64Encoded"] is True
    # When received
    reply = _invoke(handler, event)
    # Then 200; the job FAILED with AKOOL_FAILED and a report; nothing downloaded
    assert reply["statusCode"] == 200
    job = get_job()
    assert job.status is Status.FAILED and job.error and job.error["code"] == "AKOOL_FAILED"
    assert s3_json(REPORT_KEY)["status"] == "FAILED" and _result_downloads(rsps) == 0
    assert "JobsFailed" in capsys.readouterr().out


def test_given_forged_token_then_401_and_nothing_changes(handler, rsps, capsys) -> None:
    # Given a SUBMITTED job and a genuine body posted with the wrong token
    make_job()
    before = _snapshot()
    # When received
    reply = _invoke(handler, load_event("apigw-webhook-bad-token.json"))
    # Then 401, no AKOOL call, no download, nothing written
    assert reply["statusCode"] == 401 and len(rsps.calls) == 0
    assert _snapshot() == before and depth(_finalise_queue()) == 0
    assert "WebhooksRejected" in capsys.readouterr().out


def test_given_unknown_job_then_the_bad_token_answer_and_nothing_written(handler, rsps) -> None:
    # Given no job with the event's id, and (for comparison) a job answering a wrong token
    other = "3" * 32
    make_job(other, image_key="inbox/other/b.jpg")
    bad_token = _invoke(handler, api_event(_body(2), token="not-the-token", job_id=other))
    # When an authentic-looking callback arrives for the unknown job, and one with a malformed body
    replies = [_invoke(handler, load_event("apigw-webhook-status3.json")),
               _invoke(handler, api_event("not json")),
               _invoke(handler, api_event(_body(2), job_id="x" * 500))]
    # Then each gets exactly the bad-token answer (status, headers and body: no existence oracle), no
    # AKOOL call is made and nothing is created
    for reply in replies:
        assert reply == bad_token
    assert bad_token["statusCode"] == 401 and len(rsps.calls) == 0
    assert store().get(JOB_ID) is None and s3_keys() == []


def test_given_tampered_data_and_akool_unaware_then_401_and_nothing_changes(handler, rsps) -> None:
    # Given a job, a status-3 callback whose dataEncrypt was altered, and AKOOL not (yet) listing the job
    make_job()
    _listbyids(rsps, None)
    before = _snapshot()
    # When received
    reply = _invoke(handler, load_event("apigw-webhook-tampered.json"))
    # Then 401; AKOOL was asked instead of trusting the body; nothing changed
    assert reply["statusCode"] == 401
    assert [str(c.request.url).split("?")[0] for c in rsps.calls] == [LIST_URL]
    assert _snapshot() == before


def test_given_wrong_signature_with_valid_token_then_200_from_akool_word_and_counted_unverified(
    handler, rsps, capsys
) -> None:
    # Given a job, a callback with a wrong signature claiming status 3 with a URL of its own, and AKOOL
    # saying (listbyids) the job is done with its result at RESULT_URL
    make_job()
    forged_url = "https://forged.example.test/evil.jpg"
    body = json.loads(_body(3, url=forged_url))
    body["signature"] = "0" * 40
    _listbyids(rsps, 3)
    # When received
    reply = _invoke(handler, api_event(json.dumps(body)))
    # Then 200 (AKOOL confirmed a state, so it may stop retrying), the job finalised from AKOOL's own
    # answer, never from the body's URL, and the call counted as WebhookUnverified
    assert reply["statusCode"] == 200
    assert get_job().status is Status.SUCCEEDED and s3_bytes(RESULT_KEY) == JPEG
    assert s3_json(REPORT_KEY)["akool"]["source"] == "listbyids"
    assert not any("forged.example.test" in str(c.request.url) for c in rsps.calls)
    assert _metric(capsys.readouterr().out, "WebhookUnverified") == [1.0]


def test_given_wrong_signature_and_akool_still_processing_then_200_and_processing(handler, rsps) -> None:
    # Given a status-3 callback with a reversed signature while AKOOL says the job is processing
    make_job()
    event = load_event("apigw-webhook-status3.json")
    body = json.loads(event["body"])
    body["signature"] = body["signature"][::-1]
    event["body"] = json.dumps(body)
    _listbyids(rsps, 2)
    # When received, Then 200 on AKOOL's word, and the job only as far as AKOOL says: PROCESSING
    assert _invoke(handler, event)["statusCode"] == 200
    assert get_job().status is Status.PROCESSING and _result_downloads(rsps) == 0


def test_given_akool_docs_sample_webhook_then_rejected(handler, rsps) -> None:
    # Given the sample callback from AKOOL's docs (docs/akool.md §5), posted with a valid token
    make_job()
    _listbyids(rsps, None)
    before = _snapshot()
    sample = {
        "signature": DOC_SIGNATURE, "dataEncrypt": DOC_DATA, "timestamp": 1710757981609, "nonce": "1529"
    }
    # When received, Then it does not verify: 401 and nothing changes
    assert _invoke(handler, api_event(json.dumps(sample)))["statusCode"] == 401
    assert _snapshot() == before


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        json.dumps({"signature": "a" * 40, "dataEncrypt": "abc", "timestamp": 1}),  # no nonce
        json.dumps({"signature": "a" * 40, "dataEncrypt": "abc", "timestamp": True, "nonce": "1"}),
        json.dumps({"signature": 5, "dataEncrypt": "abc", "timestamp": 1, "nonce": "1"}),
        "",
    ],
    ids=["not-json", "array", "missing-nonce", "bool-timestamp", "numeric-signature", "empty"],
)
def test_given_malformed_body_with_valid_token_then_400_and_nothing_changes(handler, rsps, body: str) -> None:
    make_job()
    before = _snapshot()
    assert _invoke(handler, api_event(body))["statusCode"] == 400
    assert _snapshot() == before and len(rsps.calls) == 0


def test_given_invalid_base64_body_then_400(handler, rsps) -> None:
    make_job()
    event = api_event("x")
    event.update(body="%%% not base64 %%%", isBase64Encoded=True)
    assert _invoke(handler, event)["statusCode"] == 400


def test_given_authentic_callback_for_another_akool_id_then_listbyids_used(handler, rsps) -> None:
    # Given a correctly signed callback whose _id is not the job's
    make_job()
    _listbyids(rsps, 2)
    event = api_event(callback_body(3, nonce="9", url=RESULT_URL, akool_id="ffffffffffffffffffffffff"))
    # When received, Then the body is not trusted: 200 on AKOOL's word, and the job moved only as far as
    # AKOOL itself says
    assert _invoke(handler, event)["statusCode"] == 200
    assert get_job().status is Status.PROCESSING and _result_downloads(rsps) == 0


def test_given_numeric_nonce_and_string_timestamp_then_accepted(handler, rsps) -> None:
    # Given AKOOL's documented variants: nonce as a number, timestamp as a string
    make_job()
    payload = {"_id": AKOOL_ID, "status": 2, "type": "faceswap"}
    body = build_callback(payload, TEST_CLIENT_ID, TEST_API_KEY, timestamp=1710757981609, nonce="77")
    body.update(nonce=77, timestamp="1710757981609")
    assert _invoke(handler, api_event(json.dumps(body)))["statusCode"] == 200
    assert get_job().status is Status.PROCESSING


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_given_wrong_method_or_path_then_not_handled(handler) -> None:
    event = load_event("apigw-webhook-status2.json")
    event["httpMethod"] = "GET"
    assert _invoke(handler, event)["statusCode"] in (404, 405)


# -- logic-level cases -------------------------------------------------------------------------------
def _service(akool: FakeAkool) -> WebhookService:
    from dropswap.domain.akool import AkoolCredentials

    creds = AkoolCredentials(client_id=TEST_CLIENT_ID, api_key=TEST_API_KEY)
    queue = SqsQueue(boto3.client("sqs", region_name=REGION), _finalise_queue())
    slots = SlotStore(boto3.client("dynamodb", region_name=REGION), TABLE)
    return WebhookService(store(), queue, slots, credentials=lambda: creds, akool=lambda _c: akool)


def _body(status: int, **kw: Any) -> str:
    return callback_body(status, nonce="5", **kw)


def test_given_bad_signature_and_akool_unreachable_then_401_and_nothing_changes(resources) -> None:
    # Given a valid token, a broken signature and AKOOL's listbyids failing
    make_job()
    akool = FakeAkool(fail=True)
    body = json.loads(_body(2))
    body["signature"] = "f" * 40
    before = _snapshot()
    # When handled, Then 401 (AKOOL could not confirm; no 5xx), flagged unverified; AKOOL was tried;
    # nothing changed
    reply = _service(akool).handle(JOB_ID, TOKEN, json.dumps(body), is_base64=False)
    assert reply.status_code == 401 and reply.reason == "bad_signature" and akool.calls == [[AKOOL_ID]]
    assert reply.unverified
    assert _snapshot() == before


def test_given_terminal_job_and_bad_signature_then_200_unverified_without_asking_akool(resources) -> None:
    # Given a FAILED job and a callback whose ciphertext was replaced
    make_job()
    store().transition(JOB_ID, Status.FAILED, set_fields={"error": {"code": "X", "message": "m"}})
    akool = FakeAkool(jobs={AKOOL_ID: (3, RESULT_URL)})
    body = json.loads(_body(3, url=RESULT_URL))
    body["dataEncrypt"] = base64.b64encode(b"0" * 32).decode()
    # When handled
    reply = _service(akool).handle(JOB_ID, TOKEN, json.dumps(body), is_base64=False)
    # Then 200 (nothing can change a terminal job, so the retries may stop), flagged unverified, no AKOOL
    # request, nothing queued
    assert reply.status_code == 200 and reply.unverified and reply.queued is None and akool.calls == []
    assert depth(_finalise_queue()) == 0 and get_job().status is Status.FAILED


def test_given_callback_before_submit_recorded_then_401_not_submitted_yet_and_nothing_written(
    resources,
) -> None:
    # Given a job still WAITING whose token is not armed (no swap was sent with it yet)
    store().transition(JOB_ID, Status.WAITING)
    # When an authentic callback comes (an older attempt's, say)
    reply = _service(FakeAkool()).handle(JOB_ID, TOKEN, _body(2), is_base64=False)
    # Then it is refused (AKOOL retries), labelled for what it is, and nothing is written
    assert reply.status_code == 401 and reply.reason == "not_submitted_yet"
    assert get_job().status is Status.WAITING


def _armed_job(lease_seconds: int = 300) -> str:
    """A job as the submitter leaves it right before sending the swap: WAITING under its claim, its
    token's hash armed, no AKOOL `_id` yet. The claim's owner."""
    s = store()
    s.claim(JOB_ID, "submitter-1", lease_seconds, create_fields={"bucket": BUCKET, "image_key": IMAGE_KEY})
    res = s.transition(
        JOB_ID, Status.WAITING, set_fields={"token_hash": hash_token(TOKEN)}, expect_owner="submitter-1"
    )
    assert res.applied
    return "submitter-1"


def test_given_armed_job_when_authentic_callback_outruns_submitted_then_queued_and_finalised_once_recorded(
    resources, rsps,
) -> None:
    # Given a job whose swap AKOOL accepted (holding the one AKOOL slot), its SUBMITTED write not done yet
    owner = _armed_job()
    slots = SlotStore(boto3.client("dynamodb", region_name=REGION), TABLE)
    assert slots.take(JOB_ID, 1)
    # When AKOOL's status-3 callback comes first
    reply = _service(FakeAkool()).handle(JOB_ID, TOKEN, _body(3, url=RESULT_URL), is_base64=False)
    # Then it is accepted (200, "early"), its word queued with its AKOOL _id, and the slot still held (its
    # _id is not checked yet: an older attempt's callback must not free this attempt's slot)
    assert reply.status_code == 200 and reply.reason == "early" and not reply.unverified
    assert not slots.take("another-job", 1)
    assert reply.queued is not None and reply.queued.akool_id == AKOOL_ID
    body = receive(_finalise_queue())["Records"][0]["body"]
    # And the finaliser waits for the record while the submitter holds the claim (the message comes back)
    with pytest.raises(RetryLater):
        finalise_message(store(), finaliser()[0], body)
    assert get_job().status is Status.WAITING and s3_keys() == []
    # When the submitter records SUBMITTED, Then the message finalises the job
    store().transition(
        JOB_ID, Status.SUBMITTED, set_fields={"akool_id": AKOOL_ID, "token_hash": hash_token(TOKEN)},
        expect_owner=owner,
    )
    outcome = finalise_message(store(), finaliser()[0], body)
    assert outcome is not None and get_job().status is Status.SUCCEEDED


def test_given_early_callback_for_another_akool_job_then_finaliser_drops_it_once_recorded(resources) -> None:
    # Given an armed job, and an authentic callback naming another AKOOL job than the one recorded next
    owner = _armed_job()
    reply = _service(FakeAkool()).handle(
        JOB_ID, TOKEN, _body(3, url=RESULT_URL, akool_id="f" * 24), is_base64=False
    )
    assert reply.status_code == 200 and reply.reason == "early"
    body = receive(_finalise_queue())["Records"][0]["body"]
    store().transition(JOB_ID, Status.SUBMITTED, set_fields={"akool_id": AKOOL_ID}, expect_owner=owner)
    # When the finaliser gets it, Then it is dropped (the `_id` check, deferred) and the job stays open
    assert finalise_message(store(), finaliser()[0], body) is None
    assert get_job().status is Status.SUBMITTED


def test_given_early_callback_whose_submitter_is_gone_then_dropped_not_retried(resources) -> None:
    # Given an armed job whose claim has lapsed (its submitter crashed before recording SUBMITTED)
    _armed_job()
    reply = _service(FakeAkool()).handle(JOB_ID, TOKEN, _body(3, url=RESULT_URL), is_base64=False)
    body = receive(_finalise_queue())["Records"][0]["body"]
    later = time.time() + 301
    # When the finaliser gets it after the lease, Then it is dropped (no one will record the _id; the
    # reconciler and the submit retry own the job), not retried toward the dead-letter queue
    assert reply.status_code == 200
    assert finalise_message(store(), finaliser()[0], body, clock=lambda: later) is None
    assert get_job().status is Status.WAITING


def test_given_armed_job_and_bad_signature_then_401_without_asking_akool(resources) -> None:
    # Given an armed job (no AKOOL _id to ask about) and a callback with a broken signature
    _armed_job()
    akool = FakeAkool(jobs={AKOOL_ID: (3, RESULT_URL)})
    body = json.loads(_body(3, url=RESULT_URL))
    body["signature"] = "f" * 40
    # When handled, Then 401 unverified, nothing queued, AKOOL not asked
    reply = _service(akool).handle(JOB_ID, TOKEN, json.dumps(body), is_base64=False)
    assert reply.status_code == 401 and reply.unverified and akool.calls == []
    assert depth(_finalise_queue()) == 0


def test_given_no_token_or_overlong_job_id_then_rejected(resources) -> None:
    make_job()
    service = _service(FakeAkool())
    assert service.handle(JOB_ID, None, _body(2), is_base64=False).status_code == 401
    assert service.handle("x" * 500, TOKEN, _body(2), is_base64=False).status_code == 401


def test_given_duplicate_authentic_callback_then_reason_says_duplicate(resources) -> None:
    make_job()
    service = _service(FakeAkool())
    first = service.handle(JOB_ID, TOKEN, _body(4), is_base64=False)
    assert first.queued is not None and first.queued.status == 4 and first.reason == "accepted"
    assert _finalise() == 1 and get_job().status is Status.FAILED
    again = service.handle(JOB_ID, TOKEN, _body(4), is_base64=False)
    assert again.status_code == 200 and again.reason == "duplicate_or_late" and again.queued is None


def test_given_callback_fields_then_parsed_with_original_types() -> None:
    text = json.dumps({"signature": "s", "dataEncrypt": "d", "timestamp": 1, "nonce": 2})
    cb = parse_callback(text, is_base64=False)
    assert cb is not None and cb.timestamp == 1 and cb.nonce == 2
    assert parse_callback("x" * 70_000, is_base64=False) is None


# -- hostile shapes: every answer is 200, 400 or 401, never an exception ------------------------------
def _nested(depth: int, opener: str = "[", closer: str = "]", core: str = "1") -> str:
    return opener * depth + core + closer * depth


HOSTILE_BODIES = {
    "lists-10000-deep": _nested(10_000),
    "objects-10000-deep": _nested(10_000, '{"a":', "}"),
    "nested-in-signature": '{"signature":' + _nested(10_000) + ',"dataEncrypt":"x","timestamp":1,"nonce":1}',
    "nested-in-unknown-field": '{"x":' + _nested(5_000, '{"y":', "}") + "}",
    "unclosed-20000": "[" * 20_000,
    "lone-surrogate-data": json.dumps({"signature": "a" * 40, "dataEncrypt": "\ud800", "timestamp": 1,
                                       "nonce": "1"}),
    "lone-surrogate-nonce": json.dumps({"signature": "a" * 40, "dataEncrypt": "QUJD", "timestamp": 1,
                                        "nonce": "\udfff"}),
    "lone-surrogate-key": '{"\\ud800": 1, "signature": "a", "dataEncrypt": "b", "timestamp": 1, "nonce": 1}',
    "huge-integer": '{"signature":"a","dataEncrypt":"b","timestamp":' + "9" * 5000 + ',"nonce":1}',
    "float-timestamp": '{"signature":"a","dataEncrypt":"b","timestamp":1e999,"nonce":1}',
    "string-in-array": json.dumps([{"signature": "a", "dataEncrypt": "b", "timestamp": 1, "nonce": 1}]),
    "object-fields": json.dumps({"signature": {}, "dataEncrypt": [], "timestamp": {}, "nonce": []}),
}


def test_given_hostile_bodies_with_valid_token_then_400_and_nothing_changes(handler, rsps, capsys) -> None:
    # Given a job, and bodies under 64 KiB that are deeply nested, hold a lone surrogate, a huge number or
    # fields of the wrong JSON type, each posted raw and base64-encoded with the job's right token
    make_job()
    before = _snapshot()
    for name, body in HOSTILE_BODIES.items():
        assert len(body.encode("utf-8")) < 64 * 1024, name
        for is_base64 in (False, True):
            # When received
            reply = _invoke(handler, api_event(body, base64_body=is_base64), finalise=False)
            # Then 400 (a malformed body, never a 5xx or an exception) and the call counted as unverified
            # (the right token came with a body that is no callback)
            assert reply["statusCode"] == 400, (name, is_base64, reply)
            assert _metric(capsys.readouterr().out, "WebhookUnverified") == [1.0], name
    # And no AKOOL call was made and nothing changed or was queued
    assert _snapshot() == before and len(rsps.calls) == 0 and depth(_finalise_queue()) == 0


HOSTILE_PAYLOADS = {
    "lists-10000-deep": _nested(10_000),
    "objects-5000-deep": _nested(5_000, '{"_id":', "}", json.dumps(AKOOL_ID)),
    "status-nested": '{"_id":' + json.dumps(AKOOL_ID) + ',"status":' + _nested(9_000) + "}",
    "lone-surrogate-url": '{"_id":' + json.dumps(AKOOL_ID) + ',"status":3,"url":"https://x.test/\\ud800"}',
    "huge-status": '{"_id":' + json.dumps(AKOOL_ID) + ',"status":' + "9" * 5000 + "}",
    "array": "[" + json.dumps(AKOOL_ID) + ",3]",
    "not-json": "\xff\xfe not json",
}


def test_given_signed_callbacks_with_hostile_payloads_then_akool_decides(resources) -> None:
    # Given a job, and callbacks correctly signed and encrypted with our credentials whose decrypted
    # payload is deeply nested, not an object, or holds a lone surrogate or a huge number
    make_job()
    for name, payload in HOSTILE_PAYLOADS.items():
        data = encrypt(payload, TEST_CLIENT_ID, TEST_API_KEY)
        body = json.dumps({"signature": signature(TEST_CLIENT_ID, 1, "1", data), "dataEncrypt": data,
                           "timestamp": 1, "nonce": "1"})
        assert len(body) < 64 * 1024, name
        for akool_status in (None, 2):
            akool = FakeAkool(jobs={} if akool_status is None else {AKOOL_ID: (akool_status, None)})
            # When handled
            reply = _service(akool).handle(JOB_ID, TOKEN, body, is_base64=False)
            # Then it is unverifiable (undecryptable), never an exception: AKOOL is asked; 401 if AKOOL does
            # not know the job, 200 with AKOOL's own word queued if it does
            assert reply.unverified and reply.reason == "undecryptable", (name, reply)
            assert akool.calls == [[AKOOL_ID]], name
            if akool_status is None:
                assert reply.status_code == 401 and reply.queued is None, name
            else:
                assert reply.status_code == 200 and reply.queued is not None, name
                assert (reply.queued.status, reply.queued.source) == (2, "listbyids"), name
    # And only AKOOL's word was queued, once per callback AKOOL confirmed
    assert depth(_finalise_queue()) == len(HOSTILE_PAYLOADS)


def test_given_authentic_callback_then_not_counted_unverified(handler, rsps, capsys) -> None:
    # Given a job and AKOOL's authentic status-2 callback
    make_job()
    # When received, Then 200 and no WebhookUnverified metric (the alarm stays quiet for AKOOL's own calls)
    assert _invoke(handler, load_event("apigw-webhook-status2.json"))["statusCode"] == 200
    out = capsys.readouterr().out
    assert _metric(out, "WebhooksAccepted") == [1.0] and _metric(out, "WebhookUnverified") == []

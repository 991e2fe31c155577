"""Completion events (ARCHITECTURE §9): one per terminal job, after its report, shaped as
schemas/events/job-event.schema.json says, the same metadata.id when an ending is retried."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import fastjsonschema
import pytest
import responses
from moto.s3.models import s3_backends

from dropswap.adapters.event_bus import EventBus
from dropswap.domain.job_events import event_id, submitted_event_id
from dropswap.domain.jobs import Status
from dropswap.flows.common.finaliser import AkoolTruth
from dropswap.flows.common.job_end import Hold, end_job
from dropswap.flows.reconcile import Queues, ReconcileLimits, Reconciler
from events.generate import AKOOL_ID, JOB_ID
from tests.conftest import EVENT_BUS, REGION, load_event, load_handler
from tests.unit.akool_fake import face, fake_akool
from tests.unit.submit_harness import Harness, make_harness
from tests.unit.test_finalise_support import (
    JPEG,
    REPORT_KEY,
    FakeContext,
    finaliser,
    make_job,
    objects,
    store,
)
from tests.unit.test_finalise_support import FakeAkool as FakeLookup

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "schemas" / "events" / "job-event.schema.json").read_text(encoding="utf-8"))
URL = "https://results.akool.test/final.jpg"
IMAGE = "inbox/party/team.jpg"
ALICE = "inbox/party/faces/alice.jpg"
METADATA = {"order": "A-1042", "weight": 0.5}


_VALIDATE = fastjsonschema.compile(SCHEMA)
MOTO_ACCOUNT = "123456789012"


def _valid(event: Mapping[str, Any]) -> Mapping[str, Any]:
    _VALIDATE(event)
    return event


class Bus:
    """DropswapEventBus in moto, with a rule routing dropswap's events to a queue, as a consumer has."""

    def __init__(self) -> None:
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.url = self.sqs.create_queue(QueueName="events-seen")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])
        events = boto3.client("events", region_name=REGION)
        events.put_rule(Name="all", EventBusName=EVENT_BUS, EventPattern=json.dumps({"source": ["dropswap"]}))
        events.put_targets(
            Rule="all", EventBusName=EVENT_BUS, Targets=[{"Id": "q", "Arn": arn["Attributes"]["QueueArn"]}]
        )
        self.adapter = EventBus(boto3.client("events", region_name=REGION), EVENT_BUS)

    def received(self) -> list[Mapping[str, Any]]:
        """Every event delivered so far, each checked against the published schema."""
        out: list[Mapping[str, Any]] = []
        while True:
            msgs = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", [])
            if not msgs:
                return out
            for m in msgs:
                out.append(_valid(json.loads(m["Body"])))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])


class ReportFirst:
    """Publishes through `inner`, checking the job's report is already in S3 when an event goes out."""

    def __init__(self, inner: EventBus) -> None:
        self.inner = inner

    def publish(self, detail_type: str, detail: Mapping[str, Any]) -> None:
        # Read from moto's backend, not through boto3: this check is the test's, not the function's call.
        bucket = s3_backends[MOTO_ACCOUNT]["global"].buckets[detail["data"]["image"]["bucket"]]
        assert detail["data"]["report"]["key"] in bucket.keys, "event before its report"
        self.inner.publish(detail_type, detail)


@pytest.fixture
def bus(resources: dict[str, str]) -> Bus:
    return Bus()


def test_given_the_published_schema_when_an_event_breaks_it_then_refused() -> None:
    detail = {"metadata": {"version": "1", "id": "x", "time": "2026-01-01T00:00:00Z"}, "data": {}}
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"
    with pytest.raises(fastjsonschema.JsonSchemaValueException):
        _valid({"source": "dropswap", "detail-type": "Job Failed", "detail": detail})


# -- one event per terminal state -----------------------------------------------------------------
@responses.activate
def test_given_submitted_job_with_metadata_when_succeeded_then_one_event_after_the_report(bus: Bus) -> None:
    responses.get(URL, body=JPEG, content_type="image/jpeg")
    make_job()
    res = store().transition(JOB_ID, Status.PROCESSING, set_fields={"metadata_json": json.dumps(METADATA)})
    assert res.job is not None
    fin, _ = finaliser()
    fin._events = ReportFirst(bus.adapter)  # the handler passes events=parts.events (last test)
    fin.apply(res.job, AkoolTruth(akool_id=AKOOL_ID, status=3, url=URL))
    # A second word from AKOOL on the ended job is a no-op: still one event
    fin.apply(res.job, AkoolTruth(akool_id=AKOOL_ID, status=3, url=URL))
    [event] = bus.received()
    assert event["source"] == "dropswap" and event["detail-type"] == "Job Succeeded"
    data = event["detail"]["data"]
    assert data["job_id"] == JOB_ID and data["status"] == "SUCCEEDED" and data["error"] is None
    assert data["result"] == {"key": "results/party/team.swapped.jpg"}
    assert data["report"] == {"key": REPORT_KEY}
    assert data["metadata"] == METADATA
    assert event["detail"]["metadata"]["id"] == event_id(JOB_ID)


def test_given_open_job_when_akool_fails_it_then_one_job_failed_event(bus: Bus) -> None:
    job = make_job()
    fin, _ = finaliser()
    fin._events = ReportFirst(bus.adapter)
    fin.apply(job, AkoolTruth(akool_id=AKOOL_ID, status=4, url=None, reason="no face"))
    [event] = bus.received()
    assert event["detail-type"] == "Job Failed"
    data = event["detail"]["data"]
    assert data["status"] == "FAILED" and data["result"] is None and data["error"]["code"]
    assert data["metadata"] is None


@pytest.fixture
def h(bus: Bus) -> Iterator[Harness]:
    for akool in fake_akool():
        akool.faces["party/team.jpg"] = [face(120, 80, 90, 110)]
        akool.faces["faces/alice.jpg"] = [face(20, 30, 120, 140)]
        yield make_harness(akool)


def _doc(target: Any = 0) -> dict[str, Any]:
    return {"version": 1, "swaps": [{"source": "faces/alice.jpg", "target": target}], "metadata": METADATA}


def test_given_manifest_that_cannot_succeed_when_submitted_then_one_job_rejected_event(
    h: Harness, bus: Bus
) -> None:
    h.put(ALICE)
    h.put(IMAGE)
    sidecar = h.put_manifest(IMAGE, _doc(target=5))  # the photo has one face
    submitter = h.submitter(events=ReportFirst(bus.adapter))
    assert [o.kind for o in h.event(sidecar, submitter)] == ["REJECTED"]
    assert [o.kind for o in h.event(sidecar, submitter)] == ["DUPLICATE"]
    [event] = bus.received()
    assert event["detail-type"] == "Job Rejected"
    data = event["detail"]["data"]
    assert data["status"] == "REJECTED" and data["error"]["code"] and data["metadata"] == METADATA
    assert data["image"] == {"bucket": h.objects.bucket, "key": IMAGE}


def test_given_unsupported_file_type_with_a_sidecar_then_one_job_rejected_event(h: Harness, bus: Bus) -> None:
    # Given a GIF and its sidecar; when both uploads' events arrive (each one alone would report it)
    h.put("inbox/party/clip.gif")
    sidecar = h.put_manifest("inbox/party/clip.gif", _doc())
    submitter = h.submitter(events=ReportFirst(bus.adapter))
    h.event(sidecar, submitter)
    assert [o.kind for o in h.event("inbox/party/clip.gif", submitter)] == ["DUPLICATE"]
    # Then one Job Rejected event, not one per upload, with the sidecar's metadata
    [event] = bus.received()
    assert event["detail"]["data"]["error"]["code"] == "UNSUPPORTED_TYPE"
    assert event["detail"]["data"]["metadata"] == METADATA


@pytest.mark.parametrize(
    ("doc", "code"),
    [
        pytest.param(
            {**_doc(), "swaps": [{"source": "faces/alice.gif", "target": 0}]}, "UNSUPPORTED_TYPE",
            id="the input gate refuses a source",
        ),
        pytest.param({**_doc(), "colour": "red"}, "MANIFEST_INVALID", id="another field invalid"),
    ],
)
def test_given_manifest_with_metadata_refused_before_any_akool_call_then_its_event_carries_it(
    h: Harness, bus: Bus, doc: dict[str, Any], code: str
) -> None:
    # Given the photo; when a sidecar with metadata arrives that is refused before AKOOL
    h.put(IMAGE)
    [outcome] = h.event(h.put_manifest(IMAGE, doc), h.submitter(events=ReportFirst(bus.adapter)))
    # Then its Job Rejected event carries the metadata
    [event] = bus.received()
    assert outcome.kind == "REJECTED" and event["detail"]["data"]["error"]["code"] == code
    assert event["detail"]["data"]["metadata"] == METADATA


def test_given_waiting_job_whose_sidecar_is_deleted_when_rejected_then_its_event_carries_the_metadata(
    h: Harness, bus: Bus
) -> None:
    # Given a job WAITING for its face, and then its sidecar deleted
    h.put(IMAGE)
    sidecar = h.put_manifest(IMAGE, _doc())
    submitter = h.submitter(events=ReportFirst(bus.adapter))
    assert [o.kind for o in h.event(sidecar, submitter)] == ["WAITING"]
    h.s3.delete_object(Bucket=h.objects.bucket, Key=sidecar)
    # When the face arrives
    h.put(ALICE)
    outcomes = h.event(ALICE, submitter)
    # Then the job is rejected (its sidecar is gone) and its event still carries the metadata
    assert [o.kind for o in outcomes] == ["REJECTED"]
    [event] = bus.received()
    assert event["detail"]["data"]["error"]["code"] == "SIDECAR_GONE"
    assert event["detail"]["data"]["metadata"] == METADATA


def test_given_job_accepted_by_akool_then_one_job_submitted_event_after_its_processing_report(
    h: Harness, bus: Bus
) -> None:
    # Given the face and the photo; when the sidecar arrives and AKOOL accepts the swap
    h.put(ALICE)
    h.put(IMAGE)
    sidecar = h.put_manifest(IMAGE, _doc())
    submitter = h.submitter(events=ReportFirst(bus.adapter))
    assert [o.kind for o in h.event(sidecar, submitter)] == ["SUBMITTED"]
    # and a redelivered event finds the job submitted (no second event)
    assert [o.kind for o in h.event(sidecar, submitter)] == ["DUPLICATE"]
    # Then one schema-valid Job Submitted event, after the PROCESSING report, with its own id
    [event] = bus.received()
    assert event["detail-type"] == "Job Submitted"
    data = event["detail"]["data"]
    job = h.job(IMAGE)
    assert data["job_id"] == job.job_id and data["status"] == "PROCESSING"
    assert data["result"] is None and data["error"] is None and data["metadata"] == METADATA
    assert data["report"] == {"key": "results/party/team.jpg.result.json"}
    report = h.report(IMAGE)
    assert event["detail"]["metadata"]["time"] == job.submitted_at == report["timings"]["submitted_at"]
    assert event["detail"]["metadata"]["id"] == submitted_event_id(job.job_id) != event_id(job.job_id)
    assert h.report(IMAGE)["status"] == "PROCESSING"


def test_given_the_schema_when_a_job_submitted_event_carries_a_result_then_refused() -> None:
    # Given a Job Submitted event with a result (only a SUCCEEDED job has one); When validated
    data: dict[str, Any] = {"job_id": "0" * 32, "status": "PROCESSING", "image": {"bucket": "b", "key": "k"},
                            "result": {"key": "r"}, "report": {"key": "k"}, "error": None, "metadata": None}
    detail = {"metadata": {"version": "1", "id": "5e0c0e1a-1b2c-5d3e-8f40-123456789abc",
                           "time": "2026-01-01T00:00:00.000+00:00"}, "data": data}
    with pytest.raises(fastjsonschema.JsonSchemaValueException):
        _valid({"source": "dropswap", "detail-type": "Job Submitted", "detail": detail})
    data["result"] = None  # Then without one it is valid
    _valid({"source": "dropswap", "detail-type": "Job Submitted", "detail": detail})


def test_given_superseded_job_when_closed_then_no_report_and_no_event(bus: Bus) -> None:
    job = make_job()
    claim = store().claim_finalisation(JOB_ID, "me", 600)
    assert claim.applied
    end_job(
        store(), objects(), job, Status.FAILED, Hold("me", lease=True),
        finished_at="2026-01-01T00:00:00.000+00:00", error={"code": "SUPERSEDED", "message": "newer"},
        report=False, events=bus.adapter,
    )
    assert bus.received() == []


# -- a retried ending -----------------------------------------------------------------------------
class CrashOnce:
    """A job store whose first terminal transition fails, as a finaliser crashing after publishing."""

    def __init__(self) -> None:
        self.inner = store()
        self.crashed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def transition(self, *args: Any, **kwargs: Any) -> Any:
        if not self.crashed:
            self.crashed = True
            raise RuntimeError("crash before the transition")
        return self.inner.transition(*args, **kwargs)


def test_given_ending_that_crashed_after_publishing_when_retried_then_same_event_id(bus: Bus) -> None:
    job = make_job()
    fin, _ = finaliser()
    fin._store = CrashOnce()
    fin._events = bus.adapter
    truth = AkoolTruth(akool_id=AKOOL_ID, status=4, url=None, reason="no face")
    with pytest.raises(RuntimeError):
        fin.apply(job, truth)
    fin.apply(job, truth)  # the message's redelivery
    first, second = bus.received()
    assert first["detail"]["metadata"]["id"] == second["detail"]["metadata"]["id"] == event_id(JOB_ID)
    assert store().get(JOB_ID).status is Status.FAILED  # type: ignore[union-attr]


# -- deployed wiring ------------------------------------------------------------------------------
@pytest.fixture
def app(bus: Bus) -> ModuleType:
    return load_handler("finalise")


def test_given_finalise_function_when_it_ends_a_job_then_the_event_is_on_the_stack_bus(
    app: ModuleType, bus: Bus
) -> None:
    make_job()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        from events.generate import RESULT_URL

        mock.get(RESULT_URL.split("?")[0], body=JPEG, content_type="image/jpeg")
        assert app.lambda_handler(load_event("sqs-finalise-status3.json"), FakeContext()) == {
            "batchItemFailures": []
        }
    [event] = bus.received()
    assert event["detail-type"] == "Job Succeeded" and event["detail"]["data"]["job_id"] == JOB_ID


def test_given_waiting_job_when_the_reconciler_gives_up_on_it_then_its_event_carries_the_metadata(
    h: Harness, bus: Bus
) -> None:
    # Given a job WAITING for a face that never comes
    h.put(IMAGE)
    assert [o.kind for o in h.event(h.put_manifest(IMAGE, _doc()))] == ["WAITING"]
    # When the reconciler runs two days later
    limits = ReconcileLimits(
        reconcile_after_seconds=600, max_job_age_seconds=48 * 3600, waiting_recheck_seconds=300,
        max_waiting_age_seconds=24 * 3600, batch_size=20, max_jobs=200,
    )
    reconciler = Reconciler(
        store(), finaliser()[0], objects(), FakeLookup, Queues(_NoQueue(), _NoQueue()), limits,
        clock=lambda: time.time() + 48 * 3600, events=ReportFirst(bus.adapter),
    )
    assert reconciler.run().counts == {"rejected": 1}
    # Then its Job Rejected event (and report) carry the manifest's metadata
    [event] = bus.received()
    assert event["detail"]["data"]["error"]["code"] == "INPUT_NEVER_ARRIVED"
    assert event["detail"]["data"]["metadata"] == METADATA == h.report(IMAGE)["metadata"]


class _NoQueue:
    def send(self, body: str, delay_seconds: int = 0) -> None:
        raise AssertionError(f"nothing to queue: {body}")

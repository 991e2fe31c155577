"""finalise: AKOOL's truth → job status, result and report; idempotent and single-writer."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import responses
from botocore.exceptions import ClientError

from dropswap.adapters.result_fetch import HttpResultFetcher
from dropswap.domain.jobs import Status
from dropswap.domain.ports import ObjectInfo
from dropswap.flows.common.finaliser import Action, AkoolTruth, Finaliser
from events.generate import AKOOL_ID, JOB_ID
from tests.unit.test_finalise_support import (
    JPEG,
    REPORT_KEY,
    RESULT_KEY,
    CountingFetcher,
    finaliser,
    get_job,
    make_job,
    objects,
    s3_bytes,
    s3_json,
    s3_keys,
    store,
)

URL = "https://results.akool.test/final.jpg?Signature=s3cr3t"


def _serve(rsps: responses.RequestsMock, body: bytes = JPEG, content_type: str = "image/jpeg") -> None:
    rsps.get("https://results.akool.test/final.jpg", body=body, content_type=content_type)


def _truth(status: int, url: str | None = URL, reason: str | None = None) -> AkoolTruth:
    return AkoolTruth(akool_id=AKOOL_ID, status=status, url=url, reason=reason)


@responses.activate
def test_given_submitted_job_when_status_3_then_result_and_report_stored_and_succeeded(resources) -> None:
    # Given a SUBMITTED job and AKOOL's result served over https
    _serve(responses.mock)
    job = make_job()
    fin, fetcher = finaliser()
    # When AKOOL says status 3
    outcome = fin.apply(job, _truth(3))
    # Then the result is in S3 byte for byte, with its type, and the report says SUCCEEDED
    assert outcome.action is Action.SUCCEEDED and fetcher.calls == 1
    assert s3_bytes(RESULT_KEY) == JPEG
    assert objects().head(RESULT_KEY).content_type == "image/jpeg"  # type: ignore[union-attr]
    report = s3_json(REPORT_KEY)
    assert report["status"] == "SUCCEEDED" and report["error"] is None
    assert report["result"] == f"s3://{resources['bucket']}/{RESULT_KEY}"
    assert report["akool"]["_id"] == AKOOL_ID and report["akool"]["status"] == 3
    assert report["timings"]["finished_at"]
    # And the job is SUCCEEDED with its keys, out of the open index and without a lease
    final = get_job()
    assert final.status is Status.SUCCEEDED
    assert final.result_key == RESULT_KEY and final.report_key == REPORT_KEY
    assert final.akool_status == 3 and final.finished_at
    assert not {"open_state", "finaliser", "finalise_until"} & set(final.extra)
    # And the signed URL's query string is not stored anywhere in the report
    assert "s3cr3t" not in str(report)


@responses.activate
def test_given_terminal_job_when_any_status_arrives_then_nothing_downloaded_or_written(resources) -> None:
    # Given a job that already FAILED (no result objects exist)
    _serve(responses.mock)
    make_job()
    failed = store().transition(JOB_ID, Status.FAILED, set_fields={"error": {"code": "X", "message": "m"}})
    assert failed.job
    fin, fetcher = finaliser()
    before = get_job()
    # When status 3, 4 and 2 arrive
    for status in (3, 4, 2):
        outcome = fin.apply(failed.job, _truth(status))
        # Then nothing is done
        assert outcome.action is Action.ALREADY_FINAL
    assert fetcher.calls == 0 and s3_keys() == []
    assert get_job().updated_at == before.updated_at


def test_given_submitted_job_when_status_2_then_processing_and_duplicate_writes_nothing(resources) -> None:
    # Given a SUBMITTED job
    job = make_job()
    fin, _ = finaliser()
    # When AKOOL says 2
    first = fin.apply(job, _truth(2, url=None))
    # Then it is PROCESSING at AKOOL status 2
    assert first.action is Action.PROCESSING and first.job
    assert first.job.status is Status.PROCESSING and first.job.akool_status == 2
    # And the same status again writes nothing
    again = fin.apply(first.job, _truth(2, url=None))
    assert again.action is Action.UNCHANGED and get_job().updated_at == first.job.updated_at


@responses.activate
def test_given_succeeded_job_when_late_status_2_then_refused_and_job_unchanged(resources) -> None:
    # Given a job finalised with status 3, and a status-2 message read before it (out of order)
    _serve(responses.mock)
    stale = make_job()
    fin, _ = finaliser()
    assert fin.apply(stale, _truth(3)).action is Action.SUCCEEDED
    done = get_job()
    # When the late status 2 is applied to the stale copy of the job
    outcome = fin.apply(stale, _truth(2, url=None))
    # Then the conditional write refuses it and the job is as it was
    assert outcome.action is Action.ALREADY_FINAL
    after = get_job()
    assert after.status is Status.SUCCEEDED and after.updated_at == done.updated_at


@pytest.mark.parametrize(
    ("reason", "expected"),
    [("face not detected in source", "face not detected in source"), (None, "gave no reason")],
)
def test_given_status_4_then_failed_with_akool_reason_and_report(resources, reason, expected) -> None:
    # Given a PROCESSING job
    job = make_job(status=Status.PROCESSING)
    fin, fetcher = finaliser()
    # When AKOOL says 4 (with or without a reason)
    outcome = fin.apply(job, _truth(4, url=None, reason=reason))
    # Then the job FAILED with AKOOL_FAILED and the reason, and the report says so; nothing downloaded
    assert outcome.action is Action.FAILED and fetcher.calls == 0
    final = get_job()
    assert final.status is Status.FAILED and final.error and final.error["code"] == "AKOOL_FAILED"
    assert expected in final.error["message"] and final.akool_status == 4
    report = s3_json(REPORT_KEY)
    assert report["status"] == "FAILED" and report["error"] == final.error and report["result"] is None
    assert s3_keys() == [REPORT_KEY]


def test_given_status_4_payload_with_msg_then_reason_extracted() -> None:
    truth = AkoolTruth.from_payload({"_id": "a", "status": "4", "msg": "no face found"})
    assert truth == AkoolTruth(akool_id="a", status=4, url=None, reason="no face found")
    assert AkoolTruth.from_payload({"_id": "a", "status": 9}) is None
    assert AkoolTruth.from_payload({"_id": "a", "status": True}) is None


@pytest.mark.parametrize(
    ("url", "max_bytes", "code"),
    [
        ("http://results.akool.test/final.jpg", 10_000_000, "RESULT_URL_NOT_ALLOWED"),
        (URL, 100, "RESULT_TOO_LARGE"),
        (None, 10_000_000, "RESULT_URL_MISSING"),
    ],
    ids=["not-https", "oversized", "no-url"],
)
@responses.activate
def test_given_unfetchable_result_then_job_failed_cleanly_with_report(
    resources, url: str | None, max_bytes: int, code: str
) -> None:
    # Given a job and a status-3 result that is not https, too big, or missing
    _serve(responses.mock)
    job = make_job()
    fin, _ = finaliser(max_bytes=max_bytes)
    # When finalised
    outcome = fin.apply(job, _truth(3, url=url))
    # Then the job FAILED with a clear code, a report, and no (partial) result object
    assert outcome.action is Action.FAILED
    final = get_job()
    assert final.status is Status.FAILED and final.error and final.error["code"] == code
    assert s3_json(REPORT_KEY)["error"]["code"] == code
    assert s3_keys() == [REPORT_KEY]


@responses.activate
def test_given_html_error_page_instead_of_image_then_failed_not_an_image(resources) -> None:
    _serve(responses.mock, body=b"<html>AccessDenied</html>", content_type="text/html")
    outcome = finaliser()[0].apply(make_job(), _truth(3))
    assert outcome.error and outcome.error["code"] == "RESULT_NOT_AN_IMAGE"


def test_given_lease_held_by_another_then_busy_and_no_download(resources) -> None:
    # Given another finaliser holds the job's lease
    job = make_job()
    assert store().claim_finalisation(JOB_ID, "other", 600).applied
    fin, fetcher = finaliser()
    # When status 3 arrives
    outcome = fin.apply(job, _truth(3))
    # Then nothing is downloaded or written
    assert outcome.action is Action.BUSY and fetcher.calls == 0 and s3_keys() == []
    assert get_job().status is Status.SUBMITTED


@responses.activate
def test_given_expired_lease_then_next_finaliser_takes_over(resources) -> None:
    # Given a lease taken long ago by a finaliser that died
    _serve(responses.mock)
    job = make_job()
    assert store(clock=lambda: time.time() - 3600).claim_finalisation(JOB_ID, "dead", 600).applied
    # When status 3 arrives, Then it is finalised
    assert finaliser()[0].apply(job, _truth(3)).action is Action.SUCCEEDED


class _BrokenSink:
    def put_file(self, key: str, path: str, content_type: str) -> None:
        raise ClientError({"Error": {"Code": "InternalError", "Message": "S3 is down"}}, "PutObject")

    def put_json(self, key: str, document: Any) -> None:
        raise AssertionError("no report before the result is stored")

    def delete(self, key: str) -> None:
        raise AssertionError("a succeeding job removes nothing")

    def head(self, key: str, bucket: str | None = None) -> ObjectInfo | None:
        return None  # the job's inputs were tidied away: it is still the latest


@responses.activate
def test_given_upload_fails_then_error_raised_lease_released_job_still_open(resources, tmp_path) -> None:
    # Given S3 failing on upload
    _serve(responses.mock)
    job = make_job()
    fetcher = HttpResultFetcher(max_bytes=10_000_000, attempts=1, temp_dir=str(tmp_path))
    fin = Finaliser(store(), _BrokenSink(), fetcher, lease_seconds=600)
    # When status 3 arrives, Then the error propagates (the webhook answers 500, AKOOL retries)
    with pytest.raises(ClientError):
        fin.apply(job, _truth(3))
    # And the job is still open, its lease given back, and no temp file is left behind
    current = get_job()
    assert current.status is Status.SUBMITTED and "finaliser" not in current.extra
    assert list(tmp_path.iterdir()) == []
    assert finaliser()[0].apply(current, _truth(3)).action is Action.SUCCEEDED


def test_given_duplicate_status_3_callbacks_racing_then_result_downloaded_and_stored_once(resources) -> None:
    # Given five identical status-3 deliveries at the same moment, and a result download held open until
    # the other four have returned
    job = make_job()
    stored: list[str] = []

    class Sink:
        def __init__(self) -> None:
            self.inner = objects()

        def put_file(self, key: str, path: str, content_type: str) -> None:
            stored.append(key)
            self.inner.put_file(key, path, content_type)

        def put_json(self, key: str, document: Any) -> None:
            self.inner.put_json(key, document)

        def delete(self, key: str) -> None:
            self.inner.delete(key)

        def head(self, key: str, bucket: str | None = None) -> ObjectInfo | None:
            return self.inner.head(key, bucket)

    fetcher = CountingFetcher(HttpResultFetcher(max_bytes=10_000_000, attempts=1))
    fin = Finaliser(store(), Sink(), fetcher, lease_seconds=600)
    outcomes: list[Action] = []
    lock = threading.Lock()
    others_back = threading.Event()  # four deliveries have returned
    held_open: list[bool] = []  # per download: did the other four return while it was open

    def slow(_request: Any) -> tuple[int, dict[str, str], bytes]:
        # Waited for: the four other deliveries to return, so each of them ran while this download was open
        held_open.append(others_back.wait(timeout=30))
        return 200, {"Content-Type": "image/jpeg"}, JPEG

    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.GET, "https://results.akool.test/final.jpg", callback=slow)

        def deliver() -> None:
            outcome = fin.apply(job, _truth(3))
            with lock:
                outcomes.append(outcome.action)
                if len(outcomes) == 4:
                    others_back.set()

        threads = [threading.Thread(target=deliver) for _ in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    # Then exactly one downloaded and stored, while the others came and did nothing
    assert fetcher.calls == 1 and stored == [RESULT_KEY]
    assert held_open == [True]
    assert outcomes.count(Action.SUCCEEDED) == 1
    assert set(outcomes) <= {Action.SUCCEEDED, Action.BUSY, Action.ALREADY_FINAL}
    assert get_job().status is Status.SUCCEEDED


def test_given_open_job_when_failed_for_our_reason_then_report_and_failed(resources) -> None:
    # Given an open job, When the reconciler fails it (too old)
    job = make_job()
    fin, _ = finaliser()
    outcome = fin.fail(job, {"code": "JOB_TOO_OLD", "message": "no result after 49 h"})
    # Then it is FAILED with that error and a report; failing it again does nothing
    assert outcome.action is Action.FAILED
    assert get_job().error == {"code": "JOB_TOO_OLD", "message": "no result after 49 h"}
    assert s3_json(REPORT_KEY)["error"]["code"] == "JOB_TOO_OLD"
    assert fin.fail(get_job(), {"code": "X", "message": "y"}).action is Action.ALREADY_FINAL

"""The submit path end to end in moto (S3, DynamoDB) with AKOOL faked at the requests boundary."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from dropswap.adapters.akool_client import AkoolClient
from dropswap.adapters.object_store import ObjectStore
from dropswap.domain import tokens
from dropswap.domain.akool import AkoolError
from dropswap.domain.jobs import Status
from dropswap.domain.ports import ObjectInfo, SmallObject
from tests.conftest import BUCKET
from tests.unit.akool_fake import (
    BASE,
    DETECT,
    FakeAkool,
    face,
    fake_akool,
    landmarks_str,
    pro_problems,
    v3_problems,
)
from tests.unit.submit_harness import CREDS, JPEG, Harness, make_harness

IMAGE = "inbox/party/team.jpg"
ALICE = "inbox/party/faces/alice.jpg"
BOB = "inbox/party/faces/bob.png"
# Two faces in the group photo, listed left to right as 0:(120,80,90,110) 1:(300,95,88,104).
LEFT, RIGHT = face(120, 80, 90, 110), face(300, 95, 88, 104)


@pytest.fixture
def akool(resources: dict[str, str]) -> Iterator[FakeAkool]:
    yield from fake_akool()


@pytest.fixture
def h(akool: FakeAkool) -> Harness:
    akool.faces["party/team.jpg"] = [RIGHT, LEFT]  # detector order is not left to right
    akool.faces["faces/alice.jpg"] = [face(20, 30, 120, 140)]
    akool.faces["faces/bob.png"] = [face(5, 5, 60, 70), face(40, 50, 150, 160)]
    return make_harness(akool)


def _manifest(*swaps: tuple[str, Any], **top: Any) -> dict[str, Any]:
    return {"version": 1, "swaps": [{"source": s, "target": t} for s, t in swaps], **top}


def _ready(h: Harness, doc: dict[str, Any], *faces: str) -> str:
    """Upload the source faces and the image without events; return the sidecar key (not yet announced)."""
    for key in faces:
        h.put(key)
    h.put(IMAGE)
    return h.put_manifest(IMAGE, doc)


def _presigned_key(url: str) -> str:
    parts = urlsplit(url)
    assert "X-Amz-Signature" in parse_qs(parts.query)
    return unquote(parts.path)


# -- order of uploads, duplicates and races --------------------------------------------------------
def test_given_sidecar_first_when_image_arrives_then_submitted_exactly_once(h: Harness) -> None:
    h.put(ALICE)
    sidecar = h.put_manifest(IMAGE, _manifest(("faces/alice.jpg", 1)))
    [first] = h.event(sidecar)
    assert first.kind == "WAITING" and first.detail == IMAGE
    job = h.job(IMAGE)
    assert job.status is Status.WAITING and job.waiting_for == IMAGE
    waiting_id = job.job_id

    outcomes = h.upload(IMAGE)
    # The photo's job is submitted; the job made while the photo was missing (photo version "") is
    # superseded by it and closed quietly.
    assert [o.kind for o in outcomes] == ["SUBMITTED", "IGNORED"]
    assert outcomes[1].job_id == waiting_id and outcomes[1].detail == "superseded"
    assert len(h.akool.submissions()) == 1
    job = h.job(IMAGE)
    assert job.job_id != waiting_id and job.image_etag
    assert job.status is Status.SUBMITTED and job.waiting_for is None and job.engine == "pro"
    closed = h.store.get(waiting_id)
    assert closed is not None and closed.status is Status.REJECTED
    assert closed.error is not None and closed.error["code"] == "SUPERSEDED"


def test_given_image_first_when_sidecar_arrives_then_submitted_exactly_once(h: Harness) -> None:
    h.put(ALICE)
    assert [o.kind for o in h.upload(IMAGE)] == ["IGNORED"]  # no sidecar yet: nothing to do
    sidecar = h.put_manifest(IMAGE, _manifest(("faces/alice.jpg", 0)))
    assert [o.kind for o in h.event(sidecar)] == ["SUBMITTED"]
    assert [o.kind for o in h.event(IMAGE)] == ["DUPLICATE"]  # a late image event changes nothing
    assert len(h.akool.submissions()) == 1


def test_given_same_event_delivered_five_times_then_one_submission(h: Harness) -> None:
    sidecar = _ready(h, _manifest(("faces/alice.jpg", "largest")), ALICE)
    kinds = [o.kind for _ in range(5) for o in h.event(sidecar)]
    assert kinds == ["SUBMITTED"] + ["DUPLICATE"] * 4
    assert len(h.akool.submissions()) == 1


@pytest.mark.parametrize("threads", [2, 6])
def test_given_deliveries_racing_in_threads_then_one_submission(h: Harness, threads: int) -> None:
    sidecar = _ready(h, _manifest(("faces/alice.jpg", 0), ("faces/bob.png", 1)), ALICE, BOB)
    barrier = threading.Barrier(threads)
    kinds: list[str] = []
    errors: list[BaseException] = []
    submitters = [h.submitter() for _ in range(threads)]

    def deliver(i: int) -> None:
        try:
            barrier.wait()
            kinds.extend(o.kind for o in h.event(sidecar, submitters[i]))
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=deliver, args=(i,)) for i in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert errors == []
    assert kinds.count("SUBMITTED") == 1
    assert set(kinds) <= {"SUBMITTED", "BUSY", "DUPLICATE"}
    assert len(h.akool.submissions()) == 1
    assert h.job(IMAGE).status is Status.SUBMITTED


class _ReportSpy(ObjectStore):
    """The rejecting delivery's object store: records every report it writes."""

    reports: list[str]

    def put_json(self, key: str, document: Any) -> None:
        self.reports.append(key)
        super().put_json(key, document)


@pytest.mark.parametrize("akool_answer", ["accepted", "quota"])
@pytest.mark.parametrize("rejecter", ["sidecar-deleted-then-recheck", "image-event-redelivered"])
def test_given_delivery_holding_the_claim_mid_submit_when_another_rejects_the_job_then_the_holder_decides(
    h: Harness, rejecter: str, akool_answer: str
) -> None:
    # Given a delivery that holds the job's claim and is in the middle of AKOOL's submit call
    sidecar = _ready(h, _manifest(("faces/alice.jpg", 0)), ALICE)
    if akool_answer == "quota":
        h.akool.queue_code("pro", 1006)
    spy = _ReportSpy(h.s3, BUCKET)
    spy.reports = []
    loser: list[str] = []

    def other_delivery_rejects() -> None:
        # When another delivery finds a reason to reject the same job right then
        if rejecter == "sidecar-deleted-then-recheck":
            h.s3.delete_object(Bucket=BUCKET, Key=sidecar)
            h.submitter(objects=spy).recheck_waiting(job_id)
            loser.append("recheck")
        else:
            loser.extend(o.kind for o in h.event(IMAGE, h.submitter(objects=spy)))

    class MidSubmit(AkoolClient):
        def faceswap_pro(self, *args: Any, **kwargs: Any) -> Any:
            other_delivery_rejects()
            return super().faceswap_pro(*args, **kwargs)

    job_id = h.job_id(IMAGE)
    [outcome] = h.event(sidecar, h.submitter(akool=lambda: MidSubmit(CREDS, BASE, DETECT)))

    # Then the claim holder's word stands: one outcome, its own, and the loser wrote no report
    assert spy.reports == []
    assert loser in (["recheck"], ["BUSY"])
    job = h.store.get(job_id)
    assert job is not None
    if akool_answer == "quota":
        assert outcome.kind == "FAILED" and job.status is Status.FAILED
        assert job.error is not None and job.error["code"] == "AKOOL_1006"
        assert h.report(IMAGE)["status"] == "FAILED" and h.report(IMAGE)["error"] == job.error
    else:
        assert outcome.kind == "SUBMITTED" and job.status is Status.SUBMITTED and job.akool_id
        assert h.report(IMAGE)["status"] == "PROCESSING"  # the holder's live report (report.py)
    assert len(h.akool.submissions()) == 1


def test_given_photo_replaced_mid_submit_then_its_new_version_is_a_new_job(h: Harness) -> None:
    # Given a delivery in the middle of AKOOL's submit call for the photo as it was
    sidecar = _ready(h, _manifest(("faces/alice.jpg", 0)), ALICE)
    job_id = h.job_id(IMAGE)
    later: list[str] = []

    class MidSubmit(AkoolClient):
        def faceswap_pro(self, *args: Any, **kwargs: Any) -> Any:
            # When the user replaces the photo (with an empty file) right then, and its event comes
            h.put(IMAGE, b"")
            later.extend(o.kind for o in h.event(IMAGE))
            return super().faceswap_pro(*args, **kwargs)

    [outcome] = h.event(sidecar, h.submitter(akool=lambda: MidSubmit(CREDS, BASE, DETECT)))
    # Then the replaced photo is a job of its own (rejected, with its report), and the first one stands
    assert later == ["REJECTED"] and h.job_id(IMAGE) != job_id
    assert h.job(IMAGE).status is Status.REJECTED and h.report(IMAGE)["error"]["code"] == "EMPTY_IMAGE"
    first = h.store.get(job_id)
    assert outcome.kind == "SUBMITTED" and first is not None and first.status is Status.SUBMITTED


def test_given_photo_replaced_under_the_same_sidecar_then_a_new_job(h: Harness) -> None:
    # Given a photo whose job was submitted
    sidecar = _ready(h, _manifest(("faces/alice.jpg", 0)), ALICE)
    assert [o.kind for o in h.event(sidecar)] == ["SUBMITTED"]
    first = h.job_id(IMAGE)
    # When the photo is replaced (other bytes) under the unchanged sidecar
    outcomes = h.upload(IMAGE, JPEG + b"-replaced")
    # Then that is a new job, submitted again; a redelivery of either event changes nothing
    assert [o.kind for o in outcomes] == ["SUBMITTED"] and outcomes[0].job_id == h.job_id(IMAGE) != first
    assert [o.kind for o in h.event(IMAGE)] == ["DUPLICATE"]
    assert [o.kind for o in h.event(sidecar)] == ["DUPLICATE"]
    assert len(h.akool.submissions()) == 2


def test_given_changed_sidecar_when_uploaded_again_then_a_new_job(h: Harness) -> None:
    sidecar = _ready(h, _manifest(("faces/alice.jpg", 0)), ALICE)
    h.event(sidecar)
    first = h.job_id(IMAGE)
    h.put_manifest(IMAGE, _manifest(("faces/alice.jpg", 1)))
    assert [o.kind for o in h.event(sidecar)] == ["SUBMITTED"]
    assert h.job_id(IMAGE) != first and len(h.akool.submissions()) == 2


# -- waiting for inputs ---------------------------------------------------------------------------
def test_given_missing_s3_source_then_waiting_and_its_upload_starts_the_job_once(h: Harness) -> None:
    h.put(IMAGE)
    sidecar = h.put_manifest(IMAGE, _manifest(("faces/alice.jpg", 0), ("faces/bob.png", 1)))
    h.put(BOB)
    [waiting] = h.event(sidecar)
    assert waiting.kind == "WAITING" and h.job(IMAGE).waiting_for == ALICE
    assert h.akool.calls == []

    [started] = h.upload(ALICE)
    assert started.kind == "SUBMITTED" and started.job_id == h.job_id(IMAGE)
    # The face uploaded again (a new event): the job is no longer waiting for it, nothing happens.
    assert [o.kind for o in h.upload(ALICE)] == ["IGNORED"]
    assert len(h.akool.submissions()) == 1
    assert h.job(IMAGE).status is Status.SUBMITTED


def test_given_two_missing_sources_then_waits_for_each_in_turn(h: Harness) -> None:
    h.put(IMAGE)
    sidecar = h.put_manifest(IMAGE, _manifest(("faces/alice.jpg", 0), ("faces/bob.png", 1)))
    h.event(sidecar)
    assert h.job(IMAGE).waiting_for == ALICE
    assert [o.kind for o in h.upload(ALICE)] == ["WAITING"]
    assert h.job(IMAGE).waiting_for == BOB
    assert [o.kind for o in h.upload(BOB)] == ["SUBMITTED"]
    assert len(h.akool.submissions()) == 1


def test_given_missing_input_uploaded_while_marking_waiting_then_job_starts_without_another_event(
    h: Harness,
) -> None:
    # The race the second HEAD closes: ALICE lands after our first HEAD but before the WAITING write,
    # so its event found no waiting job. The re-check right after the write must catch it.
    h.put(IMAGE)
    sidecar = h.put_manifest(IMAGE, _manifest(("faces/alice.jpg", 0)))

    class LateUpload(ObjectStore):
        misses = 0

        def head(self, key: str, bucket: str | None = None) -> ObjectInfo | None:
            if key == ALICE and self.misses == 0:
                self.misses += 1
                h.put(ALICE)  # the user's upload completes right now
                return None
            return super().head(key, bucket)

    objects = LateUpload(h.s3, BUCKET)
    assert [o.kind for o in h.event(sidecar, h.submitter(objects=objects))] == ["SUBMITTED"]
    assert len(h.akool.submissions()) == 1


def test_given_sidecar_overwritten_right_after_it_was_read_then_each_version_runs_with_its_own_content(
    h: Harness,
) -> None:
    # Given the sidecar is replaced right after this event read the first version
    h.put(IMAGE)
    h.put(ALICE)
    sidecar = h.put_manifest(IMAGE, _manifest(("faces/alice.jpg", 0)))
    first_id = h.job_id(IMAGE)

    class OverwrittenAfterRead(ObjectStore):
        done = False

        def read_small(self, key: str, max_bytes: int, bucket: str | None = None) -> SmallObject | None:
            read = super().read_small(key, max_bytes, bucket)
            if key == sidecar and not self.done:
                self.done = True
                h.put_manifest(IMAGE, _manifest(("faces/alice.jpg", 1)))
            return read

    # When the first event is processed, Then its job is the first version's, with the first content:
    # the job id and the manifest come from one GET, so they can never be of two versions
    [first] = h.event(sidecar, h.submitter(objects=OverwrittenAfterRead(h.s3, BUCKET)))
    assert first.kind == "SUBMITTED" and first.job_id == first_id
    assert h.akool.submissions()[0].body["targetImage"][0]["opts"] == landmarks_str(LEFT)  # type: ignore[index]
    # And the new version's own event makes its own job, with the new content
    [second] = h.event(sidecar)
    assert second.kind == "SUBMITTED" and second.job_id == h.job_id(IMAGE) != first_id
    assert h.akool.submissions()[1].body["targetImage"][0]["opts"] == landmarks_str(RIGHT)  # type: ignore[index]


def test_given_waiting_job_when_reconciler_rechecks_after_upload_without_event_then_submitted(
    h: Harness,
) -> None:
    h.put(IMAGE)
    sidecar = h.put_manifest(IMAGE, _manifest(("faces/alice.jpg", 0)))
    h.event(sidecar)
    h.put(ALICE)  # its event was lost
    h.submitter().recheck_waiting(h.job_id(IMAGE))
    assert h.job(IMAGE).status is Status.SUBMITTED
    h.submitter().recheck_waiting(h.job_id(IMAGE))  # not waiting any more: no-op
    assert len(h.akool.submissions()) == 1


def test_given_waiting_job_whose_sidecar_was_replaced_when_rechecked_then_closed_without_report(
    h: Harness,
) -> None:
    sidecar = h.put_manifest(IMAGE, _manifest(("faces/alice.jpg", 0)))
    h.event(sidecar)
    old = h.job_id(IMAGE)
    h.put_manifest(IMAGE, _manifest(("faces/alice.jpg", 1)))
    h.submitter().recheck_waiting(old)
    job = h.store.get(old)
    assert job and job.status is Status.REJECTED and job.error and job.error["code"] == "SUPERSEDED"
    # No report of its own: the one there is still its WAITING report, which the newer sidecar's event
    # replaces with its own
    assert h.report(IMAGE)["status"] == "WAITING" and h.report(IMAGE)["job_id"] == old
    assert h.akool.calls == []


def test_given_waiting_job_whose_sidecar_was_deleted_when_rechecked_then_rejected_with_report(
    h: Harness,
) -> None:
    sidecar = h.put_manifest(IMAGE, _manifest(("faces/alice.jpg", 0)))
    h.event(sidecar)
    job_id = h.job_id(IMAGE)
    h.s3.delete_object(Bucket=BUCKET, Key=sidecar)
    h.submitter().recheck_waiting(job_id)
    job = h.store.get(job_id)
    assert job and job.status is Status.REJECTED
    assert h.report(IMAGE)["error"]["code"] == "SIDECAR_GONE"


# -- rejections -----------------------------------------------------------------------------------
NINE = [face(10 + 60 * i, 10, 50, 60) for i in range(9)]


@pytest.mark.parametrize(
    ("doc", "code", "message", "detects"),
    [
        (
            b'{"version": 1, "swaps": [',
            "INVALID_JSON",
            "manifest: is not valid JSON (line 1, column 26",
            False,
        ),
        (
            _manifest(("faces/alice.jpg", "left")),
            "MANIFEST_INVALID",
            'swaps[0].target: "left" is not valid',
            False,
        ),
        (
            _manifest(("faces/alice.jpg", 0), ("faces/alice.jpg", 5)),
            "FACE_NOT_FOUND",
            "swaps[1].target: no face with index 5 (faces are numbered from 0, left to right); "
            "faces found: 0:(120,80,90,110) 1:(300,95,88,104)",
            True,
        ),
        (
            _manifest(("faces/alice.jpg", 0), ("faces/alice.jpg", {"x": 410, "y": 220})),
            "FACE_NOT_FOUND",
            "swaps[1].target: no face at (410, 220); faces found: 0:(120,80,90,110) 1:(300,95,88,104)",
            True,
        ),
        ({"version": 1, "swaps": [{"target": 0}]}, "MANIFEST_INVALID", "swaps[0].source: is required", False),
        (_manifest(("", 0)), "MANIFEST_INVALID", 'swaps[0].source: "" is not valid', False),
        (_manifest(*[("faces/alice.jpg", 0)] * 51), "LIMIT", "swaps: has 51 swaps; at most 50", False),
        (
            _manifest(("http://169.254.169.254/latest/meta-data/", 0)),
            "INVALID_SOURCE",
            'swaps[0].source: "http://169.254.169.254/latest/meta-data/" is not allowed',
            False,
        ),
        (
            _manifest(("file:///etc/passwd", 0)),
            "INVALID_SOURCE",
            'swaps[0].source: "file:///etc/passwd" is not allowed (local files cannot be read)',
            False,
        ),
        (
            _manifest(("../../../etc/passwd", 0)),
            "INVALID_SOURCE",
            'swaps[0].source: "../../../etc/passwd" is not allowed (it leads outside inbox/)',
            False,
        ),
        (
            _manifest(("https://169.254.169.254/x.jpg", 0)),
            "INVALID_SOURCE",
            "swaps[0].source: \"https://169.254.169.254/x.jpg\" is not allowed (host '169.254.169.254'",
            False,
        ),
        (
            _manifest(("faces/alice.jpg", 0), ("faces/bob.png", {"x": 130, "y": 90})),
            "DUPLICATE_FACE",
            "swaps[1].target: face 0 (120,80,90,110) is already replaced by swaps[0]",
            True,
        ),
        (
            _manifest(("faces/alice.jpg", "all"), engine="v3"),
            "LIMIT",
            'swaps[0].target: "all" means 9 faces in this photo, but AKOOL v3 replaces at most 8 faces '
            "in one image, so split the job into 2 rounds: here, list faces 0–7 as swaps by index",
            True,
        ),
        (
            _manifest(("faces/nobody.jpg", 0), ("faces/alice.jpg", 1)),
            "NO_FACE",
            "swaps[0].source: no face found",
            True,
        ),
        (
            _manifest(("faces/notes.txt", 0)),
            "UNSUPPORTED_TYPE",
            "swaps[0].source: inbox/party/faces/notes.txt",
            False,
        ),
    ],
    ids=[
        "bad-json",
        "schema",
        "unknown-index",
        "point-outside",
        "missing-source",
        "empty-source",
        "51-swaps",
        "http-metadata",
        "file-url",
        "dotdot-escape",
        "https-link-local",
        "same-face-twice",
        "9-faces-v3",
        "source-without-face",
        "source-not-an-image",
    ],
)
def test_given_bad_input_then_rejected_with_report_and_no_submission(
    h: Harness, doc: Any, code: str, message: str, detects: bool
) -> None:
    if code == "LIMIT" and "9 faces" in message:
        h.akool.faces["party/team.jpg"] = NINE
    for key in (ALICE, BOB, "inbox/party/faces/nobody.jpg", "inbox/party/faces/notes.txt"):
        h.put(key)
    h.akool.faces["faces/nobody.jpg"] = []
    h.put(IMAGE)
    sidecar = h.put_manifest(IMAGE, doc)
    before = h.inbox_etags()

    [outcome] = h.event(sidecar)

    assert outcome.kind == "REJECTED"
    job = h.job(IMAGE)
    assert job.status is Status.REJECTED and job.error is not None
    assert job.error["code"] == code and job.error["message"].startswith(message), job.error["message"]
    report = h.report(IMAGE)
    assert report["status"] == "REJECTED" and report["error"] == job.error
    assert report["image"] == f"s3://{BUCKET}/{IMAGE}" and report["job_id"] == job.job_id
    assert h.akool.submissions() == []
    assert bool(h.akool.detections()) is detects
    assert h.inbox_etags() == before  # the user's uploads are untouched
    assert [o.kind for o in h.event(sidecar)] == ["DUPLICATE"]  # terminal: a re-delivery is a no-op


def test_given_9_faces_with_auto_engine_then_rejected_for_v3_limit(h: Harness) -> None:
    h.akool.faces["party/team.jpg"] = NINE
    sidecar = _ready(h, _manifest(("faces/alice.jpg", "all")), ALICE)
    [outcome] = h.event(sidecar)
    assert outcome.kind == "REJECTED" and "at most 8 faces" in outcome.detail
    assert h.akool.submissions() == []


def test_given_image_too_large_then_rejected_naming_the_limit(akool: FakeAkool) -> None:
    h = make_harness(akool, max_image_bytes=10)
    akool.faces["party/team.jpg"] = [LEFT]
    sidecar = _ready(h, _manifest(("faces/alice.jpg", 0)), ALICE)
    [outcome] = h.event(sidecar)
    assert outcome.kind == "REJECTED"
    # Both inputs are too large: both are named at once
    assert h.job(IMAGE).error == {
        "code": "TOO_LARGE",
        "message": f"image: {IMAGE} is {len(JPEG)} bytes; images may be at most 10 bytes, resize it; also"
        f" swaps[0].source: {ALICE} is {len(JPEG)} bytes; images may be at most 10 bytes, resize it",
    }
    assert akool.calls == []


def test_given_unsupported_source_not_uploaded_yet_then_rejected_instead_of_waiting(h: Harness) -> None:
    sidecar = h.put_manifest(IMAGE, _manifest(("faces/alice.gif", 0)))
    [outcome] = h.event(sidecar)
    assert outcome.kind == "REJECTED" and h.job(IMAGE).error["code"] == "UNSUPPORTED_TYPE"  # type: ignore[index]
    assert "use one of: bmp, jpeg, jpg, png, webp" in outcome.detail


def test_given_image_the_detector_cannot_read_then_rejected(h: Harness) -> None:
    h.akool.queue("detect", 400, {"error_code": 1, "error_msg": "Failed to process media", "faces_obj": {}})
    sidecar = _ready(h, _manifest(("faces/alice.jpg", 0)), ALICE)
    [outcome] = h.event(sidecar)
    assert outcome.kind == "REJECTED" and h.job(IMAGE).error["code"] == "UNREADABLE_IMAGE"  # type: ignore[index]


# -- AKOOL failures -------------------------------------------------------------------------------
def test_given_akool_1005_then_success_when_submitting_then_retried_and_submitted(h: Harness) -> None:
    h.akool.queue_code("pro", 1005)
    sidecar = _ready(h, _manifest(("faces/alice.jpg", 0)), ALICE)
    assert [o.kind for o in h.event(sidecar)] == ["SUBMITTED"]
    assert len(h.akool.submissions()) == 2 and h.job(IMAGE).akool_id


def test_given_akool_1006_when_submitting_then_job_failed_with_reason(h: Harness) -> None:
    h.akool.queue_code("pro", 1006)
    sidecar = _ready(h, _manifest(("faces/alice.jpg", 0)), ALICE)
    [outcome] = h.event(sidecar)
    assert outcome.kind == "FAILED"
    job = h.job(IMAGE)
    expected = {"code": "AKOOL_1006", "message": "faceswap_pro: Your quota is not enough"}
    assert job.status is Status.FAILED and job.error == expected and job.engine == "pro"
    report = h.report(IMAGE)
    assert report["status"] == "FAILED" and report["error"] == expected and report["akool"]["code"] == 1006
    assert [o.kind for o in h.event(sidecar)] == ["DUPLICATE"]
    assert len(h.akool.submissions()) == 1


def test_given_akool_throttling_past_retries_then_claim_released_error_raised_and_next_delivery_submits(
    h: Harness,
) -> None:
    for _ in range(4):
        h.akool.queue_code("pro", 1005)
    sidecar = _ready(h, _manifest(("faces/alice.jpg", 0)), ALICE)
    with pytest.raises(AkoolError) as info:
        h.event(sidecar)
    assert info.value.retryable
    job = h.job(IMAGE)
    assert job.status is Status.WAITING and "claim_owner" not in job.extra
    assert h.report(IMAGE)["status"] == "QUEUED"  # no AKOOL word yet: the first claim's live report
    # Lambda's async retry delivers the event again; AKOOL has recovered.
    assert [o.kind for o in h.event(sidecar)] == ["SUBMITTED"]


def test_given_detector_down_then_error_raised_for_retry_and_nothing_final(h: Harness) -> None:
    for _ in range(4):
        h.akool.queue("detect", 503, "<html>Service Unavailable</html>")
    sidecar = _ready(h, _manifest(("faces/alice.jpg", 0)), ALICE)
    with pytest.raises(AkoolError):
        h.event(sidecar)
    assert h.job(IMAGE).status is Status.WAITING and h.report(IMAGE)["status"] == "QUEUED"


# -- what is sent to AKOOL ------------------------------------------------------------------------
def test_given_one_largest_swap_then_the_photo_detected_and_pro_without_opts(h: Harness) -> None:
    sidecar = _ready(h, _manifest(("faces/alice.jpg", "largest"), face_enhance=True), ALICE)
    h.event(sidecar)
    # The photo is detected first, then the source (an image without a face must not cost a swap), though
    # Pro needs the landmarks of neither
    photo, source = h.akool.detections()
    assert photo.body is not None and _presigned_key(photo.body["url"]).endswith(IMAGE)
    assert source.body is not None and _presigned_key(source.body["url"]).endswith(ALICE)
    assert (h.job(IMAGE).request_summary or {})["detect_calls"] == 2
    [call] = h.akool.submissions()
    body = call.body
    assert body is not None and call.path.endswith("/api/open/v4/faceswap/faceswapByImage")
    assert pro_problems(body) == []
    assert body["targetImage"][0].keys() == {"path"} and body["sourceImage"][0].keys() == {"path"}
    assert _presigned_key(body["targetImage"][0]["path"]).endswith(IMAGE)
    assert _presigned_key(body["sourceImage"][0]["path"]).endswith(ALICE)
    assert body["face_enhance"] is True


def test_given_one_indexed_face_then_pro_with_that_face_landmarks_as_target_opts(h: Harness) -> None:
    sidecar = _ready(h, _manifest(("faces/alice.jpg", 1)), ALICE)
    h.event(sidecar)
    body = h.akool.submissions()[0].body
    assert body is not None and pro_problems(body) == []
    assert body["targetImage"] == [{"path": body["targetImage"][0]["path"], "opts": landmarks_str(RIGHT)}]
    assert "opts" not in body["sourceImage"][0]  # 1x1: optional, and Pro picks the source's face itself
    assert len(h.akool.detections()) == 2  # the target, and the source (it must show a face)
    summary = h.job(IMAGE).request_summary
    assert summary and summary["pairs"] == [
        {"swap": 0, "source": "faces/alice.jpg", "face": 1, "region": [300, 95, 88, 104]}
    ]


def test_given_two_swaps_with_auto_then_v3_with_opts_everywhere(h: Harness) -> None:
    sidecar = _ready(h, _manifest(("faces/alice.jpg", 1), ("faces/bob.png", 0)), ALICE, BOB)
    h.event(sidecar)
    [call] = h.akool.submissions()
    body = call.body
    assert body is not None and call.path.endswith("/api/open/v3/faceswap/highquality/specifyimage")
    assert v3_problems(body) == []
    assert body["face_enhance"] == 0 and _presigned_key(body["modifyImage"]).endswith(IMAGE)
    assert [t["opts"] for t in body["targetImage"]] == [landmarks_str(RIGHT), landmarks_str(LEFT)]
    # each source's largest face: alice has one, bob's second face is the bigger one
    assert [s["opts"] for s in body["sourceImage"]] == [
        landmarks_str(face(20, 30, 120, 140)),
        landmarks_str(face(40, 50, 150, 160)),
    ]
    assert h.job(IMAGE).engine == "v3"


def test_given_all_faces_then_one_pair_per_face_with_the_same_source(h: Harness) -> None:
    sidecar = _ready(h, _manifest(("faces/alice.jpg", "all")), ALICE)
    h.event(sidecar)
    body = h.akool.submissions()[0].body
    assert body is not None and v3_problems(body) == []
    assert len(body["targetImage"]) == len(body["sourceImage"]) == 2
    assert body["sourceImage"][0] == body["sourceImage"][1]
    assert len(h.akool.detections()) == 2  # the target once, alice once


def test_given_pro_forced_with_two_faces_then_opts_rule_satisfied(h: Harness) -> None:
    sidecar = _ready(h, _manifest(("faces/alice.jpg", 0), ("faces/bob.png", 1), engine="pro"), ALICE, BOB)
    h.event(sidecar)
    body = h.akool.submissions()[0].body
    assert body is not None and pro_problems(body) == []
    assert all("opts" in i for i in body["targetImage"] + body["sourceImage"])


def test_given_v3_forced_with_one_largest_then_detection_and_v3(h: Harness) -> None:
    sidecar = _ready(h, _manifest(("faces/alice.jpg", "largest"), engine="v3", face_enhance=True), ALICE)
    h.event(sidecar)
    body = h.akool.submissions()[0].body
    assert body is not None and v3_problems(body) == []
    assert body["face_enhance"] == 1 and body["targetImage"][0]["opts"] == landmarks_str(LEFT)


def test_given_https_source_then_passed_as_is(h: Harness) -> None:
    url = "https://cdn.example.com/carol.jpg"
    h.akool.faces["/carol.jpg"] = [face(0, 0, 100, 100)]
    sidecar = _ready(h, _manifest((url, 0), ("faces/alice.jpg", 1)), ALICE)
    h.event(sidecar)
    body = h.akool.submissions()[0].body
    assert body is not None and body["sourceImage"][0]["path"] == url


def test_given_s3_source_elsewhere_in_inbox_then_presigned(h: Harness) -> None:
    h.put("inbox/people/bob.png")
    h.akool.faces["people/bob.png"] = [face(5, 5, 60, 70)]
    sidecar = _ready(h, _manifest((f"s3://{BUCKET}/inbox/people/bob.png", "largest")))
    h.event(sidecar)
    body = h.akool.submissions()[0].body
    assert body is not None
    assert _presigned_key(body["sourceImage"][0]["path"]).endswith("inbox/people/bob.png")


def test_given_s3_source_naming_another_users_result_then_rejected_without_calling_akool(h: Harness) -> None:
    # Given someone else's result in the shared drop bucket, and a manifest naming it as its face
    h.put("results/other/team.swapped.jpg")
    sidecar = _ready(h, _manifest((f"s3://{BUCKET}/results/other/team.swapped.jpg", "largest")))
    # When the sidecar's event is processed
    [outcome] = h.event(sidecar)
    # Then the job is REJECTED with a report that says what to do, and AKOOL never sees the URL
    assert outcome.kind == "REJECTED"
    assert h.akool.calls == []
    report = h.report(IMAGE)
    assert report["status"] == "REJECTED" and report["error"]["code"] == "INVALID_SOURCE"
    assert "only keys under inbox/ of the drop bucket" in report["error"]["message"]
    assert h.job(IMAGE).status is Status.REJECTED


def test_given_submission_then_webhook_url_carries_job_and_token_and_only_its_hash_is_stored(
    h: Harness,
) -> None:
    sidecar = _ready(h, _manifest(("faces/alice.jpg", 0)), ALICE)
    h.event(sidecar)
    body = h.akool.submissions()[0].body
    assert body is not None
    job = h.job(IMAGE)
    hook = urlsplit(body["webhookUrl"])
    assert (
        f"{hook.scheme}://{hook.netloc}{hook.path}"
        == f"https://api.example.test/v1/webhooks/akool/{job.job_id}"
    )
    token = parse_qs(hook.query)["token"][0]
    assert job.token_hash == tokens.hash_token(token) and token not in str(job)
    assert job.akool_id and job.akool_job_id and job.submitted_at
    assert job.request_summary and job.request_summary["engine"] == "pro"


def test_given_non_drop_bucket_or_non_image_key_then_ignored(h: Harness) -> None:
    assert [o.kind for o in h.submitter().handle_object_created("other-bucket", IMAGE)] == ["IGNORED"]
    h.put("inbox/party/readme.txt")
    assert [o.kind for o in h.event("inbox/party/readme.txt")] == ["IGNORED"]
    assert h.akool.calls == []

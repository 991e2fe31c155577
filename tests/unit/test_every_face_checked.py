"""Every face is checked before a swap (issue 17, item 1; ARCHITECTURE §4 v3 "Every credit on purpose"):
each source face image is detected (an S3 source once per object version for all jobs, an https one once
per job) and must show a face, else the job is REJECTED `NO_FACE` naming the file, before any swap call;
a job keeps its detections, so a retried job asks AKOOL's detector nothing again. Moto S3/DynamoDB, AKOOL
faked at the requests boundary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

import boto3
import pytest

from devkit import images
from dropswap.adapters.akool_client import AkoolClient
from dropswap.domain import detections
from dropswap.domain.akool import AkoolError
from dropswap.domain.jobs import Status
from tests.conftest import BUCKET, REGION, TABLE
from tests.unit.akool_fake import BASE, DETECT, FakeAkool, face, fake_akool
from tests.unit.submit_harness import CREDS, Harness, make_harness

IMAGE = "inbox/party/team.jpg"
ALICE = "inbox/party/faces/alice.jpg"
CAT = "inbox/party/faces/cat.jpg"
ONE_FACE = face(120, 80, 90, 110)
CARROL_URL = "https://cdn.example.com/carol.jpg"


@pytest.fixture
def akool(resources: dict[str, str]) -> Iterator[FakeAkool]:
    yield from fake_akool()


@pytest.fixture
def h(akool: FakeAkool) -> Harness:
    akool.faces["party/team.jpg"] = [ONE_FACE]
    akool.faces["party/other.jpg"] = [ONE_FACE]
    akool.faces["party/third.jpg"] = [ONE_FACE]
    akool.faces["faces/alice.jpg"] = [face(20, 30, 120, 140)]
    akool.faces["faces/cat.jpg"] = []  # a real image without a face
    akool.faces["/carol.jpg"] = [face(0, 0, 100, 100)]
    return make_harness(akool)


def _drop(h: Harness, *swaps: tuple[str, Any], image: str = IMAGE, **top: Any) -> str:
    """The photo and the faces in S3 (no events), and the sidecar's key (its event not yet handled)."""
    for key in (ALICE, CAT):
        if h.objects.head(key) is None:
            h.put(key)
    h.put(image)
    doc = {"version": 1, "swaps": [{"source": s, "target": t} for s, t in swaps], **top}
    return h.put_manifest(image, doc)


def _detected(h: Harness) -> Counter[str]:
    """How many times AKOOL's detector was asked about each image, by its inbox key (or URL)."""
    seen: Counter[str] = Counter()
    for call in h.akool.detections():
        assert call.body is not None
        url = str(call.body["url"])
        path = unquote(urlsplit(url).path)
        seen[path.split("/staging/", 1)[-1].split("/", 2)[-1] if "/staging/" in path else url] += 1
    return seen


def _one_attempt() -> AkoolClient:
    """The submit path's client: one attempt per call (a retryable answer sends the message back)."""
    return AkoolClient(CREDS, BASE, DETECT, max_attempts=1)


# -- a face file without a face never reaches the swap ---------------------------------------------------
@pytest.mark.parametrize(
    ("target", "engine"),
    [("largest", "auto"), ("largest", "pro"), (0, "auto"), ({"x": 150, "y": 120}, "auto"), ("all", "auto")],
    ids=["largest", "largest-pro", "index", "point", "all"],
)
def test_given_a_faceless_face_file_on_the_single_face_path_then_rejected_no_face_naming_it_before_any_swap(
    h: Harness, target: Any, engine: str
) -> None:
    # Given a photo with one face, and a sidecar swapping in cat.jpg (an image with no face) on the path
    # where Pro needs no landmarks of the source
    sidecar = _drop(h, ("faces/cat.jpg", target), engine=engine)
    # When the sidecar's event is handled
    [outcome] = h.event(sidecar)
    # Then the job is REJECTED NO_FACE, the message naming the field and the file, after detecting the
    # photo and the face once each, and no swap was sent (no credit)
    assert outcome.kind == "REJECTED"
    report = h.report(IMAGE)
    assert report["status"] == "REJECTED" and report["error"]["code"] == "NO_FACE"
    assert report["error"]["message"].startswith(f"swaps[0].source: no face found in s3://{BUCKET}/{CAT}")
    assert report["akool"]["detect_calls"] == 2
    assert _detected(h) == {IMAGE: 1, CAT: 1}
    assert h.akool.submissions() == []


def test_given_two_faceless_sources_then_one_rejection_names_both(h: Harness) -> None:
    # Given a photo with two faces and a face file without a face for each
    h.akool.faces["party/team.jpg"] = [ONE_FACE, face(300, 95, 88, 104)]
    h.akool.faces["faces/dog.jpg"] = []
    h.put("inbox/party/faces/dog.jpg")
    sidecar = _drop(h, ("faces/cat.jpg", 0), ("faces/dog.jpg", 1))
    # When the sidecar's event is handled
    [outcome] = h.event(sidecar)
    # Then one rejection says what is wrong with both files at once
    assert outcome.kind == "REJECTED"
    error = h.report(IMAGE)["error"]
    assert error["code"] == "NO_FACE"
    assert "swaps[0].source: no face found in" in error["message"] and CAT in error["message"]
    assert "swaps[1].source: no face found in" in error["message"] and "faces/dog.jpg" in error["message"]
    assert h.akool.submissions() == []


def test_given_a_faceless_https_face_then_rejected_naming_the_url_before_any_swap(h: Harness) -> None:
    # Given a sidecar whose face is an https URL AKOOL's detector finds no face in
    h.akool.faces["/empty.jpg"] = []
    url = "https://cdn.example.com/empty.jpg"
    sidecar = _drop(h, (url, "largest"))
    # When the sidecar's event is handled
    [outcome] = h.event(sidecar)
    # Then the URL was detected (AKOOL's detector takes a URL) and the job rejected, naming it
    assert outcome.kind == "REJECTED"
    error = h.report(IMAGE)["error"]
    assert error["code"] == "NO_FACE"
    assert error["message"].startswith(f"swaps[0].source: no face found in {url}")
    assert _detected(h)[url] == 1 and h.akool.submissions() == []


# -- each source version is detected once, for every job --------------------------------------------------
def test_given_three_photos_sharing_one_face_then_the_face_is_detected_once(h: Harness) -> None:
    # Given three photos, each with a sidecar naming the same face file
    photos = [IMAGE, "inbox/party/other.jpg", "inbox/party/third.jpg"]
    # When their sidecars' events are handled one after the other
    outcomes = [h.event(_drop(h, ("faces/alice.jpg", "largest"), image=p)) for p in photos]
    # Then all are submitted, each photo was detected once and the face only once
    assert [o.kind for [o] in outcomes] == ["SUBMITTED"] * 3
    assert _detected(h) == {**dict.fromkeys(photos, 1), ALICE: 1}
    # And the first job paid for that detection, the others found it kept for the face's version
    assert [h.job(p).request_summary["detect_calls"] for p in photos] == [2, 1, 1]  # type: ignore[index]
    # And it is kept in the Jobs table as no job: under its own key, with a ttl and no index attribute
    etag = h.objects.head(ALICE)
    assert etag is not None
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=TABLE, Key={"job_id": {"S": detections.source_cache_id(BUCKET, ALICE, etag.etag)}}
    )["Item"]
    assert {"faces_json", "ttl", "source"} <= set(item)
    assert not {"open_state", "waiting_for", "status", "image_key"} & set(item)


def test_given_the_face_file_replaced_by_a_faceless_one_then_the_new_version_is_detected_and_rejected(
    h: Harness,
) -> None:
    # Given a job submitted with alice.jpg
    [first] = h.event(_drop(h, ("faces/alice.jpg", "largest")))
    assert first.kind == "SUBMITTED"
    # When alice.jpg is replaced by another image without a face, and a second photo names it
    h.akool.faces["faces/alice.jpg"] = []
    h.put(ALICE, images.png(40, 30))
    [second] = h.event(_drop(h, ("faces/alice.jpg", "largest"), image="inbox/party/other.jpg"))
    # Then the new version is detected (the kept detection was of the old bytes), and the job rejected
    assert second.kind == "REJECTED" and h.report("inbox/party/other.jpg")["error"]["code"] == "NO_FACE"
    assert _detected(h)[ALICE] == 2 and len(h.akool.submissions()) == 1


def test_given_one_https_face_for_two_photos_then_it_is_detected_for_each_job(h: Harness) -> None:
    # Given two photos whose sidecars name the same https face
    for photo in (IMAGE, "inbox/party/other.jpg"):
        # When each sidecar's event is handled
        [outcome] = h.event(_drop(h, (CARROL_URL, "largest"), image=photo))
        assert outcome.kind == "SUBMITTED"
    # Then the URL was detected once per job: what a URL serves can change, so it is not shared
    assert _detected(h)[CARROL_URL] == 2


def test_given_one_face_named_by_two_swaps_then_it_is_detected_once(h: Harness) -> None:
    # Given a photo with two faces, both swapped with alice.jpg
    h.akool.faces["party/team.jpg"] = [ONE_FACE, face(300, 95, 88, 104)]
    # When the sidecar's event is handled
    [outcome] = h.event(_drop(h, ("faces/alice.jpg", 0), ("faces/alice.jpg", 1)))
    # Then alice.jpg was detected once for both swaps
    assert outcome.kind == "SUBMITTED" and _detected(h) == {IMAGE: 1, ALICE: 1}


# -- a retried job detects nothing again ---------------------------------------------------------------
def test_given_a_job_retried_after_akool_was_busy_then_no_image_is_detected_again(h: Harness) -> None:
    # Given AKOOL answers the first swap submit "Operation is too frequent" (retryable: the message
    # comes back later)
    h.akool.queue_code("pro", 1005)
    sidecar = _drop(h, ("faces/alice.jpg", 0))
    with pytest.raises(AkoolError):
        h.event(sidecar, h.submitter(akool=_one_attempt))
    assert h.job(IMAGE).status is Status.WAITING
    # When the job is tried again
    [outcome] = h.event(sidecar, h.submitter(akool=_one_attempt))
    # Then it is submitted without detecting the photo or the face again, and its report's count says so
    assert outcome.kind == "SUBMITTED"
    assert _detected(h) == {IMAGE: 1, ALICE: 1}
    assert h.job(IMAGE).request_summary["detect_calls"] == 2  # type: ignore[index]


class BusyOnDetecting(AkoolClient):
    """AKOOL answers 1005 (retryable) to the detection of an image whose URL holds `needle`, once."""

    tripped: ClassVar[set[str]] = set()

    def __init__(self, needle: str) -> None:
        super().__init__(CREDS, BASE, DETECT, max_attempts=1)
        self._needle = needle

    def detect_faces(self, *, url: str | None = None, **kwargs: Any) -> list[Any]:
        if url is not None and self._needle in unquote(url) and self._needle not in self.tripped:
            self.tripped.add(self._needle)
            raise AkoolError("detect_faces: Operation is too frequent", code=1005, retryable=True)
        return super().detect_faces(url=url, **kwargs)


def test_given_the_faces_detection_busy_after_the_photos_then_the_retry_detects_only_the_face(
    h: Harness,
) -> None:
    # Given AKOOL is too busy to detect the face once, after the photo was detected
    BusyOnDetecting.tripped = set()
    sidecar = _drop(h, ("faces/alice.jpg", "largest"))
    with pytest.raises(AkoolError):
        h.event(sidecar, h.submitter(akool=lambda: BusyOnDetecting(ALICE)))
    # When the job is tried again
    [outcome] = h.event(sidecar, h.submitter(akool=lambda: BusyOnDetecting(ALICE)))
    # Then the photo's detection was kept from the first attempt: only the face is detected now
    assert outcome.kind == "SUBMITTED"
    assert _detected(h) == {IMAGE: 1, ALICE: 1}


def test_given_a_rejected_job_then_its_detections_are_not_written_twice(h: Harness) -> None:
    # Given a face file without a face / When its job is handled
    [outcome] = h.event(_drop(h, ("faces/cat.jpg", "largest")))
    # Then the job ends REJECTED, with no detections kept on it: it will never be retried
    assert outcome.kind == "REJECTED"
    job = h.job(IMAGE)
    assert job.status is Status.REJECTED and job.detections_json is None


def test_given_kept_detections_when_read_back_then_the_same_faces_and_bad_data_means_none() -> None:
    # Given a job's detections, round-tripped through the JSON the job record keeps
    data = [{"region": [1, 2, 3, 4], "landmarks": [[1, 1], [2, 2], [3, 3], [4, 4]],
             "landmarks_str": "1,1:2,2:3,3:4,4"}]
    faces = detections.faces_from_data(data)
    assert faces is not None and detections.faces_to_data(faces) == data
    kept = detections.Detections({"image": [], "s3://b/k#e": faces}, calls=2)
    text = kept.to_json()
    # Then the same faces and count come back; anything unreadable is nothing known (detect again)
    assert text is not None and detections.Detections.from_json(text) == kept
    for bad in (None, "", "not json", "[]", '{"faces": {"image": [{"region": [1]}]}}'):
        assert detections.Detections.from_json(bad).faces == {}

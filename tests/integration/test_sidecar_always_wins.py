"""A sidecar always wins, race or not (issue 17, item 3), on the local stack acting as a user: a photo's own
sidecar landing while its folder manifest's job is on its way means no swap for the folder job, and a
folder manifest deleted soon after its upload leaves every photo it covered with a report and an event."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from dropswap.domain.jobs import job_id_for
from tests.integration.helpers import ASTRONAUT, COLLAGE, HOPPER, User

pytestmark = pytest.mark.integration

T = TypeVar("T")
FOLDER_PLAN = {"version": 1, "swaps": [{"source": "../faces/hopper.jpg", "target": "largest"}]}
OWN_PLAN = {"version": 1, "swaps": [{"source": "../faces/hopper.jpg", "target": 0}]}
RACE_ROUNDS = 20


def _until(what: Callable[[], T | None], deadline: float, why: str) -> T:
    while True:
        found = what()
        if found is not None:
            return found
        assert time.monotonic() < deadline, why
        time.sleep(0.05)


def _job(user: User, job_id: str) -> dict[str, Any] | None:
    item = user.stack.client("dynamodb").get_item(
        TableName=user.stack.table, Key={"job_id": {"S": job_id}}, ConsistentRead=True
    ).get("Item")
    return {k: next(iter(v.values())) for k, v in item.items()} if item else None


def _version(user: User, key: str) -> str:
    head = user.s3.head_object(Bucket=user.bucket, Key=key)
    return str(head.get("VersionId") or head["ETag"].strip('"'))


@pytest.mark.timeout(1200)
def test_given_a_photos_sidecar_landing_while_its_folder_job_runs_then_the_folder_job_sends_no_swap(
    user: User,
) -> None:
    # Given AKOOL's answers slowed down (1 s), so a folder job spends a while between its start (its claim)
    # and its swap, and a face for the manifests
    user.admin("POST", "faults", {"response_delay_ms": 1000})
    user.put(user.prefix + "faces/hopper.jpg", HOPPER)
    deadline = time.monotonic() + 1000
    folder_jobs: dict[str, str] = {}
    for n in range(RACE_ROUNDS):
        # When a folder manifest and a photo are uploaded, and the photo's own sidecar lands as soon as the
        # folder manifest's job for the photo has started
        folder = f"{user.prefix}race{n}/"
        manifest, photo = folder + "_folder.faceswap.json", folder + "p.jpg"
        user.put(manifest, json.dumps(FOLDER_PLAN).encode(), "application/json")
        user.put(photo, ASTRONAUT if n % 2 else COLLAGE)
        job_id = job_id_for(user.bucket, manifest, _version(user, manifest), photo, _version(user, photo))
        _until(lambda: _job(user, job_id), deadline, f"round {n}: the folder job never started")  # noqa: B023
        user.put_sidecar(photo, OWN_PLAN)
        # Then the photo's report is its own sidecar's job, SUCCEEDED (one round at a time: AKOOL's slots
        # are free again for the next)
        report = user.wait_report(photo, timeout=max(1.0, deadline - time.monotonic()))
        assert report["status"] == "SUCCEEDED", (n, report)
        assert report["manifest"] == f"s3://{user.bucket}/{photo}.faceswap.json", (n, report)
        folder_jobs[job_id] = photo
    # And no folder job was sent to AKOOL: each ended superseded (REJECTED SUPERSEDED, on the record only)
    # right before its swap, or (if AKOOL's slots were taken when it got there, and its retry found the
    # sidecar first) is still WAITING for the reconciler to close it, never submitted
    submitted = {s["job_id"] for s in user.submissions()}
    assert not submitted & set(folder_jobs)
    assert len(submitted) == RACE_ROUNDS
    ends = {}
    for job_id in folder_jobs:
        job = _job(user, job_id)
        assert job is not None
        ends[job_id] = job["status"] if job["status"] == "WAITING" else job["error"]["code"]["S"]
    assert set(ends.values()) <= {"SUPERSEDED", "WAITING"} and "SUPERSEDED" in ends.values(), ends


# 0 s: deleted before SubmitFunction handles its upload event (what a backlog on the SubmitQueue makes of a
# deletion 1-2 s after upload); 1 s, 2 s: during or after the fan-out, as an idle local stack runs it.
@pytest.mark.parametrize("delete_after", [0.0, 1.0, 2.0], ids=["at-once", "1s", "2s"])
def test_given_a_folder_manifest_deleted_soon_after_upload_then_each_photo_it_covered_has_report_and_event(
    user: User, delete_after: float
) -> None:
    # Given a face, and photos already in a folder (their upload events handled, with nothing to do: the
    # SubmitQueue drained; the promise below holds whichever event comes first)
    user.put(user.prefix + "faces/hopper.jpg", HOPPER)
    folder = user.prefix + "trip/"
    photos = [f"{folder}p{i}.jpg" for i in range(4)]
    for i, photo in enumerate(photos):
        user.put(photo, ASTRONAUT if i % 2 else COLLAGE)
    user.wait_at_rest()
    # When a folder manifest is uploaded over them and deleted at once, or 1-2 s later (mid fan-out)
    manifest = folder + "_folder.faceswap.json"
    user.put(manifest, json.dumps(FOLDER_PLAN).encode(), "application/json")
    time.sleep(delete_after)
    user.s3.delete_object(Bucket=user.bucket, Key=manifest)
    # Then every photo ends with a report: SUCCEEDED if its job was submitted before the deletion, else
    # REJECTED SIDECAR_GONE; and with one event, of that job
    deadline = time.monotonic() + 240
    for photo in photos:
        report = user.wait_report(photo, timeout=max(1.0, deadline - time.monotonic()))
        assert report["status"] == "SUCCEEDED" or report["error"]["code"] == "SIDECAR_GONE", report
        assert report["manifest"] == f"s3://{user.bucket}/{manifest}"
        events = _until(lambda: user.events_for(photo) or None, deadline, f"no event for {photo}")  # noqa: B023
        assert [e["detail"]["data"]["job_id"] for e in events] == [report["job_id"]], events
    # And AKOOL was sent only the jobs that succeeded
    succeeded = {r["job_id"] for p in photos if (r := user.report(p)) and r["status"] == "SUCCEEDED"}
    assert {s["job_id"] for s in user.submissions()} == succeeded

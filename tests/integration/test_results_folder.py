"""The results folder never misleads, on the local stack, acting as a user (ARCHITECTURE §4 v2): a WAITING
report at once, a report for an unsupported file, no stale swapped image after a failing newer job, an old
sidecar version finishing late leaves the public names alone, a replaced photo is a new job."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.helpers import ASTRONAUT, HOPPER, User, results_base

pytestmark = pytest.mark.integration

ONE_SWAP = {"version": 1, "swaps": [{"source": "faces/hopper.jpg", "target": "largest"}]}


def _until(what: Callable[[], Any], timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"not within {timeout}s: {what}")


def _job(user: User, image: str, job_id: str) -> dict[str, Any]:
    return next(j for j in user.jobs_for(image) if j["job_id"] == job_id)


def test_given_relative_source_off_by_a_folder_then_waiting_report_names_key_and_hint(user: User) -> None:
    # Given the face under <prefix>faces/, and a photo in a subfolder whose sidecar says "faces/hopper.jpg"
    user.put(user.prefix + "faces/hopper.jpg", HOPPER)
    image = user.prefix + "trip/x.jpg"
    user.put(image, ASTRONAUT)
    user.put_sidecar(image, ONE_SWAP)
    # Then a WAITING report appears at once, naming the missing key and hinting at ../faces/hopper.jpg
    report = _until(lambda: (r := user.report(image)) and r["status"] == "WAITING" and r)
    [missing] = report["missing"]
    assert missing["key"] == f"s3://{user.bucket}/{user.prefix}trip/faces/hopper.jpg"
    assert "did you mean '../faces/hopper.jpg'?" in missing["hint"]
    assert user.submissions() == []


def test_given_gif_with_a_sidecar_then_unsupported_type_report(user: User) -> None:
    gif = user.prefix + "a.gif"
    user.put(gif, b"GIF89a" + bytes(32), "image/gif")
    user.put_sidecar(gif, ONE_SWAP)
    report = user.wait_report(gif)
    assert report["status"] == "REJECTED" and report["error"]["code"] == "UNSUPPORTED_TYPE", report
    assert ".jpg" in report["error"]["message"] and ".png" in report["error"]["message"]
    assert user.submissions() == []


def test_given_a_result_when_a_newer_job_fails_then_no_stale_swapped_image(user: User) -> None:
    # Given a SUCCEEDED job with its swapped image
    user.put(user.prefix + "faces/hopper.jpg", HOPPER)
    image = user.prefix + "team.jpg"
    user.put(image, ASTRONAUT)
    user.put_sidecar(image, ONE_SWAP)
    first = user.wait_report(image, status="SUCCEEDED")
    swapped = results_base(image).rsplit(".", 1)[0]
    assert user.result_keys(swapped + ".swapped")
    # When a changed sidecar's job fails at AKOOL
    user.admin("POST", "faults", {"fail_jobs": 1, "fail_reason": "model crashed"})
    user.put_sidecar(image, {**ONE_SWAP, "face_enhance": True})
    report = _until(lambda: (r := user.report(image)) and r["job_id"] != first["job_id"]
                    and r["status"] == "FAILED" and r)
    # Then its FAILED report stands alone: the older swapped image is gone
    assert report["error"]["code"] == "AKOOL_FAILED"
    assert user.result_keys(swapped + ".swapped") == []


def test_given_old_sidecar_job_finishing_late_then_public_names_untouched(user: User) -> None:
    # Given a job whose callbacks are all lost (it stays open in the table though AKOOL has finished it)
    user.put(user.prefix + "faces/hopper.jpg", HOPPER)
    image = user.prefix + "late.jpg"
    user.admin("POST", "faults", {"drop_webhooks": 100})
    user.put(image, ASTRONAUT)
    user.put_sidecar(image, ONE_SWAP)
    [old] = _until(lambda: user.submissions())
    # Waited for: the pipeline at rest (submit queue drained, AKOOL quiet: its callbacks dropped, not pending;
    # finalise queue drained), so clearing the fault cannot let a callback through and the table is final
    user.wait_at_rest()
    [akool_job] = user.admin("GET", "jobs")["jobs"]
    assert akool_job["status"] == 3 and [w["state"] for w in akool_job["webhooks"]] == ["dropped"] * 2
    user.admin("DELETE", "faults")
    assert _job(user, image, old["job_id"])["status"] in ("SUBMITTED", "PROCESSING")
    # When a changed sidecar's job succeeds, and then the reconciler finishes the old job late
    user.put_sidecar(image, {**ONE_SWAP, "face_enhance": True})
    newer = _until(lambda: (r := user.report(image)) and r["job_id"] != old["job_id"]
                   and r["status"] == "SUCCEEDED" and r)
    result = user.result_bytes(newer)

    def old_done() -> bool:
        user.reconcile()
        return _job(user, image, old["job_id"])["status"] not in ("SUBMITTED", "PROCESSING")

    _until(old_done)
    # Then the old job ended SUPERSEDED in the table, and the report and image are the newer job's
    ended = _job(user, image, old["job_id"])
    assert ended["status"] == "FAILED" and ended["error"]["code"]["S"] == "SUPERSEDED", ended
    # Waited for: the pipeline at rest (every finalise message the reconciler queued for the old job
    # handled), so a late write of its report or image would have happened
    user.wait_at_rest()
    assert user.report(image) == newer and user.result_bytes(newer) == result


def test_given_photo_replaced_under_the_same_sidecar_then_a_new_job(user: User) -> None:
    user.put(user.prefix + "faces/hopper.jpg", HOPPER)
    image = user.prefix + "swap-me.jpg"
    user.put(image, ASTRONAUT)
    user.put_sidecar(image, ONE_SWAP)
    first = user.wait_report(image, status="SUCCEEDED")
    # When the photo is replaced (the sidecar unchanged)
    user.put(image, HOPPER)
    # Then a new job runs for it and its result replaces the old one
    second = _until(lambda: (r := user.report(image)) and r["job_id"] != first["job_id"]
                    and r["status"] == "SUCCEEDED" and r)
    assert second["result"].endswith("/swap-me.swapped.jpg")
    assert len({s["job_id"] for s in user.submissions()}) == 2

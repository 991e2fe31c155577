"""A folder manifest on the local stack, acting as a user (ARCHITECTURE §4 v2): one
`_folder.faceswap.json` over photos uploaded before and after it makes one job per photo and one report
each, at the photo's usual report name."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.integration.helpers import ASTRONAUT, COLLAGE, HOPPER, User

pytestmark = pytest.mark.integration


def test_given_folder_manifest_over_photos_before_and_after_it_then_one_job_and_one_report_each(
    user: User,
) -> None:
    # Given a face, and two photos already in the folder
    user.put(user.prefix + "faces/hopper.jpg", HOPPER)
    folder = user.prefix + "trip/"
    before = [folder + "one.jpg", folder + "two.jpg"]
    now = datetime.now(UTC)
    uploaded = now.replace(microsecond=now.microsecond // 1000 * 1000)  # the logs' timestamps have ms
    for key, body in zip(before, (ASTRONAUT, COLLAGE), strict=True):
        user.put(key, body)
    # (their upload events handled first, with nothing to do: so only the manifest's listing can find them,
    # through its SendMessageBatch to the SubmitQueue)
    for key in before:
        assert [o["status"] for o in user.wait_submit_outcomes(key, after=uploaded)] == ["IGNORED"]
    # When the folder manifest arrives, then a third photo
    manifest = {"version": 1, "swaps": [{"source": "../faces/hopper.jpg", "target": "largest"}]}
    user.put(folder + "_folder.faceswap.json", json.dumps(manifest).encode(), "application/json")
    after = folder + "three.jpg"
    user.put(after, ASTRONAUT)
    # And a GIF, which it cannot swap, dropped into the folder too
    gif = folder + "clip.gif"
    user.put(gif, b"GIF89a" + bytes(64), "image/gif")
    unsupported = user.wait_report(gif)
    assert unsupported["status"] == "REJECTED" and unsupported["error"]["code"] == "UNSUPPORTED_TYPE"
    assert unsupported["manifest"] == f"s3://{user.bucket}/{folder}_folder.faceswap.json"
    # Then each photo gets its own SUCCEEDED report, from one job, of the folder manifest
    reports = {key: user.wait_report(key, timeout=180.0) for key in [*before, after]}
    for key, report in reports.items():
        assert report["status"] == "SUCCEEDED", report
        # (the face replaced is named: the largest, with its box)
        [replaced] = report["faces"]
        assert isinstance(replaced["index"], int) and len(replaced["box"]) == 4, report
        assert report["image"] == f"s3://{user.bucket}/{key}"
        assert report["manifest"] == f"s3://{user.bucket}/{folder}_folder.faceswap.json"
        assert [j["job_id"] for j in user.jobs_for(key)] == [report["job_id"]]
    submitted = sorted(s["job_id"] for s in user.submissions())
    assert submitted == sorted(r["job_id"] for r in reports.values())
    # And the face in faces/ (another folder) is nobody's photo
    assert user.jobs_for(user.prefix + "faces/hopper.jpg") == []

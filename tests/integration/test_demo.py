"""`make demo`'s drop, run on the session's local stack (the same code `make demo` runs): every photo ends
as the demo expects, and the page shows each one, the folder manifest's photos and the faces preview."""

from __future__ import annotations

from pathlib import Path

import pytest

from local import demo
from tests.integration.helpers import User

pytestmark = pytest.mark.integration


def test_given_the_demo_drop_then_every_photo_ends_as_expected_and_the_page_shows_it(
    user: User, tmp_path: Path
) -> None:
    # Given the demo's inputs dropped on the local stack (sidecar jobs, a faces preview, a folder manifest)
    # When their reports are in and the page is written
    reports, events, page, planned = demo.run(user.stack, timeout=240.0, out=tmp_path)
    # Then every photo ended as expected: the folder manifest made one job per photo of its folder
    assert {k: r["status"] for k, r in reports.items()} == demo.expected()
    # And as `dropswap plan` said before the upload, with one credit for each swap job (5), none for the
    # faces preview or the rejection, whose two problems were both named
    assert {j.photo: demo.PLAN_ENDS[j.outcome] for j in planned} == demo.expected()
    assert sum(j.credits for j in planned) == sum(j.outcome == "SWAP" for j in planned) == 5
    wrong = reports[demo.PREFIX + "wrong.jpg"]["error"]["message"]
    assert "plain http is not accepted" in wrong and 'engine: "turbo" is not valid' in wrong
    # And each ended job's one completion event was received, shown on the page with its metadata
    assert {k: [e["detail"]["data"]["job_id"] for e in found] for k, found in events.items()} == {
        k: [r["job_id"]] for k, r in reports.items()
    }
    folder_jobs = {reports[k]["job_id"] for k in demo.FOLDER.photo_keys}
    assert len(folder_jobs) == 3
    manifest = f"s3://{user.bucket}/{demo.FOLDER.manifest_key}"
    assert {reports[k]["manifest"] for k in demo.FOLDER.photo_keys} == {manifest}
    # And the page shows each folder photo's swapped image, and the faces preview inline
    text = page.read_text("utf-8")
    for n in range(3):
        assert f"src='folder-{n}-after.jpg'" in text and (tmp_path / f"folder-{n}-after.jpg").stat().st_size
    [faces_job] = [i for i, job in enumerate(demo.JOBS) if job.manifest.get("mode") == "faces"]
    preview = tmp_path / f"{faces_job}-faces.html"
    assert f"<iframe src='{preview.name}'" in text
    assert text.count("<li><b>Job Succeeded</b>") == 6 and text.count("<li><b>Job Rejected</b>") == 1
    assert "{&quot;album&quot;: &quot;trip&quot;}" in text
    assert preview.read_text("utf-8").count('<div class="face"') == 2  # the collage's two faces

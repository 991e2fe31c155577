"""dropswap status: the jobs of a folder from their reports, as a table or JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.cli.conftest import BUCKET, run_cli

REPORTS = {
    "results/party/a.jpg.result.json": {"status": "SUCCEEDED", "result": f"s3://{BUCKET}/results/party/a.swapped.jpg",
                                        "error": None, "timings": {"finished_at": "2026-12-01T06:00:00Z"}},
    "results/party/b.png.result.json": {"status": "REJECTED", "result": None,
                                        "error": {"code": "NO_FACE", "message": "no face found"}},
    "results/party/c.jpg.result.json": {"status": "SUCCEEDED", "result": None, "error": None},
    "results/other/d.jpg.result.json": {"status": "FAILED", "result": None,
                                        "error": {"code": "AKOOL_FAILED", "message": "x"}},
}


@pytest.fixture
def reports(s3: Any) -> None:
    for key, report in REPORTS.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(report).encode())
    s3.put_object(Bucket=BUCKET, Key="results/party/a.swapped.jpg", Body=b"x")


def test_given_reports_when_status_json_for_a_folder_then_its_jobs_and_counts_agree_with_the_reports(
    reports: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given reports in two folders, When status --json for one (named as inbox/party/)
    assert run_cli("status", "inbox/party/", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    # Then exactly that folder's reports, each with its photo, and the counts by status
    assert data["counts"] == {"REJECTED": 1, "SUCCEEDED": 2}
    assert [job["photo"] for job in data["jobs"]] == ["party/a.jpg", "party/b.png", "party/c.jpg"]
    assert all(job["report"] == REPORTS[job["report_key"]] for job in data["jobs"])


def test_given_reports_when_status_without_folder_then_a_table_of_every_job_and_a_summary(
    reports: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given reports in two folders, When status for every folder
    assert run_cli("status") == 0
    out = capsys.readouterr().out
    # Then a row per job with its error or result, and the counts
    assert "other/d.jpg" in out and "AKOOL_FAILED: x" in out and "results/party/a.swapped.jpg" in out
    assert "4 job(s) under s3://" in out and "1 FAILED, 1 REJECTED, 2 SUCCEEDED" in out


def test_given_no_reports_when_status_then_no_jobs_and_exit_0(
    s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an empty bucket, When status, Then it says there are no jobs
    assert run_cli("status", "party") == 0
    assert "0 job(s)" in capsys.readouterr().out

"""dropswap status: the jobs of a folder from their reports, as a table or JSON."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from dropswap_cli import progress
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


LONG = "party/" + "a-very-long-name-chosen-by-the-uploader-" * 3 + "IMG_0001.jpg"
LIVE = {
    f"results/{LONG}.result.json": {
        "job_id": "j1", "status": "WAITING", "waiting_for": "input", "expires_at": "2026-12-02T06:00:00.000Z",
        "missing": [{"field": "swaps[0].source", "key": "inbox/party/faces/alice.jpg", "message": "not there",
                     "did_you_mean": ["inbox/party/faces/alice.jpeg"]}]},
    "results/party/q.jpg.result.json": {"job_id": "j2", "status": "QUEUED",
                                        "timings": {"queued_at": "2026-12-01T06:01:02.000Z"}},
    "results/party/p.jpg.result.json": {"job_id": "j3", "status": "PROCESSING",
                                        "timings": {"submitted_at": "2026-12-01T06:02:03.000Z"}},
    "results/party/s.jpg.result.json": {"job_id": "j4", "status": "WAITING", "waiting_for": "AKOOL slot",
                                        "expires_at": "2026-12-02T06:00:00.000Z"},
    "results/party/b.jpg.result.json": {"job_id": "j5", "status": "WAITING", "waiting_for": "credit budget",
                                        "expires_at": "2026-12-02T06:00:00.000Z",
                                        "budget": {"resets_at": "2026-12-02T00:00:00Z"}},
    # Today's WAITING report: a list-valued waiting_for, no expires_at.
    "results/party/old.jpg.result.json": {"job_id": "j6", "status": "WAITING", "waiting_for": [
        {"field": "image", "key": "inbox/party/old.jpg", "message": "m"}]},
    "results/party/done.jpg.result.json": {
        "job_id": "j7", "status": "SUCCEEDED", "result": f"s3://{BUCKET}/results/party/done.swapped.jpg",
        "timings": {"submitted_at": "2026-12-01T06:00:00.000Z", "finished_at": "2026-12-01T06:00:30.000Z"}},
}


@pytest.fixture
def live(s3: Any) -> None:
    for key, report in LIVE.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(report).encode())


@pytest.mark.parametrize("columns", [80, 100, 250])
def test_given_live_reports_when_status_at_a_width_then_one_line_per_job_that_fits_and_says_where_it_is(
    live: None, columns: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given reports in every live state (one with a long name), When status at 80, 100 or 250 columns
    monkeypatch.setenv("COLUMNS", str(columns))
    assert run_cli("status") == 0
    lines = capsys.readouterr().out.splitlines()
    # Then every line fits min(columns, 100), with one line per job and its state's words and time
    assert all(len(text) <= min(columns, 100) for text in lines), lines
    rows = [text for text in lines if text.startswith("party/") and not text.startswith("party/ [")]
    assert len(rows) == len(LIVE)

    def row(start: str) -> str:
        return next(text for text in rows if text.startswith(start))

    assert "…" in row("party/a-very") and row("party/a-very").split()[0].endswith("IMG_0001.jpg")
    assert " WAITING " in row("party/a-very") and "until 12-02 06:00" in row("party/a-very")
    assert "QUEUED     since 12-01 06:01 waiting for its turn" in row("party/q.jpg")
    assert "PROCESSING since 12-01 06:02 at AKOOL" in row("party/p.jpg")
    if columns >= 100:
        assert "missing inbox/party/faces/alice.jpg (" in row("party/a-very")
        assert "until 12-02 06:00 waiting for an AKOOL slot" in row("party/s.jpg")
        assert "waiting for the credit budget (" in row("party/b.jpg")
        assert "missing inbox/party/old.jpg" in row("party/old.jpg")
    # And the folder's progress line: its bar, done/total and states, and an ETA from the finished job
    progress_line = next(text for text in lines if text.startswith("party/ ["))
    assert "1/7" in progress_line and "ETA " in progress_line and "ETA unknown" not in progress_line


def test_given_live_reports_when_status_wide_then_full_names_and_details_in_a_table(
    live: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the same reports, When status --wide on a terminal wide enough not to fold them
    monkeypatch.setenv("COLUMNS", "400")
    assert run_cli("status", "--wide") == 0
    # Then the long name and the whole detail are there, uncut
    out = capsys.readouterr().out
    assert LONG in out and "…" not in out.split(" job(s) ")[0]
    assert ("missing inbox/party/faces/alice.jpg (did you mean inbox/party/faces/alice.jpeg?); gives up at "
            "2026-12-02T06:00:00.000Z") in out


def test_given_live_reports_when_status_filtered_then_only_those_states_in_any_case_and_list(
    live: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the same reports, When filtered by a comma list and a repeated option, in any case
    assert run_cli("status", "--status", "queued,Processing", "--status", "succeeded", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    # Then only those jobs, and their counts
    assert data["counts"] == {"PROCESSING": 1, "QUEUED": 1, "SUCCEEDED": 1}
    assert [job["photo"] for job in data["jobs"]] == ["party/done.jpg", "party/p.jpg", "party/q.jpg"]
    # When the lines are filtered to WAITING, Then the four WAITING jobs and nothing else
    assert run_cli("status", "--status", "waiting") == 0
    rows = [text for text in capsys.readouterr().out.splitlines() if text.startswith("party/")
            and " WAITING " in text]
    assert len(rows) == 4


def test_given_an_unknown_state_when_status_filtered_then_a_usage_error_listing_the_states(
    s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given no reports, When filtered by a state that does not exist, Then exit 2 naming the states
    with pytest.raises(SystemExit) as exit_info:
        run_cli("status", "--status", "DONE")
    assert exit_info.value.code == 2
    assert "QUEUED, WAITING, PROCESSING, SUCCEEDED, FAILED, REJECTED" in capsys.readouterr().err


def test_given_only_unfinished_jobs_when_status_then_eta_unknown_until_one_has_finished(
    s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a folder where no job has finished yet
    s3.put_object(Bucket=BUCKET, Key="results/party/q.jpg.result.json",
                  Body=json.dumps(LIVE["results/party/q.jpg.result.json"]).encode())
    # When status, Then its progress line says the ETA is unknown
    assert run_cli("status") == 0
    assert "0/1" in capsys.readouterr().out.split("ETA unknown")[0]


def test_given_a_long_folder_name_and_many_states_when_its_progress_line_is_made_then_it_fits_80_columns(
) -> None:
    # Given a folder with an uploader's long name (with a control character) and jobs in every state
    counts = Counter({"SUCCEEDED": 7, "REJECTED": 1, "FAILED": 2, "PROCESSING": 4, "QUEUED": 20,
                      "WAITING": 3})
    name = "inbox-of-a-team-with-a-very-long-name\x1b[31m/" * 3
    # When its line is made for 80 columns
    text = progress.folder_line(name, counts, "ETA 1h05m", 80)
    # Then it fits, escaped and shortened in the middle, with the bar, done/total and the ETA kept
    assert len(text) <= 80 and "\x1b" not in text and "…" in text
    assert "10/37" in text and text.endswith("ETA 1h05m") and "[" in text and "]" in text
    assert progress.bar(counts).count("#") == round(7 * 20 / 37)


def test_given_a_waiting_report_when_its_missing_inputs_shown_then_drop_keys_lose_the_bucket_uri() -> None:
    # Given a WAITING report whose missing inputs are one key in the drop's inbox/ and one in another bucket
    from dropswap_cli.reports import missing

    report = {
        "status": "WAITING", "waiting_for": "input", "image": f"s3://{BUCKET}/inbox/party/a.jpg",
        "missing": [
            {"field": "swaps[0].source", "key": f"s3://{BUCKET}/inbox/party/faces/hoper.jpg",
             "did_you_mean": [f"s3://{BUCKET}/inbox/party/faces/hopper.jpg"]},
            {"field": "swaps[1].source", "key": "s3://other-bucket/inbox/b.jpg"},
        ],
    }
    # When the CLI says what it waits for
    shown = missing(report)
    # Then the drop's key reads as the user named it under inbox/ (a 100-column row keeps its name), and a
    # key elsewhere stays whole
    assert shown[0].startswith("party/faces/hoper.jpg (did you mean ")
    assert shown[1] == "s3://other-bucket/inbox/b.jpg"

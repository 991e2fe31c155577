"""`make up`'s console: the outcome line of each report, the bucket watcher that finds them, `--watch DIR` as
`dropswap sync` on the local stack, and native stderr kept off the terminal (local/outcomes.py,
local/watch.py, local/native_stderr.py)."""

from __future__ import annotations

import io
import json
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from rich.console import Console

from dropswap_cli.stack import Stack
from dropswap_cli.sync import SETTLE_SECONDS, FolderSync
from local.events_feed import EventsFeed
from local.native_stderr import native_stderr_to
from local.outcomes import MAX_MESSAGE, OutcomePrinter, outcome_line
from local.watch import BucketWatcher, DropFolderLoop, ResultsFeed, bucket_watch, drop_folder_sync

BUCKET = "drop"
REPORT = "results/party/team.jpg.result.json"


def _report(status: str, **fields: Any) -> dict[str, Any]:
    return {"job_id": "j1", "status": status, "image": f"s3://{BUCKET}/inbox/party/team.jpg",
            "manifest": f"s3://{BUCKET}/inbox/party/team.jpg.faceswap.json", "result": None,
            "error": None, "akool": {}, "timings": {}, **fields}


# -- the line ---------------------------------------------------------------------------------------------
def test_given_a_succeeded_report_when_formatted_then_status_photo_and_swapped_image() -> None:
    report = _report("SUCCEEDED", result=f"s3://{BUCKET}/results/party/team.swapped.jpg")
    line = outcome_line(REPORT, report, "07:00:01")
    assert line == "07:00:01 SUCCEEDED inbox/party/team.jpg → results/party/team.swapped.jpg"


def test_given_a_rejected_report_when_formatted_then_code_first_message_line_and_report_path() -> None:
    message = "swaps[0].target: no face at (5, 5)\nfaces found: 0:(1,2,3,4)"
    error = {"code": "FACE_NOT_FOUND", "message": message}
    line = outcome_line(REPORT, _report("REJECTED", error=error), "07:00:02")
    assert line == ("07:00:02 REJECTED  inbox/party/team.jpg FACE_NOT_FOUND: "
                    "swaps[0].target: no face at (5, 5) → results/party/team.jpg.result.json")


def test_given_a_failed_report_with_a_very_long_message_when_formatted_then_the_message_is_cut() -> None:
    error = {"code": "AKOOL_FAILED", "message": "x" * 1000}
    line = outcome_line(REPORT, _report("FAILED", error=error), "t")
    # Then the line carries the code and at most MAX_MESSAGE characters of the message, marked as cut
    assert f"AKOOL_FAILED: {'x' * (MAX_MESSAGE - 1)}… →" in line
    assert "x" * MAX_MESSAGE not in line


def test_given_a_waiting_report_with_missing_inputs_and_more_when_formatted_then_each_is_named() -> None:
    # Given a WAITING report as the stack writes it (input_gate: `waiting_for`, each {field, key, message,
    # hint?}), and fields the console does not know
    missing = [{"field": "image", "key": "s3://b/inbox/party/faces/a.jpg", "message": "not there yet"},
               {"field": "swaps[0].source", "key": "s3://b/inbox/party/faces/hopper.jpg", "message": "m",
                "hint": "did you mean ../faces/hopper.jpg?\nmore"}]
    report = _report("WAITING", waiting_for=missing, faces=[{"index": 0}], metadata={"order": 1},
                     extra={"x": 1})
    line = outcome_line(REPORT, report, "07:00:03")
    # Then every missing input is listed, the hint's first line with it, and the report is where to look
    assert line == ("07:00:03 WAITING   inbox/party/team.jpg missing s3://b/inbox/party/faces/a.jpg, "
                    "s3://b/inbox/party/faces/hopper.jpg (did you mean ../faces/hopper.jpg?)"
                    " → results/party/team.jpg.result.json")


def test_given_a_report_waiting_for_the_credit_budget_when_formatted_then_it_says_until_when() -> None:
    # Given a WAITING report of a job the daily credit budget holds back (submission.wait_for_credit)
    budget = {"credits_per_day": 100, "day": "2026-11-05", "spent": 100, "needed": 1,
              "resets_at": "2026-11-06T00:00:00+00:00", "message": "m"}
    report = _report("WAITING", waiting_for="credit budget", budget=budget)
    # Then the line says what it waits for and when that resets, and where the report is
    assert outcome_line(REPORT, report, "07:00:04") == (
        "07:00:04 WAITING   inbox/party/team.jpg waiting for the credit budget (resets "
        "2026-11-06T00:00:00+00:00, or raise AkoolCreditBudgetPerDay) → results/party/team.jpg.result.json")


def test_given_live_reports_when_formatted_then_each_says_where_the_job_is_and_until_when() -> None:
    # Given reports QUEUED, PROCESSING, and WAITING for an input (the v3 shape) and for an AKOOL slot
    queued = _report("QUEUED", timings={"queued_at": "2026-12-01T06:00:00.000Z"})
    processing = _report("PROCESSING", timings={"submitted_at": "2026-12-01T06:00:05.000Z"})
    missing = _report("WAITING", waiting_for="input", expires_at="2026-12-02T06:00:00.000Z", missing=[
        {"field": "swaps[0].source", "key": "inbox/party/faces/al.jpg", "message": "m",
         "did_you_mean": ["inbox/party/faces/al.jpeg"]}])
    slot = _report("WAITING", waiting_for="AKOOL slot", expires_at="2026-12-02T06:00:00.000Z")
    # When formatted, Then each line says it
    assert "queued since 2026-12-01T06:00:00.000Z" in outcome_line(REPORT, queued, "t")
    assert "at AKOOL since 2026-12-01T06:00:05.000Z" in outcome_line(REPORT, processing, "t")
    assert ("missing inbox/party/faces/al.jpg (did you mean inbox/party/faces/al.jpeg?); gives up at "
            "2026-12-02T06:00:00.000Z") in outcome_line(REPORT, missing, "t")
    slot_line = outcome_line(REPORT, slot, "t")
    assert "waiting for an AKOOL slot; gives up at 2026-12-02T06:00:00.000Z" in slot_line


def test_given_a_report_without_image_or_status_when_formatted_then_photo_comes_from_the_report_key() -> None:
    line = outcome_line(REPORT, {"error": {"code": "UNSUPPORTED_TYPE"}}, "t")
    assert line == "t ?         inbox/party/team.jpg UNSUPPORTED_TYPE → results/party/team.jpg.result.json"
    # And a report that is not an object says so
    assert "not a report object" in outcome_line(REPORT, ["SUCCEEDED"], "t")


# -- the watcher -----------------------------------------------------------------------------------------
@pytest.fixture
def s3(aws_env: None) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def _put(s3: Any, key: str, body: object) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    s3.put_object(Bucket=BUCKET, Key=key, Body=data)


def _watcher(s3: Any, lines: list[str]) -> BucketWatcher:
    printer = OutcomePrinter(s3, BUCKET, lines.append, clock=lambda: "t")
    return BucketWatcher(ResultsFeed(s3, BUCKET), printer, lines.append)


def test_given_reports_appear_and_change_when_watched_then_one_line_per_outcome(s3: Any) -> None:
    lines: list[str] = []
    watcher = _watcher(s3, lines)
    # Given a WAITING report
    _put(s3, REPORT, _report("WAITING", waiting_for=[{"key": "inbox/party/faces/a.jpg"}]))
    watcher.once()
    # When it is rewritten with the same outcome (other timings), then replaced by the job's end
    watcher.once()
    _put(s3, REPORT, _report("WAITING", waiting_for=[{"key": "inbox/party/faces/a.jpg"}], timings={"at": 2}))
    watcher.once()
    _put(s3, "results/party/team.swapped.jpg", b"jpeg")
    _put(s3, REPORT, _report("SUCCEEDED", result=f"s3://{BUCKET}/results/party/team.swapped.jpg"))
    watcher.once()
    watcher.once()
    # Then each outcome is printed once, in order, and the swapped image gets no line of its own
    assert lines == [
        "t WAITING   inbox/party/team.jpg missing inbox/party/faces/a.jpg"
        " → results/party/team.jpg.result.json",
        "t SUCCEEDED inbox/party/team.jpg → results/party/team.swapped.jpg",
    ]


def test_given_a_newer_job_with_the_same_status_when_watched_then_its_outcome_is_printed(s3: Any) -> None:
    lines: list[str] = []
    watcher = _watcher(s3, lines)
    error = {"code": "FACE_NOT_FOUND", "message": "no face"}
    _put(s3, REPORT, _report("REJECTED", error=error))
    watcher.once()
    # When a changed sidecar's job (another job id) ends the same way
    _put(s3, REPORT, {**_report("REJECTED", error=error), "job_id": "j2"})
    watcher.once()
    # Then both outcomes are on the console
    assert len(lines) == 2 and all("REJECTED" in line for line in lines)


def test_given_a_report_not_json_when_watched_then_it_says_so_and_later_prints_the_fix(s3: Any) -> None:
    lines: list[str] = []
    watcher = _watcher(s3, lines)
    _put(s3, REPORT, b"{half")
    watcher.once()
    _put(s3, REPORT, _report("SUCCEEDED"))
    watcher.once()
    assert len(lines) == 2
    assert "not JSON" in lines[0] and lines[1].startswith("t SUCCEEDED inbox/party/team.jpg")


def test_given_a_failing_round_when_watched_then_it_says_why_and_the_next_round_retries(s3: Any) -> None:
    lines: list[str] = []
    watcher = _watcher(s3, lines)
    _put(s3, REPORT, _report("SUCCEEDED"))
    real_get = s3.get_object
    s3.get_object = lambda **kw: (_ for _ in ()).throw(RuntimeError("connection reset"))
    watcher.once()
    s3.get_object = real_get
    watcher.once()
    # Then the failure is one line, and the report is printed on the next round
    assert lines[0] == f"[watch] {REPORT}: connection reset"
    assert lines[1].startswith("t SUCCEEDED")


# -- --watch DIR: `dropswap sync` on the local stack ----------------------------------------------------
def _local_json(tmp_path: Path) -> Path:
    path = tmp_path / "state" / "local.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"aws_endpoint_url": "https://127.0.0.1:4566", "region": "us-east-1",
                                "bucket": BUCKET, "ca_bundle": None}))
    return path


def test_given_make_ups_local_json_when_a_drop_folder_is_watched_then_it_is_dropswap_sync_in_loop_mode(
    tmp_path: Path,
) -> None:
    # Given the local.json `make up` wrote, and a drop folder not created yet
    local_json = _local_json(tmp_path)
    folder = tmp_path / "drop"
    out = Console(file=io.StringIO())
    # When make up sets up its drop folder
    sync = drop_folder_sync(local_json, folder, out)
    # Then it is the CLI's FolderSync on that stack, as `dropswap sync DIR` finds it: DIR stands for inbox/,
    # files wait to settle as in the CLI's loop, lines go to make up's console
    assert isinstance(sync, FolderSync)
    assert (sync.stack.bucket, sync.stack.s3.meta.endpoint_url) == (BUCKET, "https://127.0.0.1:4566")
    assert sync.stack.description == f"the local stack ({local_json})"
    assert (sync.root, sync.folder, sync.settle, sync.out) == (folder, "", SETTLE_SECONDS, out)
    assert folder.is_dir()


@pytest.mark.parametrize("watch", [True, False])
def test_given_make_up_when_it_watches_the_bucket_then_one_printer_speaks(
    tmp_path: Path, aws_env: None, watch: bool
) -> None:
    # Given make up's stack, deployed (its local.json written), with or without a drop folder
    folder = tmp_path / "drop" if watch else None
    s3 = boto3.client("s3", region_name="us-east-1")
    # When it sets up its watcher thread's loop
    loop = bucket_watch(_local_json(tmp_path), s3, BUCKET, folder, print)
    # Then one loop prints outcomes: with --watch, dropswap sync's (uploads, downloads and outcome lines);
    # else the outcome printer's
    if watch:
        assert isinstance(loop, DropFolderLoop) and loop.sync.root == folder
    else:
        assert isinstance(loop, BucketWatcher)


# -- what others chose, on make up's console (issue 18 item 4) -------------------------------------------
# A key with invalid rich markup, ESC (a colour change), BEL, a C1 CSI and a line separator.
NASTY = "a[/]b\x1b[31mred\x07\x9b2J\u2028x.jpg"
UNSAFE = ("\x1b", "\x07", "\x9b", "\u2028")


def test_given_a_report_with_control_characters_when_watched_then_its_line_shows_them_escaped(
    s3: Any,
) -> None:
    # Given a report under a nasty key, whose message carries an OSC title sequence
    lines: list[str] = []
    error = {"code": "NO_FACE", "message": "no face\x1b]0;owned\x07"}
    _put(s3, f"results/{NASTY}.result.json", {"job_id": "j", "status": "REJECTED", "error": error})
    # When make up (no --watch) prints its outcome
    _watcher(s3, lines).once()
    # Then one line, with every control character escaped and the markup-like text as it is
    [shown] = lines
    assert "inbox/a[/]b\\x1b[31mred\\x07\\x9b2J\\u2028x.jpg NO_FACE: no face\\x1b]0;owned\\x07" in shown
    assert not any(c in shown for c in UNSAFE)


def test_given_an_event_with_control_characters_in_its_key_and_metadata_when_fed_then_escaped(
    tmp_path: Path, aws_env: None
) -> None:
    # Given make up's events feed, and a Job Rejected event for a nasty key with nasty metadata
    with mock_aws():
        events, sqs = boto3.client("events"), boto3.client("sqs")
        events.create_event_bus(Name="bus")
        lines: list[str] = []
        stop = threading.Event()

        def console(text: str) -> None:
            lines.append(text)
            stop.set()

        feed = EventsFeed(events, sqs, "bus", tmp_path / "events.jsonl", console)
        event = {"detail-type": "Job Rejected", "detail": {"metadata": {"id": "e1"}, "data": {
            "image": {"key": f"inbox/{NASTY}"}, "metadata": {"note": "\x9b31m\x7f"}}}}
        sqs.send_message(QueueUrl=feed.queue_url, MessageBody=json.dumps(event))
        # When the feed runs until it printed the event
        feed.run(stop)
    # Then its line shows the key and the metadata with each control character escaped
    [shown] = lines
    assert shown.startswith("[event] Job Rejected: inbox/a[/]b\\x1b[31mred")
    assert '"note": "\\x9b31m\\x7f"' in shown and not any(c in shown for c in (*UNSAFE, "\x7f"))


def test_given_a_markup_key_and_control_characters_when_make_up_watches_a_drop_folder_then_the_loop_goes_on(
    tmp_path: Path, s3: Any
) -> None:
    # Given make up's --watch loop (its console as make up builds it) and two reports: one under a nasty
    # key, and an ordinary one
    _put(s3, f"results/{NASTY}.result.json", {"job_id": "j", "status": "FAILED", "error": None})
    _put(s3, "results/ok.jpg.result.json", {"job_id": "k", "status": "FAILED", "error": None})
    out = io.StringIO()
    console = Console(file=out, soft_wrap=True, highlight=False)
    stack = Stack("the local stack", BUCKET, s3)
    loop = DropFolderLoop(FolderSync(stack, tmp_path / "drop", "", console, settle=0.0))
    (tmp_path / "drop").mkdir()
    rounds: list[float] = []

    class TwoRounds(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            rounds.append(timeout or 0.0)
            return len(rounds) > 2

    # When the loop runs two passes
    loop.run(TwoRounds())
    # Then both outcomes are printed, the nasty key as text with control characters escaped, no pass failed
    shown = out.getvalue()
    assert "✗ a[/]b\\x1b[31mred\\x07\\x9b2J\\u2028x.jpg FAILED" in shown and "✗ ok.jpg FAILED" in shown
    assert "sync pass failed" not in shown and not any(c in shown for c in UNSAFE)


# -- native stderr ---------------------------------------------------------------------------------------
def test_given_native_stderr_redirected_when_a_library_writes_to_fd_2_then_it_goes_to_the_log(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "logs" / "up-stderr.log"
    # When a C++ library writes to fd 2 and Python writes to sys.stderr, inside the redirect
    with native_stderr_to(log):
        os.write(2, b"W0000 inference_feedback_manager.cc:114] Feedback manager\n")
        print("python traceback", file=sys.stderr, flush=True)
    os.write(2, b"after\n")
    # Then the native text is only in the log; Python's stderr and fd 2 after it still reach the terminal
    err = capfd.readouterr().err
    assert "Feedback manager" in log.read_text()
    assert "Feedback manager" not in err
    assert "python traceback" in err and "after" in err

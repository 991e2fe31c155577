"""dropswap sync: local files go up when new or changed, results come down, outcomes are printed."""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from dropswap_cli import objects, reports
from dropswap_cli.stack import Stack
from dropswap_cli.sync import FolderSync
from tests.cli.conftest import BUCKET, JPEG, FakePipeline, photo, run_cli


def _drop(root: Path) -> None:
    photo(root / "party", "team.jpg")
    photo(root / "party" / "faces", "alice.jpg", JPEG + b"alice")
    sidecar = {"version": 1, "swaps": [{"source": "faces/alice.jpg", "target": "largest"}]}
    (root / "party" / "team.jpg.faceswap.json").write_text(json.dumps(sidecar))


def _modified(s3: Any) -> dict[str, Any]:
    return {o["Key"]: o["LastModified"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}


def test_given_a_dropped_photo_when_synced_twice_then_it_goes_up_and_its_result_comes_down_with_a_line(
    tmp_path: Path, pipeline: FakePipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a folder with a photo, a face and a sidecar, and ignorable files
    root = tmp_path / "drop"
    _drop(root)
    photo(root / "party", ".hidden.jpg")
    photo(root / "party", "half.jpg.part")
    # When synced once
    assert run_cli("sync", str(root), "--once") == 0
    # Then the files are under inbox/ at their relative paths (nothing hidden or partial)
    assert pipeline.keys("inbox/") == ["inbox/party/faces/alice.jpg", "inbox/party/team.jpg",
                                       "inbox/party/team.jpg.faceswap.json"]
    assert "↑ party/team.jpg" in capsys.readouterr().out
    # When the stack has processed it and the folder is synced again
    pipeline.run()
    assert run_cli("sync", str(root), "--once") == 0
    # Then the swapped photo and the report are in DIR/results/, with one outcome line naming the result
    assert (root / "results" / "party" / "team.swapped.jpg").read_bytes() == b"swapped:" + JPEG
    report = json.loads((root / "results" / "party" / "team.jpg.result.json").read_text())
    assert report["status"] == "SUCCEEDED"
    out = capsys.readouterr().out
    assert f"✓ party/team.jpg SUCCEEDED → {root / 'results' / 'party' / 'team.swapped.jpg'}" in out
    assert "↑" not in out  # nothing went up again, and the results did not go back up


def test_given_a_synced_folder_when_one_file_changes_then_only_that_file_goes_up_again(
    tmp_path: Path, s3: Any, uploads: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a folder already synced
    root = tmp_path / "drop"
    _drop(root)
    assert run_cli("sync", str(root), "--once") == 0
    assert len(uploads) == 3
    capsys.readouterr()
    # When the photo changes (same size, other bytes) and it is synced again (a new run: no memory)
    team = root / "party" / "team.jpg"
    team.write_bytes(JPEG[:-1] + b"\x01")
    os.utime(team, (1, 1))
    assert run_cli("sync", str(root), "--once") == 0
    # Then only the photo was uploaded again, and said so, with the count of the files not sent again
    assert uploads[3:] == ["inbox/party/team.jpg"]
    assert capsys.readouterr().out.splitlines() == [
        "↑ party/team.jpg",
        f"skipped 2 file(s) already in s3://{BUCKET}/inbox/ with the same content: not sent again"]
    etag = s3.head_object(Bucket=BUCKET, Key="inbox/party/team.jpg")["ETag"].strip('"')
    assert etag == hashlib.md5(team.read_bytes(), usedforsecurity=False).hexdigest()


def test_given_results_already_local_when_synced_then_nothing_downloaded_or_printed(
    tmp_path: Path, pipeline: FakePipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a folder whose result already came down
    root = tmp_path / "drop"
    _drop(root)
    run_cli("sync", str(root), "--once")
    pipeline.run()
    run_cli("sync", str(root), "--once")
    capsys.readouterr()
    # When synced again, Then it prints only the count of files not sent again (no outcome repeated)
    assert run_cli("sync", str(root), "--once") == 0
    assert capsys.readouterr().out == (f"skipped 3 file(s) already in s3://{BUCKET}/inbox/ with the same "
                                       "content: not sent again\n")


def test_given_a_rejected_job_when_its_report_comes_down_then_the_line_says_why(
    tmp_path: Path, pipeline: FakePipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a dropped photo that the stack rejects
    pipeline.status, pipeline.error = "REJECTED", {"code": "NO_FACE", "message": "no face found"}
    root = tmp_path / "drop"
    _drop(root)
    run_cli("sync", str(root), "--once")
    pipeline.run()
    # When synced, Then one line with the status and the error
    run_cli("sync", str(root), "--once")
    assert "✗ party/team.jpg REJECTED NO_FACE: no face found" in capsys.readouterr().out


def test_given_the_loop_when_ctrl_c_then_a_clean_exit_0_after_syncing(
    tmp_path: Path, s3: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a folder with files old enough to go up, and Ctrl-C during the first pause
    root = tmp_path / "drop"
    _drop(root)
    for path in root.rglob("*"):
        os.utime(path, (1, 1))

    def interrupt(_seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(reports, "pause", interrupt)
    # When sync loops, Then it synced once, and exits 0 saying it stopped
    assert run_cli("sync", str(root)) == 0
    assert "inbox/party/team.jpg" in _modified(s3)
    assert "stopped" in capsys.readouterr().err


@pytest.mark.parametrize("evil", ["/tmp/evil.jpg.result.json", "../evil.jpg.result.json",
                                  "a/./evil.jpg.result.json", "a\\..\\evil.jpg.result.json"])
def test_given_a_result_key_that_would_leave_the_folder_when_synced_then_skipped_and_nothing_written_outside(
    tmp_path: Path, pipeline: FakePipeline, capsys: pytest.CaptureFixture[str], evil: str
) -> None:
    # Given a result key chosen by whoever uploaded to inbox/ (`//`, `..`, `.` or a backslash in it)
    root = tmp_path / "drop"
    root.mkdir()
    pipeline.s3.put_object(Bucket=BUCKET, Key="results/" + evil, Body=b"{}")
    # When the folder is synced
    assert run_cli("sync", str(root), "--once") == 0
    # Then that object is skipped with a line saying why, and no file exists outside DIR/results/
    assert "skipped" in capsys.readouterr().out
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert all(root / "results" in p.parents for p in written), written
    assert not Path("/tmp/evil.jpg.result.json").exists()


def _folder_sync(s3: Any, root: Path) -> tuple[FolderSync, io.StringIO]:
    lines = io.StringIO()
    return FolderSync(Stack("a test stack", BUCKET, s3), root, "", Console(file=lines), settle=0.0), lines


def test_given_a_failing_pass_when_looping_then_one_line_says_so_and_the_next_pass_retries(
    tmp_path: Path, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a dropped photo whose first upload fails (the file went away while it was read)
    root = tmp_path / "drop"
    photo(root, "me.jpg")
    sync, out = _folder_sync(s3, root)
    err = io.StringIO()
    real, failures = objects.upload, [OSError("me.jpg: gone")]

    def flaky(*args: Any) -> str:
        if failures:
            raise failures.pop()
        return real(*args)

    monkeypatch.setattr(objects, "upload", flaky)
    waits: list[float] = []

    def stopped(seconds: float) -> bool:
        waits.append(seconds)
        return len(waits) > 2

    # When the loop runs two passes
    sync.run_until(stopped, 3.0, Console(file=err))
    # Then the failure is one line, the second pass uploaded the photo, and the loop waited between passes
    assert err.getvalue() == "sync pass failed (me.jpg: gone); retrying\n"
    assert out.getvalue() == "↑ me.jpg\n"
    assert waits == [3.0, 3.0, 3.0]


def test_given_a_report_rewritten_with_the_same_outcome_when_synced_again_then_no_second_line(
    tmp_path: Path, s3: Any
) -> None:
    # Given a report that came down and printed its outcome
    root = tmp_path / "drop"
    root.mkdir()
    report = {"job_id": "j1", "status": "REJECTED", "error": {"code": "NO_FACE", "message": "no face"}}
    s3.put_object(Bucket=BUCKET, Key="results/me.jpg.result.json", Body=json.dumps(report).encode())
    sync, out = _folder_sync(s3, root)
    sync.once()
    # When the stack rewrites it with the same outcome (a retried final write, other timings), then the
    # job's next outcome
    rewritten = {**report, "timings": {"at": 2}}
    s3.put_object(Bucket=BUCKET, Key="results/me.jpg.result.json", Body=json.dumps(rewritten).encode())
    sync.once()
    s3.put_object(Bucket=BUCKET, Key="results/me.jpg.result.json",
                  Body=json.dumps({**report, "job_id": "j2"}).encode())
    sync.once()
    # Then the rewritten copy is saved, and each outcome is printed once
    assert json.loads((root / "results" / "me.jpg.result.json").read_text())["job_id"] == "j2"
    assert out.getvalue().splitlines() == ["✗ me.jpg REJECTED NO_FACE: no face"] * 2


def test_given_a_waiting_report_when_it_comes_down_then_the_line_names_what_it_waits_for(
    tmp_path: Path, s3: Any
) -> None:
    # Given a WAITING report naming a missing face, with a hint
    root = tmp_path / "drop"
    root.mkdir()
    waiting = [{"field": "swaps[0].source", "key": f"s3://{BUCKET}/inbox/party/faces/a.jpg", "message": "m",
                "hint": "did you mean ../faces/a.jpg?\nmore"}]
    report = {"job_id": "j1", "status": "WAITING", "error": None, "waiting_for": waiting}
    s3.put_object(Bucket=BUCKET, Key="results/party/me.jpg.result.json", Body=json.dumps(report).encode())
    sync, out = _folder_sync(s3, root)
    # When synced, Then its line names the missing input and the hint's first line
    sync.once()
    assert out.getvalue().splitlines()[0] == (f"… party/me.jpg WAITING missing s3://{BUCKET}/inbox/party/"
                                              "faces/a.jpg (did you mean ../faces/a.jpg?)")


def test_given_a_synced_folder_when_the_loop_restarts_then_nothing_goes_up_and_the_count_is_said_once(
    tmp_path: Path, s3: Any, uploads: list[str]
) -> None:
    # Given a folder a first loop has synced
    root = tmp_path / "drop"
    _drop(root)
    _folder_sync(s3, root)[0].once()
    assert len(uploads) == 3
    # When a new loop (a restarted `make up --watch`) runs two passes
    sync, out = _folder_sync(s3, root)
    sync.once()
    sync.once()
    # Then nothing went up again, and one line said how many files were skipped
    assert len(uploads) == 3
    assert out.getvalue().splitlines() == [
        f"skipped 3 file(s) already in s3://{BUCKET}/inbox/ with the same content: not sent again"]


def _report(s3: Any, rel: str, report: dict[str, Any]) -> None:
    s3.put_object(Bucket=BUCKET, Key=f"results/{rel}.result.json", Body=json.dumps(report).encode())


def test_given_a_local_swapped_photo_when_a_newer_report_is_rejected_or_a_faces_job_then_it_is_removed(
    tmp_path: Path, s3: Any
) -> None:
    # Given a.jpg and b.jpg swapped, their results synced down, and a user's photo named like an output
    root = tmp_path / "drop"
    root.mkdir()
    for name in ("a", "b"):
        s3.put_object(Bucket=BUCKET, Key=f"results/party/{name}.swapped.jpg", Body=b"swapped")
        _report(s3, f"party/{name}.jpg", {"job_id": f"{name}1", "status": "SUCCEEDED",
                                          "result": f"s3://{BUCKET}/results/party/{name}.swapped.jpg"})
    photo(root / "party", "a.swapped.jpg")  # in DIR, not under results/: the user's, never touched
    sync, out = _folder_sync(s3, root)
    sync.once()
    results = root / "results" / "party"
    assert (results / "a.swapped.jpg").is_file() and (results / "b.swapped.jpg").is_file()
    # When a's newer job is REJECTED (the stack removed its swapped photo) and b's is a faces job (the
    # stack leaves the swapped photo)
    s3.delete_object(Bucket=BUCKET, Key="results/party/a.swapped.jpg")
    _report(s3, "party/a.jpg", {"job_id": "a2", "status": "REJECTED",
                                "error": {"code": "NO_FACE", "message": "m"}})
    for ext in ("json", "html"):
        s3.put_object(Bucket=BUCKET, Key=f"results/party/b.jpg.faces.{ext}", Body=b"faces")
    _report(s3, "party/b.jpg", {"job_id": "b2", "status": "SUCCEEDED",
                                "result": f"s3://{BUCKET}/results/party/b.jpg.faces.html"})
    sync.once()
    sync.once()
    # Then both local swapped photos are gone (and b's is not brought down again), each said once; the
    # faces files came down; the user's file is untouched
    assert not (results / "a.swapped.jpg").exists() and not (results / "b.swapped.jpg").exists()
    assert (results / "b.jpg.faces.html").is_file() and (results / "b.jpg.faces.json").is_file()
    assert (root / "party" / "a.swapped.jpg").is_file()
    removed = [text for text in out.getvalue().splitlines() if text.startswith("removed")]
    assert removed == ["removed results/party/a.swapped.jpg: no longer current (its photo's latest report "
                       "says so)", "removed results/party/b.swapped.jpg: no longer current (its photo's "
                       "latest report says so)"]


def test_given_live_reports_when_synced_then_each_state_change_and_the_folder_progress_are_printed(
    tmp_path: Path, s3: Any
) -> None:
    # Given a job QUEUED, then PROCESSING, then SUCCEEDED, with another already finished in its folder
    root = tmp_path / "drop"
    root.mkdir()
    _report(s3, "party/done.jpg", {"job_id": "d", "status": "FAILED", "error": {"code": "X", "message": "m"},
                                   "timings": {"submitted_at": "2026-12-01T06:00:00.000Z",
                                               "finished_at": "2026-12-01T06:00:40.000Z"}})
    sync, out = _folder_sync(s3, root)
    for report in ({"status": "QUEUED", "timings": {"queued_at": "2026-12-01T06:01:00.000Z"}},
                   {"status": "PROCESSING", "timings": {"submitted_at": "2026-12-01T06:01:05.000Z"}}):
        _report(s3, "party/me.jpg", {"job_id": "j", **report})
        # When synced after each change
        sync.once()
    lines = out.getvalue().splitlines()
    # Then a line per state, and the folder's progress after each, with an ETA from the finished job
    assert "… party/me.jpg QUEUED queued since 2026-12-01T06:01:00.000Z" in lines
    assert "… party/me.jpg PROCESSING at AKOOL since 2026-12-01T06:01:05.000Z" in lines
    progress_lines = [text for text in lines if text.startswith("party/ [")]
    assert len(progress_lines) == 2 and all("1/2" in text and "ETA 40s" in text for text in progress_lines)

"""The CLI never uploads its own outputs (issue 17 item 2): `swap`, `sync` (and so `make up --watch`) skip
`*.swapped.*`, `*.faces.*`, `*.result.json` and anything under the local results folder, whatever glob the
user typed, and say once how many they skipped."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from dropswap_cli.stack import Stack
from dropswap_cli.sync import FolderSync
from tests.cli.conftest import BUCKET, JPEG, FakePipeline, photo, run_cli

SKIPPED_3 = "skipped 3 file(s) that are dropswap's own outputs"


def _party(folder: Path) -> list[Path]:
    return [photo(folder, f"{name}.jpg", JPEG + name.encode()) for name in ("alpha", "bravo", "charlie")]


def test_given_a_glob_run_twice_when_swapped_then_the_results_beside_the_photos_are_skipped_3_jobs_not_6(
    tmp_path: Path, pipeline: FakePipeline, uploads: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given `dropswap swap party/*.jpg --face alice.jpg` run once: the results are saved beside the photos
    party = tmp_path / "party"
    face = photo(tmp_path, "alice.jpg", JPEG + b"alice")
    assert run_cli("swap", *map(str, _party(party)), "--face", str(face)) == 0
    assert (party / "alpha.swapped.jpg").is_file() and len(pipeline.jobs) == 3
    sent = len(uploads)
    capsys.readouterr()
    # When the same glob is run again (the shell now expands it to the swapped photos too)
    glob = sorted(party.glob("*.jpg"))
    assert len(glob) == 6
    assert run_cli("swap", *map(str, glob), "--face", str(face)) == 0
    # Then no swapped photo went up, no job ran again: 3 jobs in all, and one line said how many were skipped
    assert [k for k in uploads[sent:] if "swapped" in k] == []
    assert pipeline.jobs == ["inbox/party/alpha.jpg", "inbox/party/bravo.jpg", "inbox/party/charlie.jpg"]
    assert not (party / "alpha.swapped.swapped.jpg").exists()
    assert capsys.readouterr().err.count(SKIPPED_3) == 1


def test_given_a_glob_over_everything_when_swapped_then_reports_and_faces_files_are_skipped_not_refused(
    tmp_path: Path, pipeline: FakePipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a folder holding a photo, its report, and a faces list and preview (`swap party/*`)
    party = tmp_path / "party"
    team = photo(party, "team.jpg")
    for name in ("team.jpg.result.json", "team.faces.json", "team.JPG.FACES.HTML"):
        (party / name).write_text("{}")
    # When swapped with a glob naming them all
    code = run_cli("swap", *map(str, sorted(party.iterdir())), "--face", str(photo(tmp_path, "f.jpg")))
    # Then the photo is swapped (no "not a supported photo type" error for the others), and they are skipped
    assert code == 0 and pipeline.jobs == [f"inbox/party/{team.name}"]
    assert SKIPPED_3 in capsys.readouterr().err


def test_given_only_outputs_when_swapped_then_a_usage_error_and_nothing_uploaded(
    tmp_path: Path, s3: Any, uploads: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given only swapped photos
    done = [photo(tmp_path / "p", "a.swapped.jpg"), photo(tmp_path / "p", "B.Swapped.PNG")]
    # When swapped
    code = run_cli("swap", *map(str, done), "--face", str(photo(tmp_path, "f.jpg")))
    # Then exit 2 saying there is nothing to swap, and nothing was uploaded
    assert code == 2 and uploads == []
    assert "nothing to swap" in capsys.readouterr().err


def test_given_a_renamed_file_under_a_synced_results_folder_when_swapped_then_it_is_skipped(
    tmp_path: Path, pipeline: FakePipeline, uploads: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a drop folder synced once (its results/ folder made by sync), and a result copied there under a
    # name without the output suffix
    root = tmp_path / "drop"
    photo(root, "me.jpg")
    assert run_cli("sync", str(root), "--once") == 0
    copy = photo(root / "results" / "party", "copy.jpg")
    real = photo(tmp_path / "trip", "real.jpg")
    capsys.readouterr()
    # When both are swapped
    assert run_cli("swap", str(copy), str(real), "--face", str(photo(tmp_path, "f.jpg"))) == 0
    # Then only the real photo went up, and the skip was said
    assert "inbox/trip/copy.jpg" not in uploads and "inbox/trip/real.jpg" in uploads
    assert "skipped 1 file(s) that are dropswap's own outputs" in capsys.readouterr().err


def _folder_sync(s3: Any, root: Path) -> tuple[FolderSync, io.StringIO]:
    lines = io.StringIO()
    return FolderSync(Stack("a test stack", BUCKET, s3), root, "", Console(file=lines), settle=0.0), lines


def test_given_outputs_in_the_drop_folder_when_synced_then_they_never_go_up_and_the_count_is_said_once(
    tmp_path: Path, pipeline: FakePipeline
) -> None:
    # Given a drop folder where `dropswap swap` saved its results beside a photo, and a sidecar for it
    root = tmp_path / "drop"
    photo(root / "party", "team.jpg")
    photo(root / "party", "team.swapped.jpg")
    (root / "party" / "team.jpg.result.json").write_text("{}")
    (root / "party" / "team.faces.html").write_text("<html></html>")
    sidecar = {"version": 1, "swaps": [{"source": "../me.jpg", "target": "largest"}]}
    (root / "party" / "team.jpg.faceswap.json").write_text(json.dumps(sidecar))
    photo(root, "me.jpg")
    sync, out = _folder_sync(pipeline.s3, root)
    # When synced, twice (make up --watch's loop)
    sync.once()
    sync.once()
    # Then only the photo, the face and the sidecar went up, and one line said how many were skipped
    assert pipeline.keys("inbox/") == ["inbox/me.jpg", "inbox/party/team.jpg",
                                       "inbox/party/team.jpg.faceswap.json"]
    lines = out.getvalue().splitlines()
    assert [ln for ln in lines if ln.startswith("skipped")] == [
        "skipped 3 file(s) named like dropswap's own outputs (*.swapped.*, *.faces.*, *.result.json): "
        "they never go up"]
    # And when one more output appears, the new count is said once
    photo(root / "party", "other.swapped.jpg")
    sync.once()
    sync.once()
    assert out.getvalue().count("skipped 4 file(s)") == 1


def test_given_a_face_file_that_is_an_output_when_faces_runs_then_refused_before_any_upload(
    tmp_path: Path, s3: Any, uploads: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a swapped photo, When `dropswap faces` is asked for it, Then a usage error and nothing uploaded
    assert run_cli("faces", str(photo(tmp_path, "a.swapped.jpg"))) == 2
    assert uploads == [] and "own outputs" in capsys.readouterr().err


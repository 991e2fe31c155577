"""dropswap swap: manifests, uploads and key layout, waiting, results beside the photos, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dropswap_cli import manifests, reports
from tests.cli.conftest import BUCKET, PNG, FakePipeline, photo, run_cli


def _face_key(keys: list[str]) -> str:
    return next(k for k in keys if "/faces/" in k)


def test_given_two_photos_and_a_face_when_swapped_then_sidecars_name_the_face_and_results_land_beside(
    tmp_path: Path, pipeline: FakePipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given two photos in a folder "party" and a face elsewhere
    a, b = photo(tmp_path / "party", "a.jpg"), photo(tmp_path / "party", "b.png", PNG)
    face = photo(tmp_path / "faces", "alice.jpg")
    # When swapped onto the largest face with the pro engine
    code = run_cli("swap", str(a), str(b), "--face", str(face), "--engine", "pro")
    # Then the drop folder holds the photos, the face (under a digest folder) and one sidecar per photo
    keys = pipeline.keys("inbox/")
    face_key = _face_key(keys)
    assert face_key.startswith("inbox/party/faces/") and face_key.endswith("/alice.jpg")
    assert set(keys) == {"inbox/party/a.jpg", "inbox/party/b.png", face_key,
                         "inbox/party/a.jpg.faceswap.json", "inbox/party/b.png.faceswap.json"}
    # And each sidecar names the face relative to its folder
    source = face_key[len("inbox/party/"):]
    expected = {"version": 1, "swaps": [{"source": source, "target": "largest"}], "engine": "pro"}
    assert pipeline.manifests == {"inbox/party/a.jpg.faceswap.json": expected,
                                  "inbox/party/b.png.faceswap.json": expected}
    # And the swapped photos and reports are beside the photos, the exit code 0, with a summary table
    assert code == 0
    assert (tmp_path / "party" / "a.swapped.jpg").read_bytes() == b"swapped:" + a.read_bytes()
    assert (tmp_path / "party" / "b.swapped.png").is_file()
    report = json.loads((tmp_path / "party" / "a.jpg.result.json").read_text())
    assert report["status"] == "SUCCEEDED" and report["result"] == f"s3://{BUCKET}/results/party/a.swapped.jpg"
    out = capsys.readouterr().out
    assert "2 of 2 succeeded" in out and str(tmp_path / "party" / "a.swapped.jpg") in out


def test_given_engine_in_capitals_when_swapped_then_the_manifest_spells_it_as_the_schema(
    tmp_path: Path, pipeline: FakePipeline
) -> None:
    # Given --engine PRO, as a manifest may write it in any case
    a, face = photo(tmp_path / "party", "a.jpg"), photo(tmp_path / "faces", "alice.jpg")
    # When swapped, Then the sidecar says "pro"
    assert run_cli("swap", str(a), "--face", str(face), "--engine", "PRO") == 0
    assert pipeline.manifests["inbox/party/a.jpg.faceswap.json"]["engine"] == "pro"


def test_given_folder_manifest_option_when_swapped_then_one_folder_manifest_and_no_sidecars(
    tmp_path: Path, pipeline: FakePipeline
) -> None:
    # Given two photos
    a, b = photo(tmp_path / "trip", "a.jpg"), photo(tmp_path / "trip", "b.jpg", JPEG_B)
    face = photo(tmp_path, "face.jpg")
    # When swapped with --folder-manifest, a point target and a prefix
    code = run_cli("swap", str(a), str(b), "--face", str(face), "--folder-manifest", "--target", "410,220",
                   "--prefix", "inbox/team/")
    # Then one _folder.faceswap.json under the prefix, with the point target, and no sidecar
    keys = pipeline.keys("inbox/")
    assert "inbox/team/_folder.faceswap.json" in keys
    assert not [k for k in keys if k.endswith(".jpg.faceswap.json")]
    manifest = pipeline.manifests["inbox/team/_folder.faceswap.json"]
    assert manifest["swaps"][0]["target"] == {"x": 410, "y": 220} and "engine" not in manifest
    # And both jobs' results come back
    assert code == 0 and (tmp_path / "trip" / "b.swapped.jpg").is_file()


JPEG_B = b"\xff\xd8\xff\xe1" + b"another photo"


def test_given_a_job_that_is_rejected_when_swapped_then_exit_1_and_the_report_saved_with_its_error(
    tmp_path: Path, pipeline: FakePipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a stack that rejects the job
    pipeline.status, pipeline.error = "REJECTED", {"code": "NO_FACE", "message": "no face in the photo"}
    a, face = photo(tmp_path / "p", "a.jpg"), photo(tmp_path, "f.jpg")
    # When swapped
    code = run_cli("swap", str(a), "--face", str(face))
    # Then the exit code is 1, no swapped photo, the report is saved and the table says why
    assert code == 1
    assert not (tmp_path / "p" / "a.swapped.jpg").exists()
    assert json.loads((tmp_path / "p" / "a.jpg.result.json").read_text())["status"] == "REJECTED"
    out = capsys.readouterr().out
    assert "NO_FACE: no face in the photo" in out and "0 of 1 succeeded" in out


def test_given_an_old_report_when_the_photo_is_swapped_again_with_another_face_then_it_waits_for_the_new(
    tmp_path: Path, pipeline: FakePipeline
) -> None:
    # Given a photo swapped once, and the stack now failing
    a = photo(tmp_path / "p", "a.jpg")
    assert run_cli("swap", str(a), "--face", str(photo(tmp_path, "f.jpg"))) == 0
    pipeline.status, pipeline.error = "FAILED", {"code": "AKOOL_FAILED", "message": "x"}
    # When swapped again with another face of the same file name
    code = run_cli("swap", str(a), "--face", str(photo(tmp_path / "other", "f.jpg", JPEG_B)))
    # Then a new job ran (a new manifest: the face's key changed) and its outcome, not the old one, counts
    assert pipeline.jobs == ["inbox/p/a.jpg", "inbox/p/a.jpg"]
    assert code == 1


def test_given_everything_already_uploaded_when_swapped_again_then_nothing_is_uploaded_and_results_reused(
    tmp_path: Path, pipeline: FakePipeline, uploads: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a photo already swapped with this face
    a, face = photo(tmp_path / "p", "a.jpg"), photo(tmp_path, "f.jpg")
    assert run_cli("swap", str(a), "--face", str(face)) == 0
    assert len(uploads) == 3
    (tmp_path / "p" / "a.swapped.jpg").unlink()
    # When the same command runs again
    code = run_cli("swap", str(a), "--face", str(face))
    # Then nothing new is uploaded, no second job runs, and the result comes back again
    assert len(uploads) == 3 and pipeline.jobs == ["inbox/p/a.jpg"]
    assert code == 0 and (tmp_path / "p" / "a.swapped.jpg").is_file()
    assert "nothing new to upload" in capsys.readouterr().err


def test_given_a_stack_that_never_answers_when_the_timeout_passes_then_exit_1_naming_the_wait(
    tmp_path: Path, s3: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a stack that writes nothing (no pipeline), and a zero timeout
    from dropswap_cli import reports

    monkeypatch.setattr(reports, "pause", lambda _s: None)
    a, face = photo(tmp_path / "p", "a.jpg"), photo(tmp_path, "f.jpg")
    # When swapped
    code = run_cli("swap", str(a), "--face", str(face), "--timeout", "0")
    # Then exit 1, saying there was no report and how to look later
    assert code == 1
    assert "no report after 0s" in capsys.readouterr().out


@pytest.mark.parametrize(("text", "target"), [
    ("largest", "largest"), ("ALL", "all"), ("2", 2), ("410,220", {"x": 410, "y": 220}),
])
def test_given_a_target_option_when_parsed_then_the_manifest_target(text: str, target: object) -> None:
    # Given --target text, When parsed, Then the manifest's target
    assert manifests.parse_target(text) == target


def test_given_a_bad_target_when_run_then_usage_error_saying_the_forms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given --target -1, When run, Then argparse's usage error (exit 2) lists the accepted forms
    with pytest.raises(SystemExit) as exit_:
        run_cli("swap", "a.jpg", "--face", "f.jpg", "--target", "-1")
    assert exit_.value.code == 2
    assert "largest, all, a face index" in capsys.readouterr().err


def test_given_a_swapped_photo_when_swapped_again_and_the_new_job_fails_then_the_old_result_is_removed(
    tmp_path: Path, pipeline: FakePipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a photo swapped once (its swapped photo and report saved beside it), and the stack now failing
    a = photo(tmp_path / "p", "a.jpg")
    assert run_cli("swap", str(a), "--face", str(photo(tmp_path, "f.jpg"))) == 0
    assert (tmp_path / "p" / "a.swapped.jpg").is_file()
    pipeline.status, pipeline.error = "FAILED", {"code": "AKOOL_FAILED", "message": "x"}
    capsys.readouterr()
    # When swapped again with another face
    assert run_cli("swap", str(a), "--face", str(photo(tmp_path / "other", "f.jpg", JPEG_B))) == 1
    # Then the old swapped photo, which the old report named, is gone, said in a line; the photo is kept
    assert not (tmp_path / "p" / "a.swapped.jpg").exists() and a.is_file()
    assert f"removed {tmp_path / 'p' / 'a.swapped.jpg'}: no longer current" in capsys.readouterr().out


def test_given_a_job_queued_then_finished_when_swapped_then_each_state_is_a_line_as_it_changes(
    tmp_path: Path, pipeline: FakePipeline, s3: Any, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a stack that first writes a QUEUED report, then does the job
    def queued_then_run(_seconds: float = 0) -> None:
        key = "results/p/a.jpg.result.json"
        if pipeline.jobs or key in pipeline.keys("results/"):
            pipeline.run()
            return
        queued = {"job_id": "j", "status": "QUEUED", "timings": {"queued_at": "2026-12-01T06:00:00.000Z"}}
        s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(queued).encode())

    monkeypatch.setattr(reports, "pause", queued_then_run)
    a = photo(tmp_path / "p", "a.jpg")
    # When swapped
    assert run_cli("swap", str(a), "--face", str(photo(tmp_path, "f.jpg"))) == 0
    # Then a line for each state as it came, QUEUED (with since when) before SUCCEEDED
    err = capsys.readouterr().err
    assert "p/a.jpg QUEUED queued since 2026-12-01T06:00:00.000Z" in err
    assert err.index("p/a.jpg QUEUED") < err.index("p/a.jpg SUCCEEDED")

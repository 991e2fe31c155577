"""dropswap faces: a faces-mode manifest goes up, the faces list and preview come back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dropswap_cli import reports
from tests.cli.conftest import BUCKET, PNG, FakePipeline, photo, run_cli


def test_given_a_photo_when_faces_then_mode_faces_manifest_and_the_preview_saved_beside_and_printed(
    tmp_path: Path, pipeline: FakePipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a photo
    a = photo(tmp_path / "party", "team.jpg")
    # When faces runs
    code = run_cli("faces", str(a))
    # Then the sidecar asks for faces mode only
    assert pipeline.manifests == {"inbox/party/team.jpg.faceswap.json": {"version": 1, "mode": "faces"}}
    # And the faces list and preview are saved beside the photo, the preview's path printed with the faces
    assert code == 0
    assert json.loads((tmp_path / "party" / "team.jpg.faces.json").read_text())["faces"][0]["index"] == 0
    preview = tmp_path / "party" / "team.jpg.faces.html"
    assert preview.read_bytes() == b"<html>faces</html>"
    out = capsys.readouterr().out
    assert f"faces preview: {preview}" in out and "[10, 20, 30, 40]" in out


def test_given_jpg_and_png_of_one_name_when_faces_of_both_then_both_previews_are_kept(
    tmp_path: Path, pipeline: FakePipeline
) -> None:
    # Given IMG_1.jpg and IMG_1.png in one folder
    jpg, png = photo(tmp_path / "party", "IMG_1.jpg"), photo(tmp_path / "party", "IMG_1.png", PNG)
    # When the faces of both are asked for
    assert run_cli("faces", str(jpg)) == 0 and run_cli("faces", str(png)) == 0
    # Then each photo's faces files are there, under its own name
    names = {"IMG_1.jpg.faces.json", "IMG_1.jpg.faces.html", "IMG_1.png.faces.json", "IMG_1.png.faces.html"}
    assert names <= {p.name for p in (tmp_path / "party").iterdir()}


def test_given_a_stack_that_rejects_faces_mode_when_faces_then_exit_1_with_the_reports_error(
    tmp_path: Path, pipeline: FakePipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a stack that rejects the manifest (one older than faces mode)
    pipeline.status = "REJECTED"
    pipeline.error = {"code": "INVALID_MANIFEST", "message": "additional property 'mode'"}
    a = photo(tmp_path / "party", "team.jpg")
    # When faces runs, Then exit 1 with a one-line message carrying the report's error
    assert run_cli("faces", str(a)) == 1
    err = capsys.readouterr().err
    assert "INVALID_MANIFEST: additional property 'mode'" in err and "Traceback" not in err


def test_given_an_older_stack_naming_faces_files_without_the_extension_when_faces_then_they_come_back(
    tmp_path: Path, s3: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a stack from before issue 18 (results/<path>/<name>.faces.json and .html, the report naming
    # the preview), and team.png's faces files beside them
    def stack_writes(_seconds: float) -> None:
        for suffix, body in ((".faces.json", b'{"faces": []}'), (".faces.html", b"<html></html>")):
            s3.put_object(Bucket=BUCKET, Key=f"results/party/team{suffix}", Body=body)
            s3.put_object(Bucket=BUCKET, Key=f"results/party/team.png{suffix}", Body=b"{}")
        report = {"status": "SUCCEEDED", "result": f"s3://{BUCKET}/results/party/team.faces.html"}
        s3.put_object(Bucket=BUCKET, Key="results/party/team.jpg.result.json", Body=json.dumps(report))

    monkeypatch.setattr(reports, "pause", stack_writes)
    a = photo(tmp_path / "party", "team.jpg")
    # When faces runs, Then both come back beside the photo and the preview's path is printed
    assert run_cli("faces", str(a), "--timeout", "5") == 0
    assert (tmp_path / "party" / "team.faces.json").is_file()
    assert f"faces preview: {tmp_path / 'party' / 'team.faces.html'}" in capsys.readouterr().out
    # And team.png's are not taken for team.jpg's
    assert not (tmp_path / "party" / "team.png.faces.json").exists()

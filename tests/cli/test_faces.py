"""dropswap faces: a faces-mode manifest goes up, the faces list and preview come back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dropswap_cli import reports
from tests.cli.conftest import BUCKET, FakePipeline, photo, run_cli


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
    assert json.loads((tmp_path / "party" / "team.faces.json").read_text())["faces"][0]["index"] == 0
    preview = tmp_path / "party" / "team.faces.html"
    assert preview.read_bytes() == b"<html>faces</html>"
    out = capsys.readouterr().out
    assert f"faces preview: {preview}" in out and "[10, 20, 30, 40]" in out


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


def test_given_faces_files_named_after_the_photo_with_its_extension_when_faces_then_they_come_back(
    tmp_path: Path, s3: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a stack that names the files results/<path>/<name>.<ext>.faces.json and .html (a variant)
    def stack_writes(_seconds: float) -> None:
        for suffix, body in ((".faces.json", b'{"faces": []}'), (".faces.html", b"<html></html>")):
            s3.put_object(Bucket=BUCKET, Key=f"results/party/team.jpg{suffix}", Body=body)

    monkeypatch.setattr(reports, "pause", stack_writes)
    a = photo(tmp_path / "party", "team.jpg")
    # When faces runs, Then both come back beside the photo and the preview's path is printed
    assert run_cli("faces", str(a), "--timeout", "5") == 0
    assert (tmp_path / "party" / "team.jpg.faces.json").is_file()
    assert f"faces preview: {tmp_path / 'party' / 'team.jpg.faces.html'}" in capsys.readouterr().out

"""A CLI that is safe with what others chose (issue 18 item 4): no symlink is followed out of the drop folder,
no result is written outside it, keys and report texts are printed as text (never markup) with control
characters escaped, and one bad report never stops the sync loop."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from dropswap_cli.printable import line, printable
from dropswap_cli.stack import Stack
from dropswap_cli.sync import FolderSync
from tests.cli.conftest import BUCKET, FakePipeline, photo, run_cli

# A key the uploader chose: invalid rich markup, ESC (a colour change), BEL, a C1 CSI, and a line separator.
NASTY = "a[/]b\x1b[31mred\x07\x9b2J\u2028x.jpg"
UNSAFE = ("\x1b", "\x07", "\x9b", "\u2028")
# A report's message, as the stack may quote an uploader's text: markup and an OSC title sequence.
ERROR = {"code": "NO_FACE", "message": "[bold red]no[/] face\x1b]0;owned\x07"}


def _folder_sync(s3: Any, root: Path) -> tuple[FolderSync, io.StringIO]:
    lines = io.StringIO()
    return FolderSync(Stack("a test stack", BUCKET, s3), root, "", Console(file=lines), settle=0.0), lines


def _put_report(s3: Any, key: str, report: dict[str, Any]) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(report).encode())


# -- the helper ------------------------------------------------------------------------------------------
def test_given_control_characters_when_made_printable_then_each_is_escaped_and_the_rest_kept() -> None:
    # Given C0, DEL, C1, line separators and bidi overrides among ordinary (non-ASCII) text
    text = "Zoë\x00\x1b\x7f\x85\x9f\u2028\u202e日本😀[/]"
    # When made printable, Then each unsafe character is an escape, the rest unchanged, and twice is once
    assert printable(text) == "Zoë\\x00\\x1b\\x7f\\x85\\x9f\\u2028\\u202e日本😀[/]"
    assert printable(printable(text)) == printable(text)
    # And a rich line shows markup-like text literally, in the CLI's own style only where it says so
    rendered = line(("✓", "green"), " ", "[bold]a[/]b")
    assert rendered.plain == "✓ [bold]a[/]b" and [s.style for s in rendered.spans] == ["green"]


# -- symlinks ----------------------------------------------------------------------------------------------
def test_given_symlinks_out_of_the_drop_folder_when_synced_then_never_uploaded_and_one_line_each(
    tmp_path: Path, pipeline: FakePipeline
) -> None:
    # Given a private key and a folder outside the drop folder, linked from inside it, and a link that stays
    secret = tmp_path / "id_rsa"
    secret.write_text("-----BEGIN OPENSSH PRIVATE KEY-----")
    outside = tmp_path / "outside"
    photo(outside, "private.jpg")
    root = tmp_path / "drop"
    photo(root, "me.jpg")
    (root / "key.jpg").symlink_to(secret)
    (root / "elsewhere").symlink_to(outside, target_is_directory=True)
    (root / "alias.jpg").symlink_to(root / "me.jpg")
    sync, out = _folder_sync(pipeline.s3, root)
    # When synced twice
    sync.once()
    sync.once()
    # Then nothing outside went up: only the photo, and the link that stays inside the folder
    assert pipeline.keys("inbox/") == ["inbox/alias.jpg", "inbox/me.jpg"]
    # And each link out was said once, in one line
    skipped = [ln for ln in out.getvalue().splitlines() if ln.startswith("skipped")]
    assert skipped == [f"skipped elsewhere: a symlink out of {root}, never followed",
                       f"skipped key.jpg: a symlink out of {root}, never followed"]


def test_given_a_symlinked_folder_under_results_when_synced_then_no_result_is_written_outside(
    tmp_path: Path, pipeline: FakePipeline
) -> None:
    # Given a folder outside the drop folder, linked as DIR/results/party, and a result for party/
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "drop"
    (root / "results").mkdir(parents=True)
    (root / "results" / "party").symlink_to(outside, target_is_directory=True)
    _put_report(pipeline.s3, "results/party/team.jpg.result.json", {"job_id": "j", "status": "SUCCEEDED"})
    pipeline.s3.put_object(Bucket=BUCKET, Key="results/party/team.swapped.jpg", Body=b"x")
    pipeline.s3.put_object(Bucket=BUCKET, Key="results/ok.jpg.result.json", Body=b"{}")
    sync, out = _folder_sync(pipeline.s3, root)
    # When synced
    sync.once()
    # Then nothing was written outside, each refused result says so, and the others came down
    assert list(outside.iterdir()) == []
    assert out.getvalue().count("leads out of") == 2
    assert (root / "results" / "ok.jpg.result.json").is_file()


def test_given_the_results_folder_itself_a_symlink_out_when_synced_then_no_result_is_written(
    tmp_path: Path, pipeline: FakePipeline
) -> None:
    # Given DIR/results linked to a folder outside DIR
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "drop"
    root.mkdir()
    (root / "results").symlink_to(outside, target_is_directory=True)
    _put_report(pipeline.s3, "results/team.jpg.result.json", {"job_id": "j", "status": "SUCCEEDED"})
    sync, out = _folder_sync(pipeline.s3, root)
    # When synced twice, Then nothing is written there, and one line says why
    sync.once()
    sync.once()
    assert list(outside.iterdir()) == []
    assert out.getvalue().count("no result is written there") == 1


def test_given_a_symlink_out_where_swap_saves_a_report_when_swapped_then_the_target_is_untouched(
    tmp_path: Path, pipeline: FakePipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a link named like the report `swap` saves beside the photo, pointing at a file outside
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    a = photo(tmp_path / "p", "a.jpg")
    (tmp_path / "p" / "a.jpg.result.json").symlink_to(precious)
    # When swapped
    code = run_cli("swap", str(a), "--face", str(photo(tmp_path, "f.jpg")))
    # Then the file outside is untouched, and the table says the report was not saved there
    assert precious.read_text() == "keep me"
    assert "leads out of" in capsys.readouterr().out and code == 1


# -- what others chose, on the console ------------------------------------------------------------------
def test_given_keys_and_messages_with_markup_and_control_characters_when_synced_then_printed_as_text(
    tmp_path: Path, pipeline: FakePipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a report under a nasty key, whose message holds markup and control characters too
    report = {"job_id": "j", "status": "REJECTED", "error": ERROR}
    _put_report(pipeline.s3, f"results/{NASTY}.result.json", report)
    root = tmp_path / "drop"
    # When synced once
    code = run_cli("sync", str(root), "--once")
    # Then it ran to the end, printing the key and message as text with each control character escaped
    out = capsys.readouterr().out
    assert code == 0
    shown = "a[/]b\\x1b[31mred\\x07\\x9b2J\\u2028x.jpg"
    assert f"✗ {shown} REJECTED NO_FACE: [bold red]no[/] face\\x1b]0;owned\\x07" in out
    assert not any(c in out for c in UNSAFE)


def test_given_keys_and_messages_with_markup_and_control_characters_when_status_then_printed_as_text(
    tmp_path: Path, s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the same report
    _put_report(s3, f"results/{NASTY}.result.json", {"job_id": "j", "status": "REJECTED", "error": ERROR})
    # When the status lines and the full table are printed
    code = run_cli("status"), run_cli("status", "--wide")
    # Then they are printed (no markup error), with the key and message as text, control characters escaped
    out = capsys.readouterr().out
    assert code == (0, 0) and "a[/]b\\x1b[31mred" in out and "[bold red]no[/]" in out
    assert "\\u2028x.jpg" in out
    assert not any(c in out for c in UNSAFE)


def test_given_a_bad_report_among_others_when_the_sync_loop_runs_then_it_goes_on_and_the_others_come_down(
    tmp_path: Path, s3: Any
) -> None:
    # Given a result object and a report whose local paths collide (a file where a folder must be), a report
    # under a markup key, and an ordinary report after them
    s3.put_object(Bucket=BUCKET, Key="results/a.jpg", Body=b"a file")
    _put_report(s3, "results/a.jpg/b.jpg.result.json", {"job_id": "j1", "status": "SUCCEEDED"})
    _put_report(s3, "results/m[/]x.jpg.result.json", {"job_id": "j2", "status": "FAILED"})
    _put_report(s3, "results/z.jpg.result.json", {"job_id": "j3", "status": "SUCCEEDED"})
    root = tmp_path / "drop"
    root.mkdir()
    sync, out = _folder_sync(s3, root)
    err = io.StringIO()
    passes: list[float] = []

    def stopped(seconds: float) -> bool:
        passes.append(seconds)
        return len(passes) > 2

    # When the loop runs two passes
    sync.run_until(stopped, 0.0, Console(file=err))
    # Then no pass failed, the other reports came down with their lines, and the bad one is said once
    assert err.getvalue() == ""
    assert (root / "results" / "z.jpg.result.json").is_file()
    lines = out.getvalue().splitlines()
    assert "✗ m[/]x.jpg FAILED " in lines and "✓ z.jpg SUCCEEDED " in lines
    assert [ln for ln in lines if ln.startswith("skipped")] == [
        ln for ln in lines if ln.startswith("skipped results/a.jpg/b.jpg.result.json: ")]
    assert len([ln for ln in lines if ln.startswith("skipped")]) == 1


def test_given_a_markup_key_when_a_cli_error_names_it_then_the_message_is_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a photo whose local name holds an escape sequence
    bad = photo(tmp_path, "x\x1b[2J.gif")
    # When swapped, Then the one-line error names it with the escape shown, not sent to the terminal
    assert run_cli("swap", str(bad), "--face", str(bad)) == 2
    err = capsys.readouterr().err
    assert "x\\x1b[2J.gif" in err and "\x1b" not in err


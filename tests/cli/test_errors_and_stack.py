"""Finding the stack (CloudFormation outputs, the local stack's local.json) and bad input: one clear line
and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from dropswap_cli import cli, stack
from local.ministack import ADMIN_KEY
from local.ministack import free_port as closed_port
from tests.cli.conftest import BUCKET, STACK, photo, run_cli


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("dropswap: error: ")
    return err


@pytest.mark.parametrize(("files", "args", "says"), [
    ({"f.jpg": b"\xff\xd8\xff"}, ["missing.jpg", "--face", "f.jpg"], "missing.jpg: no such file"),
    ({"a.gif": b"GIF89a", "f.jpg": b"\xff\xd8\xff"}, ["a.gif", "--face", "f.jpg"],
     ".gif is not a supported photo type; use one of jpg, jpeg, png, webp, bmp"),
    ({"a.jpg": b"\xff\xd8\xff", "f.jpg": b"hello, not an image"}, ["a.jpg", "--face", "f.jpg"],
     "f.jpg: not an image (its content is not JPEG, PNG, WebP or BMP)"),
    ({"a.jpg": b"\xff\xd8\xff"}, ["a.jpg", "--face", "."], ".: not a file (give the face's file)"),
])
def test_given_bad_files_when_swap_then_exit_2_with_one_line_saying_what_is_wrong(
    s3: Any, tmp_path: Path, files: dict[str, bytes], args: list[str], says: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given the files (in the current folder)
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    # When swap runs on them, Then exit 2 and one line naming the problem; nothing uploaded
    assert run_cli("swap", *args) == 2
    assert says in _one_line_error(capsys)
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)


def test_given_an_unknown_stack_name_when_run_then_exit_2_naming_the_stack_and_region(
    s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given no stack called "nope", When status runs with --stack nope
    assert cli.main(["status", "--stack", "nope"]) == 2
    # Then one line naming it and the region to check
    assert "no CloudFormation stack named 'nope' in us-east-1" in _one_line_error(capsys)


def test_given_a_stack_name_when_found_then_the_bucket_is_its_drop_bucket_output(s3: Any) -> None:
    # Given the stack in moto, When found by name, Then its DropBucketName output is the bucket
    assert stack.find(STACK, None, None).bucket == BUCKET


def test_given_no_credentials_anywhere_when_run_then_exit_2_saying_how_to_configure_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given no credentials in the environment, no config files, no instance metadata
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    # When status runs against a named stack, Then one line saying how to give credentials
    assert cli.main(["status", "--stack", "any"]) == 2
    assert "no AWS credentials found: configure them" in _one_line_error(capsys)


def test_given_rejected_credentials_when_explained_then_it_says_to_check_them() -> None:
    # Given AWS's answer to an unknown access key, When explained, Then it says to check the credentials
    exc = ClientError({"Error": {"Code": "InvalidClientTokenId", "Message": "bad"}}, "DescribeStacks")
    assert cli.explain(exc).startswith("AWS rejected the credentials (InvalidClientTokenId: bad)")


def test_given_no_stack_option_and_no_local_stack_when_run_then_it_says_how_to_name_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a folder with no .dropswap/local.json above it and no DROPSWAP_* variables
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DROPSWAP_STACK", raising=False)
    monkeypatch.delenv("DROPSWAP_LOCAL", raising=False)
    # When status runs, Then exit 2 saying to pass --stack or start the local stack
    assert cli.main(["status"]) == 2
    assert "pass --stack NAME" in _one_line_error(capsys)


def _local_json(folder: Path, port: int) -> Path:
    path = folder / ".dropswap" / "local.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"aws_endpoint_url": f"https://127.0.0.1:{port}", "region": "us-east-1",
                                "bucket": "local-drop", "ca_bundle": str(folder / "ca.pem")}))
    return path


def test_given_a_local_json_above_the_current_folder_when_found_then_its_endpoint_bucket_and_ca(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given the local stack's description in a parent folder, and the user's own AWS credentials set
    _local_json(tmp_path, 4566)
    (tmp_path / "photos").mkdir()
    monkeypatch.chdir(tmp_path / "photos")
    monkeypatch.delenv("DROPSWAP_STACK", raising=False)
    monkeypatch.delenv("DROPSWAP_LOCAL", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUSERSOWNKEY")
    # When the stack is found
    found = stack.find(None, None, None)
    # Then S3 on the local endpoint, the file's bucket, the local administrator's key (never the user's)
    assert found.bucket == "local-drop"
    assert found.s3.meta.endpoint_url == "https://127.0.0.1:4566"
    assert found.s3._request_signer._credentials.access_key == ADMIN_KEY == stack.LOCAL_ADMIN_KEY
    assert found.s3._endpoint.http_session._verify == str(tmp_path / "ca.pem")


def test_given_a_local_stack_that_is_not_running_when_run_then_it_says_to_start_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a local.json (named by DROPSWAP_LOCAL) whose endpoint nothing listens on
    monkeypatch.setenv("DROPSWAP_LOCAL", str(_local_json(tmp_path, closed_port())))
    monkeypatch.delenv("DROPSWAP_STACK", raising=False)
    # When status runs, Then exit 2 asking whether the local stack runs
    assert cli.main(["status"]) == 2
    assert "is `make up` running?" in _one_line_error(capsys)


def test_given_a_broken_local_json_when_run_then_it_names_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a local.json that is not the local stack's description
    bad = tmp_path / "local.json"
    bad.write_text("{}")
    # When status runs with --local on it, Then one line naming the file
    assert cli.main(["status", "--local", str(bad)]) == 2
    assert f"{bad}: not a local stack description" in _one_line_error(capsys)


def test_given_photos_with_the_same_name_when_swap_then_exit_2_before_any_upload(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given two photos named a.jpg in different folders
    a1, a2 = photo(tmp_path / "x", "a.jpg"), photo(tmp_path / "y", "a.jpg")
    # When swapped together, Then exit 2 naming the clash, nothing uploaded
    assert run_cli("swap", str(a1), str(a2), "--face", str(a1)) == 2
    assert "same name" in _one_line_error(capsys)
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)


def test_given_a_missing_photo_and_no_stack_when_swap_then_the_missing_file_is_what_it_reports(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given no stack configured at all, and a photo that does not exist
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DROPSWAP_STACK", raising=False)
    monkeypatch.delenv("DROPSWAP_LOCAL", raising=False)
    # When swap runs, Then the input is checked first: the message is about the file
    assert cli.main(["swap", "gone.jpg", "--face", "gone.jpg"]) == 2
    assert "gone.jpg: no such file" in _one_line_error(capsys)

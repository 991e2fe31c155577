"""The `dropswap` command as a user runs it (a process), against the local stack it finds through the
stack's local.json (DROPSWAP_LOCAL) or through CloudFormation (--stack, AWS_ENDPOINT_URL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from devkit import photos
from devkit.template import ROOT
from local.ministack import ADMIN_KEY
from local.stack import STACK_NAME, LocalStack
from tests.integration.helpers import ASTRONAUT, COLLAGE, HOPPER, User

pytestmark = pytest.mark.integration


def dropswap(stack: LocalStack, *args: str, cwd: Path, env: dict[str, str] | None = None,
             timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`dropswap ARGS` in a process, as installed (the package from the checkout), with no AWS_* settings
    of the developer's: the local stack comes from its local.json unless `env` says otherwise."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DROPSWAP_"))}
    # The checkout's CLI and the layer's domain, as `pip install .` installs them side by side.
    base.update(PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "layers" / "dropswap")]), COLUMNS="250",
                DROPSWAP_LOCAL=str(stack.config.state_dir / "local.json"), **(env or {}))
    return subprocess.run([sys.executable, "-m", "dropswap_cli", *args], cwd=cwd, env=base,
                          capture_output=True, text=True, timeout=timeout)


def _decoded(path: Path) -> Any:
    image = cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, f"{path} is not an image"
    return image


def test_given_three_photos_when_dropswap_swap_then_three_swapped_files_beside_them_and_exit_0(
    stack: LocalStack, user: User, tmp_path: Path,
) -> None:
    # Given three photos with faces in a folder, and a face
    folder = tmp_path / "party"
    folder.mkdir()
    third = photos.jpeg_bytes(photos.resize_long_side(photos.astronaut_bgr(), 400))
    for name, data in (("hopper.jpg", HOPPER), ("collage.jpg", COLLAGE), ("small.jpg", third)):
        (folder / name).write_bytes(data)
    (tmp_path / "alice.jpg").write_bytes(ASTRONAUT)
    prefix = f"cli-{uuid.uuid4().hex[:8]}/"
    # When the user runs dropswap swap on them
    done = dropswap(stack, "swap", "party/hopper.jpg", "party/collage.jpg", "party/small.jpg",
                    "--face", "alice.jpg", "--prefix", prefix, "--timeout", "240", cwd=tmp_path)
    # Then it exits 0, and each photo has its swapped photo (an image of its size) and report beside it
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 of 3 succeeded" in done.stdout
    for name in ("hopper", "collage", "small"):
        original = _decoded(folder / f"{name}.jpg")
        assert _decoded(folder / f"{name}.swapped.jpg").shape == original.shape
        report = json.loads((folder / f"{name}.jpg.result.json").read_text())
        # And the saved report is the stack's
        assert report == user.report(f"inbox/{prefix}{name}.jpg")
        assert report["status"] == "SUCCEEDED"

    # When a script asks for the folder's status by the stack's CloudFormation name (standard AWS settings)
    env = {"AWS_ENDPOINT_URL": stack.aws_endpoint, "AWS_CA_BUNDLE": str(stack.tls.bundle),
           "AWS_ACCESS_KEY_ID": ADMIN_KEY, "AWS_SECRET_ACCESS_KEY": ADMIN_KEY, "AWS_REGION": "us-east-1"}
    status = dropswap(stack, "status", prefix, "--json", "--stack", STACK_NAME, cwd=tmp_path, env=env)
    # Then its JSON agrees with the reports in the bucket
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["counts"] == {"SUCCEEDED": 3}
    names = ("collage", "hopper", "small")
    assert {job["photo"]: job["report"] for job in data["jobs"]} == {
        f"{prefix}{name}.jpg": user.report(f"inbox/{prefix}{name}.jpg") for name in names
    }


def test_given_a_synced_folder_when_a_photo_is_dropped_then_it_goes_up_and_its_result_comes_back(
    stack: LocalStack, tmp_path: Path,
) -> None:
    # Given a local folder synced with a fresh folder of the drop folder
    drop, prefix = tmp_path / "drop", f"sync-{uuid.uuid4().hex[:8]}/"
    (drop / "faces").mkdir(parents=True)
    # When the user drops a face, a photo and its sidecar and syncs (once per pass, as a script would)
    (drop / "faces" / "alice.jpg").write_bytes(ASTRONAUT)
    (drop / "me.jpg").write_bytes(HOPPER)
    manifest = {"version": 1, "swaps": [{"source": "faces/alice.jpg", "target": "largest"}]}
    (drop / "me.jpg.faceswap.json").write_text(json.dumps(manifest))
    lines = ""
    deadline = time.monotonic() + 180
    while not (drop / "results" / "me.swapped.jpg").exists() and time.monotonic() < deadline:
        done = dropswap(stack, "sync", str(drop), "--once", "--prefix", prefix, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        lines += done.stdout
        time.sleep(1)
    # Then the files went up once each, and the result and an outcome line came back
    sent = [line for line in lines.splitlines() if line.startswith("↑")]
    assert sorted(sent) == ["↑ faces/alice.jpg", "↑ me.jpg", "↑ me.jpg.faceswap.json"]
    assert _decoded(drop / "results" / "me.swapped.jpg").shape == _decoded(drop / "me.jpg").shape
    assert f"✓ me.jpg SUCCEEDED → {drop / 'results' / 'me.swapped.jpg'}" in lines


def test_given_a_wrong_stack_name_when_dropswap_runs_then_exit_2_with_one_line(
    stack: LocalStack, tmp_path: Path,
) -> None:
    # Given the local AWS as the AWS endpoint, and a stack name that does not exist there
    env = {"AWS_ENDPOINT_URL": stack.aws_endpoint, "AWS_CA_BUNDLE": str(stack.tls.bundle),
           "AWS_ACCESS_KEY_ID": ADMIN_KEY, "AWS_SECRET_ACCESS_KEY": ADMIN_KEY, "AWS_REGION": "us-east-1"}
    # When dropswap status runs with it
    done = dropswap(stack, "status", "--stack", "no-such-stack", cwd=tmp_path, env=env)
    # Then exit 2 and a single line naming the stack, no traceback
    assert done.returncode == 2
    assert done.stderr.strip() == ("dropswap: error: no CloudFormation stack named 'no-such-stack' in "
                                   "us-east-1: check --stack and the region (--region, AWS_REGION or the "
                                   "profile's)")


def test_given_a_photo_when_dropswap_faces_then_its_preview_and_faces_list_are_saved_beside_it(
    stack: LocalStack, user: User, tmp_path: Path,
) -> None:
    # Given a photo of two faces
    (tmp_path / "duo.jpg").write_bytes(COLLAGE)
    prefix = f"cli-{uuid.uuid4().hex[:8]}/"
    # When the user asks for its faces
    done = dropswap(stack, "faces", "duo.jpg", "--prefix", prefix, "--timeout", "240", cwd=tmp_path)
    # Then it exits 0 and saved the stack's faces list and preview beside the photo, printing the path
    assert done.returncode == 0, done.stdout + done.stderr
    listing = json.loads((tmp_path / "duo.jpg.faces.json").read_text())
    assert [f["index"] for f in listing["faces"]] == [0, 1]
    preview = tmp_path / "duo.jpg.faces.html"
    assert preview.read_text().count('<div class="face"') == 2
    assert "faces preview: duo.jpg.faces.html" in done.stdout  # the path as the user gave the photo's
    # And no swap was asked of AKOOL
    assert user.submissions() == []


def test_given_two_photos_when_dropswap_swap_with_a_folder_manifest_then_one_manifest_serves_both(
    stack: LocalStack, user: User, tmp_path: Path,
) -> None:
    # Given two photos and a face
    for name, data in (("one.jpg", ASTRONAUT), ("two.jpg", COLLAGE)):
        (tmp_path / name).write_bytes(data)
    (tmp_path / "face.jpg").write_bytes(HOPPER)
    prefix = f"cli-{uuid.uuid4().hex[:8]}/"
    # When the user swaps them with one folder manifest instead of a sidecar each
    done = dropswap(stack, "swap", "one.jpg", "two.jpg", "--face", "face.jpg", "--folder-manifest",
                    "--prefix", prefix, "--timeout", "240", cwd=tmp_path)
    # Then it exits 0 with both swapped beside them, each job the folder manifest's, and no sidecar made
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 of 2 succeeded" in done.stdout
    for name in ("one", "two"):
        assert _decoded(tmp_path / f"{name}.swapped.jpg").shape == _decoded(tmp_path / f"{name}.jpg").shape
        report = user.report(f"inbox/{prefix}{name}.jpg")
        assert report is not None and report["status"] == "SUCCEEDED"
        assert report["manifest"] == f"s3://{user.bucket}/inbox/{prefix}_folder.faceswap.json"
    listed = user.s3.list_objects_v2(Bucket=user.bucket, Prefix=f"inbox/{prefix}")["Contents"]
    assert [o["Key"] for o in listed if o["Key"].endswith(".faceswap.json")] == [
        f"inbox/{prefix}_folder.faceswap.json"
    ]


def _jobs_under(user: User, prefix: str) -> list[str]:
    """The image keys of every job in the Jobs table under inbox/<prefix> (one scan, as an operator would)."""
    pages = user.stack.client("dynamodb").get_paginator("scan").paginate(TableName=user.stack.table)
    keys = [item.get("image_key", {}).get("S", "") for page in pages for item in page["Items"]]
    return sorted(k for k in keys if k.startswith(f"inbox/{prefix}"))


def test_given_a_glob_run_twice_when_dropswap_swap_then_three_jobs_not_six(
    stack: LocalStack, user: User, tmp_path: Path,
) -> None:
    # Given three photos and a face, swapped once with the README's glob (the shell expands party/*.jpg)
    folder = tmp_path / "party"
    folder.mkdir()
    third = photos.jpeg_bytes(photos.resize_long_side(photos.astronaut_bgr(), 400))
    for name, data in (("alpha.jpg", HOPPER), ("bravo.jpg", COLLAGE), ("charlie.jpg", third)):
        (folder / name).write_bytes(data)
    (tmp_path / "alice.jpg").write_bytes(ASTRONAUT)
    prefix = f"glob-{uuid.uuid4().hex[:8]}/"

    def swap_glob() -> subprocess.CompletedProcess[str]:
        glob = [str(p.relative_to(tmp_path)) for p in sorted(folder.glob("*.jpg"))]
        return dropswap(stack, "swap", *glob, "--face", "alice.jpg", "--prefix", prefix, "--timeout", "240",
                        cwd=tmp_path)

    first = swap_glob()
    assert first.returncode == 0, first.stdout + first.stderr
    assert (folder / "alpha.swapped.jpg").is_file()
    # When the same command runs again, its glob now naming the swapped photos beside them too
    second = swap_glob()
    # Then it exits 0 having skipped the three outputs, saying so once, and the stack holds 3 jobs, not 6
    assert second.returncode == 0, second.stdout + second.stderr
    assert second.stderr.count("skipped 3 file(s) that are dropswap's own outputs") == 1
    assert "3 of 3 succeeded" in second.stdout
    assert _jobs_under(user, prefix) == [f"inbox/{prefix}{n}.jpg" for n in ("alpha", "bravo", "charlie")]
    inbox = user.s3.list_objects_v2(Bucket=user.bucket, Prefix=f"inbox/{prefix}").get("Contents", [])
    assert [o["Key"] for o in inbox if "swapped" in o["Key"]] == []
    assert not (folder / "alpha.swapped.swapped.jpg").exists()


def test_given_a_swapped_photo_uploaded_back_with_a_sidecar_then_the_stack_rejects_it_without_a_swap(
    stack: LocalStack, user: User,
) -> None:
    # Given a result uploaded back to inbox/ with a sidecar (as an older CLI or `aws s3 sync` would)
    image = f"{user.prefix}team.swapped.jpg"
    user.put(f"{user.prefix}faces/alice.jpg", ASTRONAUT)
    user.put(image, HOPPER)
    user.put_sidecar(image, {"version": 1, "swaps": [{"source": "faces/alice.jpg", "target": "largest"}]})
    # When the stack has handled it
    report = user.wait_report(image)
    # Then its report is REJECTED OUTPUT_NAME, and AKOOL was asked nothing for it
    assert report["status"] == "REJECTED" and report["error"]["code"] == "OUTPUT_NAME", report
    assert all(s["job_id"] != report["job_id"] for s in user.submissions())


def test_given_symlinks_out_of_the_drop_folder_when_synced_then_nothing_is_sent_or_written_outside(
    stack: LocalStack, user: User, tmp_path: Path,
) -> None:
    # Given a drop folder with a photo, a symlink to a private file outside it, and DIR/results/party linked
    # to a folder outside it, and a result for party/ in the bucket
    drop, outside, prefix = tmp_path / "drop", tmp_path / "outside", f"links-{uuid.uuid4().hex[:8]}/"
    (drop / "results").mkdir(parents=True)
    outside.mkdir()
    secret = tmp_path / "id_rsa.jpg"
    secret.write_bytes(HOPPER)
    (drop / "me.jpg").write_bytes(HOPPER)
    (drop / "key.jpg").symlink_to(secret)
    (drop / "results" / "party").symlink_to(outside, target_is_directory=True)
    user.put(f"results/{prefix}party/x.jpg.result.json", b'{"status": "SUCCEEDED"}', "application/json")
    # When the folder is synced
    done = dropswap(stack, "sync", str(drop), "--once", "--prefix", prefix, cwd=tmp_path)
    # Then only the photo went up, the link is one skipped line, and nothing was written outside
    assert done.returncode == 0, done.stdout + done.stderr
    inbox = user.s3.list_objects_v2(Bucket=user.bucket, Prefix=f"inbox/{prefix}").get("Contents", [])
    assert [o["Key"] for o in inbox] == [f"inbox/{prefix}me.jpg"]
    assert f"skipped key.jpg: a symlink out of {drop}, never followed" in done.stdout
    assert "leads out of" in done.stdout and list(outside.iterdir()) == []

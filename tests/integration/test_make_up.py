"""`make up` as a user runs it: the stack as a process, its local.json, the watched drop folder, Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from devkit.template import ROOT
from tests.integration.helpers import ASTRONAUT, HOPPER

pytestmark = pytest.mark.integration

# What the face engine's native libraries (mediapipe: TFLite, absl, glog) write to stderr when not kept out.
ENGINE_NOISE = re.compile(r"TensorFlow Lite|absl::|inference_feedback_manager|^[IWEF]\d{4} ", re.MULTILINE)


class Console:
    """`make up` as a process, its stdout and stderr read together, line by line, as a terminal shows them."""

    def __init__(self, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": f"{ROOT / 'layers' / 'dropswap'}{os.pathsep}{ROOT}"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "local.stack", *args],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def line_with(self, *parts: str) -> str | None:
        return next((line for line in self.lines if all(p in line for p in parts)), None)

    def outcome_with(self, *parts: str) -> str | None:
        """An outcome line: the console's other lines ([event], [watch], …) start with a bracket."""
        return next((line for line in self.lines if not line.startswith("[")
                     and all(p in line for p in parts)), None)

    def ctrl_c(self) -> int:
        """Ctrl-C, then the exit code; fails if the stack does not stop within 60 s."""
        self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            tail = self.text[-2000:]
            raise AssertionError("the stack did not stop within 60 s of Ctrl-C:\n" + tail) from None
        self._reader.join(timeout=10)
        return code


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_given_make_up_with_watch_when_files_dropped_then_results_come_back_and_ctrl_c_stops(
    tmp_path: Path,
) -> None:
    # Given the local stack started as `make up` would, watching a drop folder
    drop = tmp_path / "drop"
    state = tmp_path / "state"
    console = Console("--mode", "instant", "--watch", str(drop), "--state-dir", str(state))
    try:
        _wait(lambda: (state / "local.json").exists(), 60, "local.json")
        info = json.loads((state / "local.json").read_text())
        assert set(info) >= {"aws_endpoint_url", "region", "bucket", "table", "akool_url", "webhook_url"}
        assert all("127.0.0.1" in info[k] for k in ("aws_endpoint_url", "akool_url", "webhook_url"))
        # When the user drops a face, a photo and its sidecar in the folder
        (drop / "faces").mkdir(parents=True, exist_ok=True)
        (drop / "faces" / "hopper.jpg").write_bytes(HOPPER)
        (drop / "me.jpg").write_bytes(ASTRONAUT)
        manifest = {"version": 1, "swaps": [{"source": "faces/hopper.jpg", "target": "largest"}]}
        (drop / "me.jpg.faceswap.json").write_text(json.dumps(manifest))
        # Then the swapped photo and the report come back under drop/results/
        result = drop / "results" / "me.swapped.jpg"
        report = drop / "results" / "me.jpg.result.json"
        _wait(lambda: result.exists() and report.exists(), 90, "results in the drop folder")
        assert json.loads(report.read_text())["status"] == "SUCCEEDED"
        # And the console shows `dropswap sync`'s lines: each upload, and the outcome with the local result
        outcome = f"✓ me.jpg SUCCEEDED → {result}"
        _wait(lambda: outcome in console.lines, 30, "the outcome line")
        # When a later file is dropped and goes up (so later passes ran)
        (drop / "notes.txt").write_text("later")
        _wait(lambda: "↑ notes.txt" in console.lines, 30, "the later upload")
        # Then each file went up once, and the outcome was printed once, by the sync alone (no second,
        # timestamped line from the bucket's outcome printer)
        uploads = sorted(line for line in console.lines if line.startswith("↑"))
        assert uploads == ["↑ faces/hopper.jpg", "↑ me.jpg", "↑ me.jpg.faceswap.json", "↑ notes.txt"], uploads
        assert console.lines.count(outcome) == 1, console.text
        assert not [line for line in console.lines if re.match(r"\d\d:\d\d:\d\d ", line)], console.text
    finally:
        # When the user presses Ctrl-C, Then everything stops cleanly
        code = console.ctrl_c()
    assert code == 0, console.text[-2000:]
    assert "aws --endpoint-url" in console.text


def _s3_as_the_readme_says(info: dict[str, Any]) -> Any:
    """The aws CLI's settings `make up` prints: its endpoint and CA, the local administrator's keys."""
    return boto3.client(
        "s3", endpoint_url=info["aws_endpoint_url"], region_name=info["region"], verify=info["ca_bundle"],
        aws_access_key_id="test", aws_secret_access_key="test",
    )


def test_given_make_up_when_photos_dropped_in_s3_then_console_prints_each_outcome_without_engine_noise(
    tmp_path: Path,
) -> None:
    # Given the local stack started as `make up` would (no drop folder)
    state = tmp_path / "state"
    console = Console("--mode", "instant", "--state-dir", str(state))
    try:
        _wait(lambda: (state / "local.json").exists(), 60, "local.json")
        info = json.loads((state / "local.json").read_text())
        s3 = _s3_as_the_readme_says(info)
        bucket = info["bucket"]
        # When the user uploads a face, a photo that can be swapped and one whose sidecar points at no face
        s3.put_object(Bucket=bucket, Key="inbox/trip/faces/hopper.jpg", Body=HOPPER)
        jobs = {"beach.jpg": "largest", "wrong.jpg": {"x": 5, "y": 5}}
        for name, target in jobs.items():
            manifest = {"version": 1, "swaps": [{"source": "faces/hopper.jpg", "target": target}]}
            s3.put_object(Bucket=bucket, Key=f"inbox/trip/{name}", Body=ASTRONAUT)
            s3.put_object(Bucket=bucket, Key=f"inbox/trip/{name}.faceswap.json", Body=json.dumps(manifest))
        # Then one line per job: SUCCEEDED with the swapped image, REJECTED with its code and its report
        # (the live states, QUEUED and PROCESSING, have lines of their own before)
        _wait(lambda: console.outcome_with("inbox/trip/beach.jpg", "SUCCEEDED") is not None
              and console.outcome_with("inbox/trip/wrong.jpg", "REJECTED") is not None, 120,
              "both outcome lines")
        ok = console.outcome_with("inbox/trip/beach.jpg", "SUCCEEDED")
        bad = console.outcome_with("inbox/trip/wrong.jpg", "REJECTED")
        assert ok is not None and re.fullmatch(
            r"\d\d:\d\d:\d\d SUCCEEDED inbox/trip/beach\.jpg → results/trip/beach\.swapped\.jpg", ok), ok
        assert bad is not None and re.fullmatch(
            r"\d\d:\d\d:\d\d REJECTED  inbox/trip/wrong\.jpg FACE_NOT_FOUND: .+"
            r" → results/trip/wrong\.jpg\.result\.json", bad), bad
        # And the face engine's native warnings (it ran for the swap) went to the log, not the console
        assert ENGINE_NOISE.search((state / "logs" / "up-stderr.log").read_text()) is not None
    finally:
        code = console.ctrl_c()
    assert code == 0, console.text[-2000:]
    assert ENGINE_NOISE.search(console.text) is None, console.text

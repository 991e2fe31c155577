"""`make up` as a user runs it: the stack as a process, its local.json, the watched drop folder, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from local.template import ROOT
from tests.integration.helpers import ASTRONAUT, HOPPER

pytestmark = pytest.mark.integration


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
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'layers' / 'dropswap'}{os.pathsep}{ROOT}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "local.stack", "--mode", "instant", "--watch", str(drop),
         "--state-dir", str(state)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
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
    finally:
        # When the user presses Ctrl-C, Then everything stops cleanly
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            raise AssertionError("the stack did not stop within 60 s of Ctrl-C:\n" + out[-2000:]) from None
    assert proc.returncode == 0, out[-2000:]
    assert "aws --endpoint-url" in out

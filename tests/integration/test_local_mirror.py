"""`make up --watch DIR` (dropswap sync's loop) against the local stack: a restarted loop re-submits
nothing, and the local results follow the bucket when a photo's newer report is REJECTED."""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from dropswap_cli import stack as stacks
from dropswap_cli.sync import FolderSync
from local.stack import LocalStack
from tests.integration.helpers import ASTRONAUT, HOPPER, User

pytestmark = pytest.mark.integration


def _loop(stack: LocalStack, drop: Path, prefix: str) -> tuple[FolderSync, io.StringIO]:
    """A new `make up --watch` loop for the folder, as its watcher thread builds it (local/watch.py)."""
    lines = io.StringIO()
    found = stacks.find(None, None, stack.config.state_dir / "local.json")
    return FolderSync(found, drop, prefix, Console(file=lines, soft_wrap=True), settle=0.0), lines


def _passes_until(sync: FolderSync, done: Callable[[], bool], what: str, timeout: float = 180) -> None:
    """Sync passes, as the loop runs them, until `done` (an observable end), or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        sync.once()
        time.sleep(0.5)


def test_given_a_synced_folder_when_the_watch_restarts_then_nothing_resubmitted_and_a_rejection_clears_it(
    stack: LocalStack, user: User, tmp_path: Path
) -> None:
    # Given a drop folder synced by a first loop until its photo's swapped result came back
    drop, prefix = tmp_path / "drop", f"mirror-{uuid.uuid4().hex[:8]}/"
    (drop / "faces").mkdir(parents=True)
    (drop / "faces" / "alice.jpg").write_bytes(ASTRONAUT)
    (drop / "me.jpg").write_bytes(HOPPER)
    (drop / "me.jpg.faceswap.json").write_text(
        json.dumps({"version": 1, "swaps": [{"source": "faces/alice.jpg", "target": "largest"}]}))
    first, _ = _loop(stack, drop, prefix)
    swapped = drop / "results" / "me.swapped.jpg"
    report = drop / "results" / "me.jpg.result.json"
    _passes_until(first, swapped.exists, "the swapped photo")
    user.wait_at_rest()
    submitted = len(user.submissions())
    assert submitted >= 1
    # When the loop restarts (a new watcher, no memory) and runs its passes
    again, lines = _loop(stack, drop, prefix)
    again.once()
    again.once()
    user.wait_at_rest()
    # Then nothing went up and AKOOL saw no new submission; one line said how many files were skipped
    out = lines.getvalue()
    assert not [text for text in out.splitlines() if text.startswith("↑")], out
    assert len(user.submissions()) == submitted
    assert out.count("skipped 3 file(s) already in") == 1, out
    # When the photo's sidecar is changed to one the stack rejects
    (drop / "me.jpg.faceswap.json").write_text(
        json.dumps({"version": 1, "swaps": [{"source": "faces/alice.jpg", "target": "nowhere"}]}))
    _passes_until(again, lambda: json.loads(report.read_text()).get("status") == "REJECTED", "REJECTED")
    # Then the local swapped photo, no longer current, is removed, and said so
    assert not swapped.exists()
    assert "removed results/me.swapped.jpg: no longer current" in lines.getvalue()

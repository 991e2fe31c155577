"""Native stderr (fd 2) sent to a log while the local stack runs, for `make demo` and `make up` alike.

The AKOOL emulator's face engine (mediapipe: TFLite, absl, glog) runs in this process and its C++ libraries
write warnings straight to fd 2, which would scramble the console. Python's own sys.stderr keeps the
terminal, so tracebacks and Python warnings still show.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def native_stderr_to(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    saved = os.dup(2)
    with path.open("a") as log:
        os.dup2(log.fileno(), 2)
        sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sys.stderr.close()
            sys.stderr = sys.__stderr__

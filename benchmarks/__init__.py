"""Benchmarks (scripts, run from the repo root with `python -m benchmarks.<name>`)."""

import sys
from pathlib import Path

# The Lambda layer's `dropswap` package lives in layers/dropswap (pytest gets it from pyproject's
# pythonpath); local.emulator imports it, so put it on the path for `python -m benchmarks...` too.
_LAYER = str(Path(__file__).resolve().parent.parent / "layers" / "dropswap")
if _LAYER not in sys.path:
    sys.path.insert(0, _LAYER)

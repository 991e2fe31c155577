"""The manifests the CLI writes (ARCHITECTURE §5): a sidecar per photo, a folder manifest, faces mode."""

from __future__ import annotations

import argparse
import json
from typing import Any

Target = int | str | dict[str, int]

FACES = {"version": 1, "mode": "faces"}


def parse_target(text: str) -> Target:
    """--target: largest, all, an index N (faces left to right from 0) or a point X,Y inside a face."""
    value = text.strip().lower()
    if value in ("largest", "all"):
        return value
    if value.isdigit():
        return int(value)
    x, sep, y = value.partition(",")
    if sep and x.strip().isdigit() and y.strip().isdigit():
        return {"x": int(x), "y": int(y)}
    raise argparse.ArgumentTypeError(
        f"{text!r}: use largest, all, a face index (0 is the leftmost face) or a point X,Y in pixels"
    )


def swap(source: str, target: Target, engine: str | None) -> dict[str, Any]:
    """One swap of `source` (a key relative to the manifest's folder) onto the photo's `target` face(s)."""
    manifest: dict[str, Any] = {"version": 1, "swaps": [{"source": source, "target": target}]}
    if engine is not None:
        manifest["engine"] = engine
    return manifest


def encode(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2) + "\n").encode()

"""The interpreter running the tests has exactly the layer's locked dependency closure.

The layer ships layers/dropswap/requirements.txt (the whole closure, hash-pinned); the dev venv (3.11) and the
python3.13 test venv install it first. If a later install moved one of those packages to another version,
the tests would no longer run the code that is deployed.
"""

from __future__ import annotations

import re
from importlib import metadata

from devkit.lambda_layer import LAYER_SOURCE as LAYER
from devkit.lambda_layer import PIN, pins


def test_given_the_layer_lock_when_reading_it_then_it_pins_the_closure_with_hashes() -> None:
    text = (LAYER / "requirements.txt").read_text(encoding="utf-8")
    locked = pins(LAYER / "requirements.txt")
    assert {"requests", "urllib3", "cryptography", "cffi", "aws-lambda-powertools"} <= set(locked)
    assert "boto3" not in locked and "botocore" not in locked, "the Lambda runtime provides boto3"
    # One block per requirement: its `name==version` line and the continuation lines under it.
    blocks = re.split(r"\n(?=\S)", text)
    unhashed = [b.split()[0] for b in blocks if PIN.match(b) and "--hash=sha256:" not in b]
    assert not unhashed, f"pinned without a hash: {unhashed}"


def test_given_the_direct_requirements_when_compared_to_the_lock_then_it_pins_the_same_versions() -> None:
    direct, locked = pins(LAYER / "requirements.in"), pins(LAYER / "requirements.txt")
    assert direct, "requirements.in pins nothing"
    assert {name: locked.get(name) for name in direct} == direct


def test_given_this_interpreter_when_listing_installed_versions_then_they_equal_the_lock() -> None:
    locked = pins(LAYER / "requirements.txt")
    installed: dict[str, str | None] = {}
    for name in locked:
        try:
            installed[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed[name] = None
    differ = {n: f"installed {installed[n]}, locked {v}" for n, v in locked.items() if installed[n] != v}
    assert not differ, f"this venv does not run the layer's locked versions: {differ}"

"""The layer as built for deployment: its contents, and python3.13 importing each handler from its bytecode.

The host build uses the same make target as `sam build` (layers/dropswap/Makefile), for this machine's
architecture; `make build`'s arm64 artifact is checked too when it is there (make test builds it first).
"""

from __future__ import annotations

import json
import platform
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.lambda_layer import (
    LAYER_PACKAGES,
    LAYER_SOURCE,
    SAM_BUILT_LAYER,
    Handler,
    build_layer,
    handlers,
    lambda_env,
    pins,
    runtime_site,
)

pytestmark = [
    pytest.mark.build,
    pytest.mark.skipif(sys.version_info[:2] != (3, 13),
                       reason="runs on python3.13, Lambda's runtime: make layer-test"),
]
EM_X86_64, EM_AARCH64 = 62, 183
HOST_MACHINE = {"x86_64": EM_X86_64, "amd64": EM_X86_64, "aarch64": EM_AARCH64, "arm64": EM_AARCH64}
_CODE_OBJECT = re.compile(r"^# code object from '?(.+?)'?$", re.MULTILINE)


def _files(root: Path) -> dict[str, tuple[int, float]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime) for p in root.rglob("*")}


def _chmod_tree(root: Path, writable: bool) -> None:
    for p in [root, *root.rglob("*")]:
        mode = p.stat().st_mode
        p.chmod(mode | stat.S_IWUSR if writable else mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def layer_problems(layer: Path, elf_machine: int) -> list[str]:
    """What makes `layer` (a built python/ dir) unfit to deploy; empty if nothing."""
    problems = []
    locked = pins(LAYER_SOURCE / "requirements.txt")
    dists = {}
    for info in layer.glob("*.dist-info"):
        name, _, version = info.name.removesuffix(".dist-info").partition("-")
        dists[re.sub(r"[-_.]+", "-", name).lower()] = version
    if dists != locked:
        problems.append(f"installed distributions {dists} are not the lock's {locked}")
    if not (layer / "dropswap" / "__init__.py").is_file():
        problems.append("no dropswap package")
    problems += [f"not for the layer: {p.name}" for p in layer.iterdir()
                 if p.name in {"tests", "bin", "boto3", "botocore"}]
    for source in layer.rglob("*.py"):
        pyc = source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc"
        if not pyc.is_file():
            problems.append(f"no python3.13 bytecode for {source.relative_to(layer)}")
            continue
        # PEP 552 flags: 0b01 = hash-based, source not checked (a timestamp .pyc would be 0).
        flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
        if flags != 0b01:
            problems.append(f"{pyc.relative_to(layer)} is not an unchecked-hash .pyc (flags {flags})")
    problems += [f"bytecode of another interpreter: {p.relative_to(layer)}" for p in layer.rglob("*.pyc")
                 if not p.name.endswith(".cpython-313.pyc")]
    shared = list(layer.rglob("*.so"))
    if not shared:
        problems.append("no compiled extensions (cryptography, cffi)")
    for so in shared:
        head = so.read_bytes()[:20]
        if head[:4] != b"\x7fELF" or int.from_bytes(head[18:20], "little") != elf_machine:
            problems.append(f"{so.relative_to(layer)} is not an ELF for machine {elf_machine}")
    return problems


@pytest.fixture(scope="module")
def host_layer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The layer built for this machine, read-only as /opt is in Lambda."""
    layer = build_layer(tmp_path_factory.mktemp("artifacts"), Path(sys.executable))
    _chmod_tree(layer, writable=False)
    yield layer
    _chmod_tree(layer, writable=True)  # so pytest can remove it


def test_given_the_layer_built_for_this_host_when_inspected_then_it_can_be_deployed(host_layer: Path) -> None:
    assert layer_problems(host_layer, HOST_MACHINE[platform.machine().lower()]) == []


# Run in the Lambda-like process: import the handler, print where each package came from.
_IMPORT = """import importlib, json, sys
module = importlib.import_module(sys.argv[1])
assert callable(getattr(module, sys.argv[2]))
print(json.dumps({n: getattr(sys.modules.get(n), "__file__", None) for n in sys.argv[3:]}))
"""


@pytest.mark.parametrize("handler", handlers(), ids=lambda h: h.function)
def test_given_the_read_only_layer_when_python313_imports_a_handler_then_it_runs_the_layers_bytecode(
    host_layer: Path, handler: Handler
) -> None:
    site = runtime_site(Path(sys.executable))
    before = _files(host_layer)
    proc = subprocess.run(
        [sys.executable, "-S", "-v", "-c", _IMPORT, handler.module, handler.attr, *LAYER_PACKAGES, "boto3"],
        env=lambda_env(handler, host_layer, site), cwd=handler.code_dir,
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    origins: dict[str, str | None] = json.loads(proc.stdout.strip().splitlines()[-1])
    boto3 = origins.pop("boto3")
    imported = {n: f for n, f in origins.items() if f}
    # The packages the handler uses come from the layer, boto3 from the runtime (requests is imported
    # when a path first calls AKOOL: tests/unit/test_cold_imports.py).
    assert {"dropswap", "aws_lambda_powertools"} <= set(imported)
    assert {n: f for n, f in imported.items() if not f.startswith(str(host_layer))} == {}
    assert boto3 and boto3.startswith(str(site))
    # Every module loaded from the layer came from its python3.13 bytecode; none was compiled from source.
    from_layer = [p for p in _CODE_OBJECT.findall(proc.stderr) if p.startswith(str(host_layer))]
    assert [p for p in from_layer if not p.endswith(".cpython-313.pyc")] == []
    assert set(imported) <= {Path(p).relative_to(host_layer).parts[0] for p in from_layer}
    assert _files(host_layer) == before, "the import wrote into the layer"


@pytest.mark.skipif(not SAM_BUILT_LAYER.is_dir(), reason="no .aws-sam/build: `make build` was not run")
def test_given_make_builds_arm64_layer_when_inspected_then_it_has_313_bytecode_and_aarch64_binaries() -> None:
    assert layer_problems(SAM_BUILT_LAYER, EM_AARCH64) == []

"""`pip install .` installs the dropswap command, its package and the layer's pure domain (for `dropswap
plan`), nothing else; nothing deployed imports the CLI.

The install uses the dev venv's build backend (hatchling, pinned in requirements-dev.txt) with no build
isolation and no index, so it reaches no network."""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "dropswap_cli"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    return {name.split(".")[0] for name in names}


def test_given_pyproject_when_read_then_it_packages_the_cli_and_the_domain_with_a_dropswap_command() -> None:
    # Given pyproject.toml
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    # Then its wheel packages dropswap_cli and the layer's package less its flows, adapters, composition root
    # and settings, with what they import, and `dropswap` runs its main
    wheel = project["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["packages"] == ["dropswap_cli", "layers/dropswap/dropswap"]
    layer = "layers/dropswap/dropswap/"
    left_out = {f"{layer}adapters", f"{layer}flows", f"{layer}app", f"{layer}settings.py"}
    assert left_out <= set(wheel["exclude"])
    assert sorted(d.split(">")[0] for d in project["project"]["dependencies"]) == [
        "boto3", "fastjsonschema", "idna", "rich"]
    module, _, function = project["project"]["scripts"]["dropswap"].partition(":")
    assert callable(getattr(importlib.import_module(module), function))


def test_given_the_cli_package_when_its_imports_are_read_then_only_stdlib_boto3_rich_and_itself() -> None:
    # Given every module of dropswap_cli, When its imports are read
    allowed = set(sys.stdlib_module_names) | {"boto3", "botocore", "rich", "dropswap_cli", "dropswap"}
    used = {name for path in PACKAGE.glob("*.py") for name in _imports(path)}
    # Then it needs nothing that is not installed with it (the layer, local/, tests/)
    assert used - allowed == set()


def test_given_deployed_code_when_its_imports_are_read_then_none_imports_the_cli() -> None:
    # Given the functions and the layer, When their imports are read, Then none is dropswap_cli
    deployed = [*(ROOT / "functions").rglob("*.py"), *(ROOT / "layers").rglob("*.py")]
    assert deployed
    assert [p for p in deployed if "dropswap_cli" in _imports(p)] == []


def test_given_a_fresh_venv_when_pip_installs_the_repository_then_only_the_cli_and_a_working_command(
    tmp_path: Path,
) -> None:
    # Given a fresh venv (no pip of its own: the dev venv's pip installs into it)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    # When the repository is installed into it (dependencies left out: they come from the dev venv below)
    # (the wheel is built by the dev venv's hatchling, offline; then installed as `pip install .` would)
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index",
                    "--no-build-isolation", "-w", str(wheels), str(ROOT)], check=True, timeout=300)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-index", *map(str, wheels.glob("*.whl"))], check=True, timeout=300)
    # Then its site-packages holds the CLI package, the layer's domain and the metadata only
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    assert sorted(p.name for p in site.iterdir() if not p.name.startswith("_")) == [
        "dropswap", "dropswap-0.1.0.dist-info", "dropswap_cli"]
    assert sorted(p.name for p in (site / "dropswap").iterdir() if p.name != "__pycache__") == [
        "__init__.py", "domain", "schemas"]
    # And the `dropswap` command runs (boto3 and rich from the dev venv)
    env = {**os.environ, "PYTHONPATH": sysconfig.get_path("purelib")}
    done = subprocess.run([str(venv / "bin" / "dropswap"), "--version"], capture_output=True, text=True,
                          env=env, cwd=tmp_path, check=True)
    assert done.stdout.strip() == "dropswap 0.1.0"

"""Error codes: one enumeration, documented for users, and not restated as string literals elsewhere."""

from __future__ import annotations

import ast
from pathlib import Path

from dropswap.domain.error_codes import ErrorCode, akool_refusal, job_error

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "dropswap" / "dropswap"
# Stored on the record only: the superseded job's report name belongs to the newer job.
UNREPORTED = {ErrorCode.SUPERSEDED}


def test_given_every_error_code_then_readme_documents_each_one_a_user_can_see() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    undocumented = [c.value for c in ErrorCode if c not in UNREPORTED and f"`{c.value}`" not in readme]
    assert undocumented == []


def test_given_layer_sources_then_no_module_but_the_enumeration_spells_a_code_as_a_literal() -> None:
    codes = {c.value for c in ErrorCode}
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "error_codes.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in codes:
                found.append(f"{path.name}:{node.lineno}: {node.value!r}")
    assert found == []


def test_given_akool_refusal_then_its_code_is_passed_through_or_akool_error() -> None:
    assert akool_refusal(1006) == "AKOOL_1006"
    assert akool_refusal(None) == "AKOOL_ERROR"
    error = job_error(ErrorCode.NO_FACE, "no face found")
    assert error == {"code": "NO_FACE", "message": "no face found"} and type(error["code"]) is str

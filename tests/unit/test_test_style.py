"""Every test in tests/ says Given and Then: in its name (test_given_…_then_…) or in a comment in its body."""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
_SAYS = {word: re.compile(rf"#.*\b{word}\b") for word in ("Given", "Then")}


def unannotated(source: str) -> list[str]:
    """The test functions in a module's source that say neither Given nor Then in name or comment."""
    lines = source.splitlines()
    missing = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_"):
            body = "\n".join(lines[node.lineno - 1 : node.end_lineno])
            for word, comment in _SAYS.items():
                if f"{word.lower()}_" not in node.name and not comment.search(body):
                    missing.append(f"{node.name} (no {word})")
    return missing


def test_given_a_test_without_given_or_then_when_scanned_then_it_is_reported() -> None:
    # Given tests annotated in the name, in comments, and not at all
    source = (
        "def test_given_a_then_b():\n    assert 1\n\n"
        "def test_b():\n    # Given a / When b / Then c\n    assert 1\n\n"
        "def test_c():\n    assert 1  # given lower case is no annotation\n"
    )
    # When scanned, Then only the unannotated one is reported, for both words
    assert unannotated(source) == ["test_c (no Given)", "test_c (no Then)"]


def test_given_every_test_module_when_scanned_then_each_test_says_given_and_then() -> None:
    # Given every test module under tests/ (unit, fuzz, contract, engine, integration, build, template, e2e)
    modules = sorted(TESTS.rglob("test_*.py"))
    assert len(modules) > 30
    assert {"contract", "engine", "integration", "unit"} <= {m.relative_to(TESTS).parts[0] for m in modules}
    # When each is scanned, Then every test function says Given and Then
    missing = [f"{m.relative_to(TESTS)}::{t}" for m in modules for t in unannotated(m.read_text("utf-8"))]
    assert missing == []

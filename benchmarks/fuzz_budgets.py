"""The fuzz budgets `make soak` reports: what each fuzz test generated, read from pytest's
`--hypothesis-show-statistics` output (standard library only, so the unit tests import it anywhere)."""

from __future__ import annotations

import re
from typing import Any

_STATS_TEST = re.compile(r"^(\S+::\S+):$")
_STATS_PHASE = re.compile(r"- during generate phase \(([\d.]+) seconds\)")
_STATS_COUNTS = re.compile(r"- (\d+) passing, (\d+) failing, and (\d+) invalid test cases")
_STATS_STOP = re.compile(r"- Stopped because (.+)$")


def fuzz_budgets(statistics: str) -> list[dict[str, Any]]:
    """Per fuzz test, from pytest's `--hypothesis-show-statistics` output: the examples generated (passing,
    failing, invalid), the seconds generating them, and why generation stopped (the budget,
    `settings.max_examples=N`, or the search space exhausted)."""
    found: list[dict[str, Any]] = []
    for line in statistics.splitlines():
        text = line.strip()
        if m := _STATS_TEST.match(text):
            found.append({"test": m.group(1), "passing": 0, "failing": 0, "invalid": 0, "seconds": 0.0,
                          "stopped": ""})
        elif not found:
            continue
        elif m := _STATS_PHASE.match(text):
            found[-1]["seconds"] = float(m.group(1))
        elif m := _STATS_COUNTS.match(text):
            found[-1].update(passing=int(m.group(1)), failing=int(m.group(2)), invalid=int(m.group(3)))
        elif m := _STATS_STOP.match(text):
            found[-1]["stopped"] = m.group(1)
    return found


def budgets_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| fuzz test | examples: passing / failing / invalid | generating s | stopped because |",
             "|---|---|---|---|"]
    lines += [
        f"| {r['test'].rsplit('::', 1)[-1]} | {r['passing']} / {r['failing']} / {r['invalid']} | "
        f"{r['seconds']:.1f} | {r['stopped'] or '—'} |"
        for r in rows
    ]
    return "\n".join(lines)

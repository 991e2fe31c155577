"""The README and docs/: the README stays short and in the order people read, and every relative link and
anchor in them resolves (a moved section must not leave a dead link behind)."""

from __future__ import annotations

import re
from pathlib import Path

from devkit.template import ROOT

README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
README_MAX_LINES = 400
# The README's top-level sections, in the order a new user reads them (issue 18, item 6).
README_ORDER = ["The two commands", "First five minutes", "The command line", "Manifest reference",
                "Results and job states", "Troubleshooting", "More in docs/"]

FENCE = re.compile(r"^```.*?^```", re.S | re.M)
LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#{1,6}) (.+)$", re.M)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation but - and _ dropped, spaces as -."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, title in HEADING.findall(FENCE.sub("", path.read_text(encoding="utf-8"))):
        slug = _slug(title)
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        found.add(slug if n == 0 else f"{slug}-{n}")
    return found


def _dead_links(path: Path) -> list[str]:
    dead = []
    for url in LINK.findall(FENCE.sub("", path.read_text(encoding="utf-8"))):
        if url.startswith(("http://", "https://", "mailto:")):
            continue
        target_part, _, anchor = url.partition("#")
        target = (path.parent / target_part).resolve() if target_part else path
        if not target.exists():
            dead.append(f"{path.name}: {url} (no such file)")
        elif anchor and target.suffix == ".md" and anchor not in _anchors(target):
            dead.append(f"{path.name}: {url} (no such heading)")
    return dead


def test_given_the_readme_then_it_is_at_most_400_lines_with_its_sections_in_reading_order() -> None:
    text = README.read_text(encoding="utf-8")
    sections = [title for level, title in HEADING.findall(FENCE.sub("", text)) if level == "##"]
    # Then each expected section is there, in this order, and the page is short enough to read
    starts = [next((i for i, s in enumerate(sections) if s.startswith(want)), -1) for want in README_ORDER]
    assert -1 not in starts, dict(zip(README_ORDER, starts, strict=True))
    assert starts == sorted(starts)
    assert len(text.splitlines()) <= README_MAX_LINES


def test_given_the_readme_and_docs_then_every_relative_link_and_anchor_resolves() -> None:
    dead = [d for path in [README, *DOCS] for d in _dead_links(path)]
    assert dead == []


def test_given_the_docs_folder_then_the_readme_links_every_page() -> None:
    readme = README.read_text(encoding="utf-8")
    unlinked = [p.name for p in DOCS if f"(docs/{p.name})" not in readme and f"(docs/{p.name}#" not in readme]
    assert unlinked == []

"""The docs name real things: every test a guide cites exists, and the README links every guide."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))
_REFERENCE = re.compile(r"`(tests/[\w/]+\.py)?(?:::(\w+))?`")


def cited_tests(markdown: str) -> list[tuple[str, str | None]]:
    """``(path, test name)`` for every cited test; ``::name`` alone continues the last path on
    its line."""
    cited: list[tuple[str, str | None]] = []
    for line in markdown.splitlines():
        path: str | None = None
        for match in _REFERENCE.finditer(line):
            path = match.group(1) or path
            if path is not None and (match.group(1) or match.group(2)):
                cited.append((path, match.group(2)))
    return cited


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.name)
def test_every_cited_test_exists(doc: Path) -> None:
    missing = []
    for path, name in cited_tests(doc.read_text(encoding="utf-8")):
        source = ROOT / path
        if not source.is_file():
            missing.append(path)
        elif name is not None and not re.search(
            rf"^(async )?def {name}\(", source.read_text(encoding="utf-8"), re.MULTILINE
        ):
            missing.append(f"{path}::{name}")
    assert missing == []


def test_the_readme_links_every_guide() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert [doc.name for doc in DOCS if f"(docs/{doc.name})" not in readme] == []


def test_the_citation_reader_sees_continuations() -> None:
    line = "| x | y | `tests/a.py::test_one`, `::test_two`, `tests/b.py` |"
    assert cited_tests(line) == [
        ("tests/a.py", "test_one"),
        ("tests/a.py", "test_two"),
        ("tests/b.py", None),
    ]

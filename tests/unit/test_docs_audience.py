"""User docs say what a user needs; developer material (SPEC sections, commit ids,
benchmark internals) lives in docs/dev/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
USER_DOCS = sorted(
    p for p in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")] if "dev" not in p.relative_to(ROOT).parts
)
DEVELOPER_WORDS = [
    (r"\bSPEC\b", "a SPEC reference"),
    (r"git archive [0-9a-f]{7}", "a commit id"),
    (r"\((?:before|after) [0-9a-f]{7,40}\)", "a commit id"),
    (r"\| before \([0-9a-f]{7,40}\)", "a before/after table of a commit"),
    (r"\bcProfile\b", "profiling notes"),
]


@pytest.mark.parametrize("path", USER_DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_user_docs_hold_no_developer_material(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for pattern, what in DEVELOPER_WORDS:
        match = re.search(pattern, text)
        assert match is None, f"{path.relative_to(ROOT)}: {what} ({match.group(0)!r}); move it to docs/dev/"


def test_developer_docs_exist() -> None:
    assert (ROOT / "docs" / "dev" / "performance.md").is_file()

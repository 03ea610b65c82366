"""RB002: duplicate key. See docs/lint-rules.md#rb002."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB002",
    name="duplicate key",
    summary="Duplicate key.",
    description=(
        "YAML would silently keep only the last value; the runbook would not do what it "
        "says."
    ),
)

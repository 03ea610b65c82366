"""RB109: duplicate phase id. See docs/lint-rules.md#rb109."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB109",
    name="duplicate phase id",
    summary="Duplicate phase id.",
    description=(
        "- id: verify steps: […] - id: verify steps: […]"
    ),
)

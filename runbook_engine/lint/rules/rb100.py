"""RB100: validation error without a more specific rule. See docs/lint-rules.md#rb100."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB100",
    name="validation error without a more specific rule",
    summary="Validation error without a more specific rule.",
    description=(
        "The base id of schema and semantic problems; as with RB000, seeing it is a bug."
    ),
)

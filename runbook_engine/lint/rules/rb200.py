"""RB200: template error without a more specific rule. See docs/lint-rules.md#rb200."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB200",
    name="template error without a more specific rule",
    summary="Template error without a more specific rule.",
    description=(
        "The base id of template errors; seeing it is a bug."
    ),
)

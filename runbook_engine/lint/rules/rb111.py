"""RB111: required var with a default. See docs/lint-rules.md#rb111."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB111",
    name="required var with a default",
    summary="Required var with a default.",
    description=(
        "`required: true` says the operator must give a value; a default says they need "
        "not."
    ),
    configurable=True,
)

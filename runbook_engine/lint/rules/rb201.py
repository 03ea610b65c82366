"""RB201: template syntax error. See docs/lint-rules.md#rb201."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB201",
    name="template syntax error",
    summary="Template syntax error.",
    description=(
        "Jinja2 could not parse the string. Jinja2 gives no column, so the whole string "
        "is marked and the hint names the line inside a multi-line template."
    ),
)

"""RB004: the document is too large once expanded. See docs/lint-rules.md#rb004."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB004",
    name="the document is too large once expanded",
    summary="The document is too large once expanded.",
    description=(
        "Aliases that multiply into more than 100 000 values (a \"billion laughs\" bomb), "
        "nesting deeper than 64 levels, or an alias that refers to itself."
    ),
)

"""RB300: predicate error. See docs/lint-rules.md#rb300."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB300",
    name="predicate error",
    summary="Predicate error.",
    description=(
        "`expect`, `when`, `until` and decision `when` use the predicate language "
        "(docs/predicates.md), not Jinja. A syntax error, an unknown field for the step's "
        "executor, or a comparison of incompatible types is marked at its exact column."
    ),
    configurable=True,
)

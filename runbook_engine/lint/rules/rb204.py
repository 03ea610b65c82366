"""RB204: template failed while rendering. See docs/lint-rules.md#rb204."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB204",
    name="template failed while rendering",
    summary="Template failed while rendering.",
    description=(
        "Reported at plan or run time: the template parsed but raised an error (a "
        "division by zero, a filter applied to the wrong type)."
    ),
    configurable=True,
)

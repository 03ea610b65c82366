"""RB107: needs a step that can never have run. See docs/lint-rules.md#rb107."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB107",
    name="needs a step that can never have run",
    summary="Needs a step that can never have run.",
    description=(
        "Phases run in order, so a step cannot need a step of a later phase; rollback "
        "steps run only during a rollback, so a forward step cannot need one."
    ),
    configurable=True,
)

"""RB206: `| raw` pastes a value into a command as syntax. See docs/lint-rules.md#rb206."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB206",
    name="`| raw` pastes a value into a command as syntax",
    summary="`| raw` pastes a value into a command as syntax.",
    description=(
        "A warning: `| raw` is the one way to let a value become shell syntax. Keep it "
        "for trusted values (several options); never use it on captures, inventory vars "
        "or input an operator types."
    ),
    severity="warning",
    configurable=True,
)

"""RB106: dependency cycle. See docs/lint-rules.md#rb106."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB106",
    name="dependency cycle",
    summary="Dependency cycle.",
    description=(
        "Steps that (through `needs`) wait for each other, or a step that needs itself, "
        "can never start."
    ),
)

"""RB108: step result used before it can exist. See docs/lint-rules.md#rb108."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB108",
    name="step result used before it can exist",
    summary="Step result used before it can exist.",
    description=(
        "`{{ steps.X.name }}` in a template refers to a step that has not necessarily "
        "finished when this one runs (it is later in the written order, or concurrent "
        "through `needs`), or `name` is neither one of X's `capture` names nor a status "
        "field (`status`, `succeeded`, `failed`, `skipped`, `ok`, `error`, `duration`, "
        "`attempts`, `hosts`, `rc`, `stdout`). Rollback steps may refer to any step."
    ),
    configurable=True,
)

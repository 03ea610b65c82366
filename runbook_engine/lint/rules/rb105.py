"""RB105: unknown step. See docs/lint-rules.md#rb105."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB105",
    name="unknown step",
    summary="Unknown step.",
    description=(
        "`needs`, `on_failure: {goto: …}`, `steps.<id>` in a template or a predicate name "
        "a step that does not exist; or a glob in `failed(…)`, `succeeded(…)`, "
        "`skipped(…)` matches no step, or the one in `any_host_failed(…)` matches no "
        "phase (at run time such a glob is an error, so a decision using it could never "
        "fire)."
    ),
    configurable=True,
)

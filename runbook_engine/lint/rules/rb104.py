"""RB104: duplicate step id. See docs/lint-rules.md#rb104."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB104",
    name="duplicate step id",
    summary="Duplicate step id.",
    description=(
        "Step ids are unique across the whole runbook (phases, rollback), because "
        "`needs`, `steps.<id>` and the journal refer to them."
    ),
)

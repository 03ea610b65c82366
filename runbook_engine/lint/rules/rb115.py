"""RB115: goto loops. See docs/lint-rules.md#rb115."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB115",
    name="goto loops",
    summary="Goto loops.",
    description=(
        "`on_failure: {goto: X}` to the step itself, or to a step that runs before it, "
        "repeats the failure without end. Jump forward or into the rollback; to try "
        "again, use `retries`."
    ),
)

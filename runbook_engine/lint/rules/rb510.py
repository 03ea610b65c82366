"""RB510: executor could not start. See docs/lint-rules.md#rb510."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB510",
    name="executor could not start",
    summary="Executor could not start.",
    description=(
        "A missing extra (`pip install 'runbook-engine[ssh]'`) or a step spec the "
        "executor cannot use. Bad: an `ssh` step without the `ssh` extra installed. Good: "
        "install it."
    ),
)

"""RB600: run refused. See docs/lint-rules.md#rb600."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB600",
    name="run refused",
    summary="Run refused.",
    description=(
        "The lock is held by another run of the same runbook and inventory, the runbook "
        "changed since a run started, or a resume is impossible (docs/running.md). Bad: a "
        "second `runbook run` while the first is paused. Good: `runbook resume RUN`."
    ),
)

"""RB006: not a regular file. See docs/lint-rules.md#rb006."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB006",
    name="not a regular file",
    summary="Not a regular file.",
    description=(
        "A FIFO, socket or device named like a runbook (`x.yaml`) is reported and "
        "skipped: reading it could wait forever for a writer."
    ),
)

"""RB118: `changes: false` on a step that changes something. See docs/lint-rules.md#rb118."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB118",
    name="`changes: false` on a step that changes something",
    summary="`changes: false` on a step that changes something.",
    description=(
        "`changes: false` says a step only reads, and `runbook plan --probe` runs such "
        "steps for real. A step its executor knows to change things — an http "
        "POST/PUT/DELETE, a sql migration, script or writing statement, a copy, a "
        "notification — cannot say so."
    ),
    configurable=True,
)

"""RB102: unknown key. See docs/lint-rules.md#rb102."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB102",
    name="unknown key",
    summary="Unknown key.",
    description=(
        "A key the format (or the executor's schema fragment) does not know, with the "
        "closest known key as a did-you-mean."
    ),
)

"""RB117: unknown time zone. See docs/lint-rules.md#rb117."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB117",
    name="unknown time zone",
    summary="Unknown time zone.",
    description=(
        "`window.timezone` must be an IANA name the runner can load."
    ),
)

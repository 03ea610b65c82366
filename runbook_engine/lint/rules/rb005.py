"""RB005: not exactly one YAML mapping. See docs/lint-rules.md#rb005."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB005",
    name="not exactly one YAML mapping",
    summary="Not exactly one YAML mapping.",
    description=(
        "The file is empty, holds more than one document (`---`), or its top level is a "
        "list or a scalar."
    ),
)

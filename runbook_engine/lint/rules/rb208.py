"""RB208: template arithmetic too large. See docs/lint-rules.md#rb208."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB208",
    name="template arithmetic too large",
    summary="Template arithmetic too large.",
    description=(
        "Template operators refuse to build a string or list over 1 000 000 items or an "
        "integer over 4096 bits (`'a' * 10**9`, `10 ** 5000`), and integer literals are "
        "limited to what Python parses (4300 digits)."
    ),
    configurable=True,
)

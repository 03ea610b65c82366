"""RB000: user error without a more specific rule. See docs/lint-rules.md#rb000."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB000",
    name="user error without a more specific rule",
    summary="User error without a more specific rule.",
    description=(
        "The base id of every error a user can cause; a finding with this id is a bug in "
        "the rule's classification, please report it. There is no example."
    ),
)

"""RB400: inventory error. See docs/lint-rules.md#rb400."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB400",
    name="inventory error",
    summary="Inventory error.",
    description=(
        "An unreadable inventory or a host pattern that matches nothing "
        "(docs/inventory.md)."
    ),
)

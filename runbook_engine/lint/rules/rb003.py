"""RB003: tab character in indentation. See docs/lint-rules.md#rb003."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB003",
    name="tab character in indentation",
    summary="Tab character in indentation.",
    description=(
        "YAML indents with spaces only; editors that mix tabs make the structure "
        "invisible."
    ),
)

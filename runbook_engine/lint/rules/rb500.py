"""RB500: plugin error. See docs/lint-rules.md#rb500."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB500",
    name="plugin error",
    summary="Plugin error.",
    description=(
        "An executor plugin that fails to import, lacks `key`/`schema`/`fields`/`run`, or "
        "ships a schema fragment that is not valid JSON Schema (docs/plugins.md). Bad: a "
        "plugin whose fragment says `{\"type\": \"no-such-type\"}`. Good: `{\"type\": "
        "\"string\"}`."
    ),
)

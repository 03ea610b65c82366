"""RB202: undefined template variable. See docs/lint-rules.md#rb202."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB202",
    name="undefined template variable",
    summary="Undefined template variable.",
    description=(
        "A name that is neither a declared var nor one of the built-in names (`vars`, "
        "`steps`, `host`, `run`). Rendering uses `StrictUndefined`, so this would fail "
        "the run instead of silently producing `rm -rf /`."
    ),
    configurable=True,
)

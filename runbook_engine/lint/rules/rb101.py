"""RB101: schema violation. See docs/lint-rules.md#rb101."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB101",
    name="schema violation",
    summary="Schema violation.",
    description=(
        "A value of the wrong type, a missing required key, a value outside its allowed "
        "set, an id that is not lower-case with dashes, a bad duration, a notify channel "
        "without a way to deliver. The message names the JSON pointer; the hint is the "
        "key's description."
    ),
)

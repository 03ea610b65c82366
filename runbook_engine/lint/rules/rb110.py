"""RB110: var declaration or value is invalid. See docs/lint-rules.md#rb110."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB110",
    name="var declaration or value is invalid",
    summary="Var declaration or value is invalid.",
    description=(
        "In lint: a `pattern` that is not a valid regular expression, or a `default` that "
        "does not fit the var's `type`, `pattern` (matched against the whole value) or "
        "`choices`. At run time the same rule id reports a `--var`, `--vars-file` or "
        "environment value that does not fit; a secret value is shown as `***`."
    ),
    configurable=True,
)

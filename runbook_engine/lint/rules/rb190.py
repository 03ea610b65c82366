"""RB190: a suppression or the lint configuration names a rule it cannot change.
See docs/lint-rules.md#rb190."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB190",
    name="a suppression or lint setting names a rule it cannot change",
    summary="A suppression or lint setting names a rule it cannot change.",
    description=(
        "A `# runbook-lint: disable=…` comment, or `disable`/`enable`/`severity` in "
        "`.runbook-lint.yaml` or `[tool.runbook.lint]` of pyproject.toml, names a rule "
        "that does not exist, or one the engine needs to hold to run the runbook at all "
        "(a YAML, schema or graph error), or gives a severity other than error, warning "
        "or off."
    ),
)

"""RB001: the file is not readable YAML. See docs/lint-rules.md#rb001."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB001",
    name="the file is not readable YAML",
    summary="The file is not readable YAML.",
    description=(
        "Invalid YAML syntax, a file that is not UTF-8, a file larger than 1 MiB, a "
        "missing file, a YAML tag other than the plain ones (`!!python/object`, "
        "`!!binary`, `!!set`, custom `!tags`), an explicit tag whose value does not fit "
        "(`!!int runbook`), merge keys (`<<:`), and mapping keys that are not scalars."
    ),
)

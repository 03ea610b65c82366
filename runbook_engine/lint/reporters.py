"""Lint findings as text (actionlint style), JSON, SARIF 2.1.0 or GitHub annotations."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from runbook_engine.errors import RunbookError
from runbook_engine.lint.analysis import Analysis


def _source_line(analysis: Analysis, finding: RunbookError) -> str:
    if finding.span is None:
        return ""
    if finding.span.path not in (analysis.path, getattr(analysis.document, "path", None)):
        return _line_of(finding.span.path, finding.span.line)  # a lint settings file
    return analysis.line(finding.span.line)


def _line_of(path: str, number: int) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return ""
    return lines[number - 1] if 0 < number <= len(lines) else ""


def _caret(finding: RunbookError, line: str) -> str:
    if finding.span is None:
        return ""
    start = finding.span.col - 1
    width = 1
    if finding.span.end_line == finding.span.line and finding.span.end_col:
        width = max(finding.span.end_col - finding.span.col, 1)
    width = max(min(width, len(line) - start), 1)
    return " " * start + "^" * width


def text(analyses: Sequence[Analysis]) -> str:
    out: list[str] = []
    for analysis in analyses:
        for finding in analysis.findings:
            where = str(finding.span) if finding.span else analysis.path
            level = "warning: " if finding.severity == "warning" else ""
            out.append(f"{where}: {level}{finding.message} [{finding.rule}]")
            line = _source_line(analysis, finding)
            if line:
                out.append(f"  {line}")
                out.append(f"  {_caret(finding, line)}")
            if finding.hint:
                out.append(f"  hint: {finding.hint}")
    return "\n".join(out) + ("\n" if out else "")


def _record(analysis: Analysis, finding: RunbookError) -> dict[str, Any]:
    span = finding.span
    return {
        "rule": finding.rule,
        "severity": finding.severity,
        "message": finding.message,
        "hint": finding.hint,
        "path": span.path if span else analysis.path,
        "line": span.line if span else None,
        "col": span.col if span else None,
        "end_line": span.end_line if span else None,
        "end_col": span.end_col if span else None,
        "source": _source_line(analysis, finding),
    }


def as_json(analyses: Sequence[Analysis]) -> str:
    records = [_record(a, f) for a in analyses for f in a.findings]
    return json.dumps({"findings": records, "files": [a.path for a in analyses]}, indent=2) + "\n"


def sarif(analyses: Sequence[Analysis]) -> str:
    """SARIF 2.1.0 for code-scanning UIs: every registered rule with its name, short and
    full description, default level and an absolute help URI; every finding a result
    pointing at its rule by id and index, with its region."""
    from runbook_engine import __version__
    from runbook_engine.lint.rules import DOCS_URL, Rule, registry

    known = registry()
    used = {f.rule for a in analyses for f in a.findings}
    rules: list[Rule] = list(known.values()) + [
        Rule(id=r, name=r, summary=r, description=r) for r in sorted(used - set(known))
    ]
    index = {rule.id: i for i, rule in enumerate(rules)}
    results = []
    for analysis in analyses:
        for finding in analysis.findings:
            region: dict[str, Any] = {}
            if finding.span:
                span = finding.span
                region = {"startLine": span.line, "startColumn": span.col}
                if span.end_line and span.end_col and (span.end_line, span.end_col) > (span.line, span.col):
                    region.update(endLine=span.end_line, endColumn=span.end_col)
                source = _source_line(analysis, finding)
                if source:
                    region["snippet"] = {"text": source}
            message = finding.message + (f" ({finding.hint})" if finding.hint else "")
            uri = (finding.span.path if finding.span else analysis.path).replace("\\", "/")
            results.append(
                {
                    "ruleId": finding.rule,
                    "ruleIndex": index[finding.rule],
                    "level": finding.severity if finding.severity in ("error", "warning") else "note",
                    "message": {"text": message},
                    "locations": [
                        {"physicalLocation": {"artifactLocation": {"uri": uri}, "region": region}}
                    ],
                }
            )
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "runbook-lint",
                        "version": __version__,
                        "informationUri": DOCS_URL,
                        "rules": [_rule_descriptor(rule) for rule in rules],
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"


def _rule_descriptor(rule: Any) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": _camel(rule.name),
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.description},
        "helpUri": rule.help_uri,
        "help": {"text": f"{rule.summary} See {rule.help_uri}"},
        "defaultConfiguration": {"level": rule.severity},
        "properties": {"configurable": rule.configurable},
    }


def _camel(name: str) -> str:
    """SARIF rule names are identifiers: ``unknown key`` → ``UnknownKey``."""
    words = [w for w in "".join(c if c.isalnum() else " " for c in name).split() if w]
    return "".join(w[0].upper() + w[1:] for w in words) or "Rule"


def github(analyses: Sequence[Analysis]) -> str:
    def esc(value: str) -> str:
        return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    lines = []
    for analysis in analyses:
        for finding in analysis.findings:
            span = finding.span
            where = f"file={span.path},line={span.line},col={span.col}" if span else f"file={analysis.path}"
            message = finding.message + (f" ({finding.hint})" if finding.hint else "")
            lines.append(f"::{finding.severity} {where},title={finding.rule}::{esc(message)}")
    return "\n".join(lines) + ("\n" if lines else "")


REPORTERS: dict[str, Callable[[Sequence[Analysis]], str]] = {
    "text": text,
    "json": as_json,
    "sarif": sarif,
    "github": github,
}

"""Lint findings as text (actionlint style), JSON, SARIF 2.1.0 or GitHub annotations."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from runbook_engine.errors import RunbookError
from runbook_engine.lint.analysis import Analysis

DOCS = "docs/lint-rules.md"


def _source_line(analysis: Analysis, finding: RunbookError) -> str:
    if finding.span is None:
        return ""
    return analysis.line(finding.span.line)


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
    from runbook_engine import __version__

    results = []
    rules: dict[str, dict[str, Any]] = {}
    for analysis in analyses:
        for finding in analysis.findings:
            rules.setdefault(finding.rule, {"id": finding.rule, "helpUri": f"{DOCS}#{finding.rule.lower()}"})
            region: dict[str, Any] = {}
            if finding.span:
                region = {"startLine": finding.span.line, "startColumn": finding.span.col}
            message = finding.message + (f" ({finding.hint})" if finding.hint else "")
            results.append(
                {
                    "ruleId": finding.rule,
                    "level": finding.severity,
                    "message": {"text": message},
                    "locations": [
                        {"physicalLocation": {"artifactLocation": {"uri": analysis.path}, "region": region}}
                    ],
                }
            )
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "runbook-lint", "version": __version__, "rules": list(rules.values())}},
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"


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

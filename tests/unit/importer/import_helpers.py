"""Shared by the importer tests: import a Markdown text and lint the draft with the
real linter (the same checks `runbook lint` runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from runbook_engine.importer import ImportResult, import_markdown
from runbook_engine.lint import analyze_document
from runbook_engine.loader import load_text

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "import"
#: A copy of the seed procedure (../shared/seeds/), so the suite runs anywhere.
SEED = FIXTURES / "monthly-application-update.md"


def imported(text: str, source: str = "procedure.md") -> tuple[ImportResult, dict[str, Any]]:
    """The import result and its YAML read back; the draft must lint clean."""
    result = import_markdown(text, source=source)
    findings = lint_findings(result.yaml)
    assert not findings, "\n".join(str(f) for f in findings) + "\n\n" + result.yaml
    data = yaml.safe_load(result.yaml)
    assert isinstance(data, dict)
    return result, data


def lint_findings(text: str) -> list[str]:
    analysis = analyze_document(load_text(text, "draft.yaml"))
    return [str(f) for f in analysis.findings]


def steps(data: dict[str, Any]) -> list[dict[str, Any]]:
    found = [step for phase in data["phases"] for step in phase["steps"]]
    return found + list(data.get("rollback", {}).get("steps", []))

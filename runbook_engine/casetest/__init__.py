"""``runbook test``: declarative test cases for a runbook, run through the real
engine with every executor replaced by stubbed results and time simulated
(docs/testing-runbooks.md)."""

from __future__ import annotations

from importlib import import_module
from typing import Any

#: Where each public name lives; imported on first use, so `runbook lint` (which only
#: asks `cases.is_case_file`) does not load the engine behind `runbook test`.
_HOME = {
    "Case": "cases",
    "CaseFile": "cases",
    "find_cases": "cases",
    "lint_cases": "cases",
    "load_case_file": "cases",
    "Observation": "runner",
    "observe": "runner",
    "run_case": "runner",
    "CaseOutcome": "suite",
    "collect": "suite",
    "run_cases": "suite",
    "Failure": "verdict",
    "verdict": "verdict",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(name)
    return getattr(import_module(f"runbook_engine.casetest.{_HOME[name]}"), name)


__all__ = [
    "Case",
    "CaseFile",
    "CaseOutcome",
    "Failure",
    "Observation",
    "collect",
    "find_cases",
    "lint_cases",
    "load_case_file",
    "observe",
    "run_case",
    "run_cases",
    "verdict",
]

"""``runbook test``: declarative test cases for a runbook, run through the real
engine with every executor replaced by stubbed results and time simulated
(docs/testing-runbooks.md)."""

from __future__ import annotations

from runbook_engine.casetest.cases import Case, CaseFile, find_cases, lint_cases, load_case_file
from runbook_engine.casetest.runner import Observation, observe, run_case
from runbook_engine.casetest.suite import CaseOutcome, collect, run_cases
from runbook_engine.casetest.verdict import Failure, verdict

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

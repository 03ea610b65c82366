"""``runbook test``: every case of a runbook, each through the real engine with stubs,
and the verdicts the reporters print."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from runbook_engine.casetest.cases import Case, find_cases, lint_case, load_case_file
from runbook_engine.casetest.runner import Observation, case_hosts, run_case
from runbook_engine.casetest.verdict import Failure, verdict
from runbook_engine.errors import RunbookError, RunError
from runbook_engine.model import Runbook


@dataclass(frozen=True)
class CaseOutcome:
    case: Case
    failures: tuple[Failure, ...]
    observation: Observation | None
    seconds: float

    @property
    def passed(self) -> bool:
        return not self.failures


def collect(runbook: Runbook, case_paths: Sequence[str]) -> tuple[list[Case], list[RunbookError]]:
    """The cases to run (those beside the runbook when none are given) and the
    findings of their lint; any finding makes the suite unusable."""
    paths = [Path(p) for p in case_paths] or find_cases(runbook.path)
    if not paths:
        stem = Path(runbook.path).with_suffix("")
        raise RunError(
            f"no test cases for {runbook.path}",
            hint=f"write {stem}.tests.yaml or files in {stem}.tests/ (docs/testing-runbooks.md)",
        )
    cases: list[Case] = []
    findings: list[RunbookError] = []
    for path in paths:
        loaded, problems = load_case_file(path)
        findings += problems
        if loaded is None:
            continue
        wrong = loaded.wrong_runbook(runbook)
        if wrong is not None:
            findings.append(wrong)
            continue
        for case in loaded.cases:
            findings += lint_case(case, runbook, case_hosts(case, runbook))
        cases += loaded.cases
    unique: dict[tuple[str, str, str], RunbookError] = {}
    for finding in findings:  # a problem in defaults: is reported once, not per case
        unique.setdefault((str(finding.span), finding.rule, finding.message), finding)
    return cases, list(unique.values())


def run_cases(runbook: Runbook, cases: Sequence[Case], keep: Path | None = None) -> list[CaseOutcome]:
    """Run each case in its own temporary folder (``keep``: under this folder, kept)."""
    outcomes = []
    for number, case in enumerate(cases, start=1):
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="runbook-test-") as scratch:
            work = (keep / f"{number:03d}") if keep is not None else Path(scratch)
            try:
                seen: Observation | None = run_case(runbook, case, work)
                failures = verdict(case, seen) if seen is not None else []
            except RunbookError as exc:
                seen, failures = None, [Failure(f"the case cannot run: {exc}", exc.span or case.span)]
        outcomes.append(CaseOutcome(case, tuple(failures), seen, time.perf_counter() - started))
    return outcomes

"""A decision that cannot be evaluated is shown, reported and counted — never silently
false (issue 10)."""

from __future__ import annotations

from journal.run_events import numbered, successful_update

from runbook_engine.engine.progress import describe
from runbook_engine.metrics import build_registry
from runbook_engine.report.markdown import render_markdown
from runbook_engine.report.summary import build_report

PROBLEM = {
    "event": "decision_unevaluable",
    "ts": "2026-12-01T10:05:00Z",
    "condition": "Output looks wrong",
    "when": "steps.deploy.stdout > 3",
    "severity": "high",
    "action": "rollback",
    "error": "cannot compare text with a number",
    "step": "deploy",
}


def events() -> list[dict]:
    base = successful_update()
    return numbered([*base[:-1], PROBLEM, base[-1]])


def test_progress_shows_it() -> None:
    line = describe("decision_unevaluable", dict(PROBLEM))
    assert line == "! decision 'Output looks wrong' cannot be evaluated: cannot compare text with a number"


def test_the_report_lists_it_as_a_deviation() -> None:
    report = build_report(events())
    (deviation,) = [d for d in report.deviations if d.kind == "decision-unevaluable"]
    assert "Output looks wrong" in deviation.text and "cannot compare" in deviation.text
    assert "could not be evaluated" in render_markdown(report)


def test_metrics_count_it() -> None:
    registry = build_registry(events())
    assert registry.get_sample_value("runbook_decisions_unevaluable", {"runbook": "monthly-update"}) == 1
    clean = build_registry(successful_update())
    assert clean.get_sample_value("runbook_decisions_unevaluable", {"runbook": "monthly-update"}) == 0

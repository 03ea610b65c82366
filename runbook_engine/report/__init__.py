"""The change-ticket report of a run, rendered from its journal events."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from runbook_engine.redaction import Redactor
from runbook_engine.report.inputs import ReportInputs, inputs_from_run_dir, inputs_of, targets_of
from runbook_engine.report.summary import PlannedStep, RunReport, build_report

FORMATS = ("markdown", "json", "junit", "html")


def render_report(
    events: Sequence[Mapping[str, Any]],
    fmt: str,
    *,
    success: Mapping[str, str] | None = None,
    budgets: Mapping[str, Any] | None = None,
    redactor: Redactor | None = None,
    run_id: str | None = None,
    planned: Sequence[PlannedStep] = (),
    durations: frozenset[str] = frozenset(),
) -> str:
    """Render the report of a run in ``fmt`` (markdown, json, junit, html).

    ``success``/``budgets`` default to those recorded in the ``run_started`` event.
    The journal holds redacted data already; ``redactor`` is a second net.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}; choose from {', '.join(FORMATS)}")
    if redactor:
        events = redactor.redact_obj(list(events))
        success = redactor.redact_obj(success) if success is not None else None
    report = build_report(
        events, success=success, budgets=budgets, run_id=run_id, planned=planned, durations=durations
    )
    text = _renderer(fmt)(report)
    return redactor(text) if redactor else text


def _renderer(fmt: str) -> Callable[[RunReport], str]:
    if fmt == "markdown":
        from runbook_engine.report.markdown import render_markdown

        return render_markdown
    if fmt == "json":
        from runbook_engine.report.jsonfmt import render_json

        return render_json
    if fmt == "junit":
        from runbook_engine.report.junit import render_junit

        return render_junit
    from runbook_engine.report.html import render_html

    return render_html


__all__ = [
    "FORMATS",
    "ReportInputs",
    "RunReport",
    "build_report",
    "inputs_from_run_dir",
    "targets_of",
    "inputs_of",
    "render_report",
]

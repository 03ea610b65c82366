"""The report as Markdown, ready to paste into a change ticket."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from runbook_engine.report.summary import RunReport
from runbook_engine.report.text import (
    DECISION_HEADER,
    HOST_HEADER,
    OPERATOR_HEADER,
    SESSION_HEADER,
    STEP_HEADER,
    budget_text,
    decision_row,
    deviation_line,
    downtime_text,
    duration_text,
    host_row,
    metric_text,
    operator_row,
    retry_line,
    session_row,
    step_row,
    timestamp,
    var_rows,
)

_OUTCOME = {"pass": "✅ pass", "fail": "❌ fail", "unknown": "❔ unknown"}


def render_markdown(report: RunReport) -> str:
    out: list[str] = [f"# Run report: {_cell(report.runbook or '?')}", ""]
    out += _table(
        ["Run facts", ""],
        [
            ["Run", report.run_id or "?"],
            ["Initiator", report.initiator or "?"],
            *([["Inventory", _cell(report.inventory)]] if report.inventory else []),
            [
                "Status",
                f"**{report.status}**"
                + (f" (exit {report.exit_code})" if report.exit_code is not None else ""),
            ],
            ["Started", report.started_at or "?"],
            ["Finished", report.finished_at or "not finished"],
            ["Total duration", duration_text(report.total_duration)],
            ["Downtime", downtime_text(report)],
        ],
    )
    if report.verdicts:
        out += ["## Success metrics", ""]
        out += _table(
            ["Metric", "Target", "Measured", "Result"],
            [
                [
                    v.metric,
                    v.target,
                    metric_text(v.metric, v.value),
                    _OUTCOME[v.outcome] + (f": {v.reason}" if v.reason else ""),
                ]
                for v in report.verdicts
            ],
        )
    if report.vars:
        out += ["## Variables", "", "Secrets are shown as `***`.", ""]
        out += _table(["Variable", "Value"], var_rows(report.vars, report.durations))
    if report.operator_actions:
        out += ["## Operator actions", "", "Approvals, confirmations and the inputs given.", ""]
        out += _table(OPERATOR_HEADER, [operator_row(a) for a in report.operator_actions])
    if len(report.sessions) > 1:
        out += ["## Sessions", "", "The run was resumed; each row is one runner process.", ""]
        out += _table(SESSION_HEADER, [session_row(s) for s in report.sessions])
    out += ["## Timeline", ""]
    for phase in report.phases:
        marker = f" — downtime {phase.downtime}" if phase.downtime else ""
        out += [
            f"### {_cell(phase.id)}{marker}",
            "",
            f"{timestamp(phase.started_at)} → {timestamp(phase.finished_at)}, {duration_text(phase.duration)}"
            + budget_text(phase.budget, phase.overrun),
            "",
        ]
        out += _table(STEP_HEADER, [step_row(s) for s in phase.steps])
    if report.not_run:
        out += ["## Not run", ""]
        out += _bullets(f"{p.id} ({p.phase})" + (f": {p.title}" if p.title else "") for p in report.not_run)
    if report.hosts:
        out += ["## Per-host results", ""]
        out += _table(HOST_HEADER, [host_row(h) for h in report.hosts])
    if report.rollback:
        rb = report.rollback
        out += [
            "## Rollback",
            "",
            f"Reason: {_cell(str(rb.get('reason') or '?'))}; outcome: **{rb.get('status') or 'not finished'}**",
            "",
        ]
    out += ["## Decisions taken", ""]
    if report.decisions:
        out += _table(DECISION_HEADER, [decision_row(d) for d in report.decisions])
    else:
        out += ["None.", ""]
    out += ["## Retries", ""]
    out += _bullets(retry_line(s) for s in report.retries)
    out += ["## Deviations", ""]
    out += _bullets(deviation_line(d) for d in report.deviations)
    return "\n".join(out).rstrip() + "\n"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def _bullets(items: Iterable[str]) -> list[str]:
    lines = [f"- {_cell(i)}" for i in items]
    return [*(lines or ["None."]), ""]


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")

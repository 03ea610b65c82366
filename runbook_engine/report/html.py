"""The report as a single self-contained HTML page (no scripts, no external assets)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from runbook_engine.report.summary import RunReport
from runbook_engine.report.text import (
    DECISION_HEADER,
    HOST_HEADER,
    STEP_HEADER,
    budget_text,
    decision_row,
    deviation_line,
    downtime_text,
    duration_text,
    host_row,
    metric_text,
    retry_line,
    step_row,
    timestamp,
)

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}.pass,.succeeded{color:#17602a}.fail,.failed,.rollback_failed{color:#a11}
.unknown,.skipped,.paused{color:#8a6d00}
"""


def render_html(report: RunReport) -> str:
    title = f"Run report: {report.runbook or '?'}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        _table(
            ["", ""],
            [
                ["Run", report.run_id or "?"],
                ["Initiator", report.initiator or "?"],
                [
                    "Status",
                    report.status
                    + (f" (exit {report.exit_code})" if report.exit_code is not None else ""),
                ],
                ["Started", report.started_at or "?"],
                ["Finished", report.finished_at or "not finished"],
                ["Total duration", duration_text(report.total_duration)],
                ["Downtime", downtime_text(report)],
            ],
        ),
    ]
    if report.verdicts:
        parts.append("<h2>Success metrics</h2>")
        parts.append(
            _table(
                ["Metric", "Target", "Measured", "Result"],
                [
                    [
                        v.metric,
                        v.target,
                        metric_text(v.metric, v.value),
                        v.outcome + (f": {v.reason}" if v.reason else ""),
                    ]
                    for v in report.verdicts
                ],
                classes=[v.outcome for v in report.verdicts],
            )
        )
    parts.append("<h2>Timeline</h2>")
    for phase in report.phases:
        marker = f" — downtime {phase.downtime}" if phase.downtime else ""
        parts.append(f"<h3>{escape(phase.id + marker)}</h3>")
        parts.append(
            f"<p>{escape(timestamp(phase.started_at))} → {escape(timestamp(phase.finished_at))}, "
            f"{escape(duration_text(phase.duration) + budget_text(phase.budget, phase.overrun).replace('**', ''))}</p>"
        )
        parts.append(
            _table(
                STEP_HEADER,
                [_unbold_budget(step_row(s)) for s in phase.steps],
                classes=[s.status for s in phase.steps],
            )
        )
    if report.hosts:
        parts.append("<h2>Per-host results</h2>")
        parts.append(
            _table(HOST_HEADER, [host_row(h) for h in report.hosts])
        )
    if report.rollback:
        parts.append("<h2>Rollback</h2>")
        parts.append(
            f"<p>Reason: {escape(str(report.rollback.get('reason') or '?'))}; "
            f"outcome: <b>{escape(str(report.rollback.get('status') or 'not finished'))}</b></p>"
        )
    parts.append("<h2>Decisions taken</h2>")
    parts.append(
        _table(DECISION_HEADER, [decision_row(d) for d in report.decisions])
        if report.decisions
        else "<p>None.</p>"
    )
    parts.append("<h2>Retries</h2>")
    parts.append(_list(retry_line(s) for s in report.retries))
    parts.append("<h2>Deviations</h2>")
    parts.append(_list(deviation_line(d) for d in report.deviations))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _table(
    header: Sequence[str], rows: Iterable[Sequence[str]], classes: Sequence[str] = ()
) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for index, row in enumerate(rows):
        css = f' class="{escape(classes[index])}"' if index < len(classes) else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _list(items: Iterable[str]) -> str:
    entries = [f"<li>{escape(i)}</li>" for i in items]
    return f"<ul>{''.join(entries)}</ul>" if entries else "<p>None.</p>"


def _unbold_budget(row: list[str]) -> list[str]:
    """The budget cell marks an overrun in Markdown bold; HTML shows it plain."""
    return [*row[:-1], row[-1].replace("**", "")]

"""The report as a single self-contained HTML page (no scripts, no external assets):
the same tables as the Markdown report, plus a timeline chart drawn as inline SVG."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape

from runbook_engine.report.summary import PhaseRow, RunReport
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

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}.pass,.succeeded,.ok{color:#17602a}
.fail,.failed,.rollback_failed,.cancelled{color:#a11}
.unknown,.skipped,.paused,.running{color:#8a6d00}
.mark{font-weight:bold;font-family:ui-monospace,monospace}
svg text{font:11px system-ui,sans-serif;fill:#222}
"""

_BAR = {"succeeded": "#3c9a5f", "failed": "#c0392b", "skipped": "#b8a200", "cancelled": "#c0392b"}


def render_html(report: RunReport) -> str:
    title = f"Run report: {report.runbook or '?'}"
    status = _mark(report.status) + escape(
        f" (exit {report.exit_code})" if report.exit_code is not None else ""
    )
    facts = [
        ("Run", escape(report.run_id or "?")),
        ("Initiator", escape(report.initiator or "?")),
        *([("Inventory", escape(report.inventory))] if report.inventory else []),
        ("Status", f'<span class="{escape(report.status)}">{status}</span>'),
        ("Started", escape(report.started_at or "?")),
        ("Finished", escape(report.finished_at or "not finished")),
        ("Total duration", escape(duration_text(report.total_duration))),
        ("Downtime", escape(downtime_text(report).replace("**", ""))),
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        "<table>"
        + "".join(f'<tr><th scope="row">{k}</th><td>{v}</td></tr>' for k, v in facts)
        + "</table>",
    ]
    if report.verdicts:
        parts.append("<h2>Success metrics</h2>")
        parts.append(
            _table(
                ["Metric", "Target", "Measured", "Result"],
                [
                    [v.metric, v.target, metric_text(v.metric, v.value)] for v in report.verdicts
                ],
                marks=[(v.outcome, v.reason or "") for v in report.verdicts],
            )
        )
    if report.vars:
        parts.append("<h2>Variables</h2><p>Secrets are shown as <code>***</code>.</p>")
        parts.append(_table(["Variable", "Value"], var_rows(report.vars, report.durations)))
    if report.operator_actions:
        parts.append("<h2>Operator actions</h2>")
        parts.append(_table(OPERATOR_HEADER, [operator_row(a) for a in report.operator_actions]))
    if len(report.sessions) > 1:
        parts.append("<h2>Sessions</h2>")
        parts.append(_table(SESSION_HEADER, [session_row(s) for s in report.sessions]))
    parts.append("<h2>Timeline</h2>")
    parts.append(timeline_svg(report))
    for phase in report.phases:
        marker = f" — downtime {phase.downtime}" if phase.downtime else ""
        parts.append(f"<h3>{escape(phase.id + marker)}</h3>")
        parts.append(
            f"<p>{escape(timestamp(phase.started_at))} → {escape(timestamp(phase.finished_at))}, "
            f"{escape(duration_text(phase.duration) + budget_text(phase.budget, phase.overrun).replace('**', ''))}</p>"
        )
        rows = [_unbold_budget(step_row(s)) for s in phase.steps]
        parts.append(
            _table(
                STEP_HEADER,
                [[r[0], *r[2:]] for r in rows],
                marks=[(s.status, "") for s in phase.steps],
                mark_column=1,
            )
        )
    if report.not_run:
        parts.append("<h2>Not run</h2>")
        parts.append(
            _list(f"{p.id} ({p.phase})" + (f": {p.title}" if p.title else "") for p in report.not_run)
        )
    if report.hosts:
        parts.append("<h2>Per-host results</h2>")
        rows = [host_row(h) for h in report.hosts]
        parts.append(
            _table(
                HOST_HEADER,
                [[r[0], r[1], *r[3:]] for r in rows],
                marks=[("" if h.ok is None else "ok" if h.ok else "failed", "") for h in report.hosts],
                mark_column=2,
            )
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


def timeline_svg(report: RunReport, width: int = 900) -> str:
    """A Gantt chart of phases and their steps as inline SVG, so the file stays one
    self-contained page: one row per phase, then one per step, on the run's time axis."""
    start = _time(report.started_at)
    rows: list[tuple[str, str | None, str | None, str, bool]] = []
    for phase in report.phases:
        rows.append((phase.id, phase.started_at, phase.finished_at, _phase_status(phase), True))
        for step in phase.steps:
            rows.append((step.id, step.started_at, step.finished_at, step.status, False))
    ends = [t for _, _, f, _, _ in rows if (t := _time(f)) is not None]
    end = _time(report.finished_at) or (max(ends) if ends else None)
    if start is None or end is None or not rows:
        return "<p>No timeline: the run has no timed steps.</p>"
    span = max((end - start), 1e-3)
    label_w, row_h, chart_w = 220, 16, width - 230
    height = row_h * len(rows) + 24
    out = [
        f'<svg role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>Timeline of phases and steps</title>'
    ]
    for index, (name, began, finished, status, is_phase) in enumerate(rows):
        y = index * row_h + 4
        b = _time(began)
        f = _time(finished) or end
        indent = 0 if is_phase else 12
        weight = ' font-weight="bold"' if is_phase else ""
        out.append(
            f'<text x="{indent}" y="{y + 11}"{weight}>{escape(_short(name, 30 - indent // 6))}</text>'
        )
        if b is None:
            continue
        x = label_w + chart_w * (b - start) / span
        w = max(chart_w * (f - b) / span, 1.5)
        colour = "#5b7db1" if is_phase else _BAR.get(status, "#999")
        out.append(
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h - 4}" fill="{colour}">'
            f"<title>{escape(name)}: {escape(status)}, {escape(duration_text(f - b))}</title></rect>"
        )
    axis_y = height - 6
    out.append(f'<text x="{label_w}" y="{axis_y}">0s</text>')
    out.append(
        f'<text x="{width - 10}" y="{axis_y}" text-anchor="end">{escape(duration_text(span))}</text>'
    )
    out.append("</svg>")
    return "".join(out)


def _phase_status(phase: PhaseRow) -> str:
    statuses = {s.status for s in phase.steps}
    return "failed" if "failed" in statuses else "succeeded" if phase.finished_at else "running"


def _time(ts: str | None) -> float | None:
    if not ts:
        return None
    try:
        return datetime.fromisoformat(ts).timestamp()
    except ValueError:
        return None


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mark(status: str) -> str:
    """The status as a bold word (PASS, FAILED, ROLLED_BACK): readable without colour
    and without an emoji font."""
    return f'<span class="mark">{escape(status.upper())}</span>' if status else ""


def _table(
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    marks: Sequence[tuple[str, str]] = (),
    mark_column: int | None = None,
) -> str:
    """A table; ``marks`` (status, note) adds a cell with a status word (PASS, FAILED…)
    at ``mark_column`` (last when None), coloured by class but readable without."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for index, row in enumerate(rows):
        cells = [f"<td>{escape(str(c))}</td>" for c in row]
        css = ""
        if index < len(marks):
            status, note = marks[index]
            css = f' class="{escape(status)}"' if status else ""
            text = (_mark(status) or "—") + escape(f": {note}" if note else "")
            cell = f"<td>{text}</td>"
            cells.insert(len(cells) if mark_column is None else mark_column, cell)
        body.append(f"<tr{css}>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _list(items: Iterable[str]) -> str:
    entries = [f"<li>{escape(i)}</li>" for i in items]
    return f"<ul>{''.join(entries)}</ul>" if entries else "<p>None.</p>"


def _unbold_budget(row: list[str]) -> list[str]:
    """The budget cell marks an overrun in Markdown bold; HTML shows it plain."""
    return [*row[:-1], row[-1].replace("**", "")]

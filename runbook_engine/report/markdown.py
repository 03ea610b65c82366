"""The report as Markdown, ready to paste into a change ticket."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from runbook_engine.report.summary import RunReport
from runbook_engine.report.text import (
    budget_text,
    downtime_text,
    duration_text,
    metric_text,
    plain,
    timestamp,
)

_OUTCOME = {"pass": "✅ pass", "fail": "❌ fail", "unknown": "❔ unknown"}


def render_markdown(report: RunReport) -> str:
    out: list[str] = [f"# Run report: {_cell(report.runbook or '?')}", ""]
    out += _table(
        ["", ""],
        [
            ["Run", report.run_id or "?"],
            ["Initiator", report.initiator or "?"],
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
        out += _table(
            ["Step", "Status", "Attempts", "Started", "Duration", "Budget"],
            [
                [
                    s.id + (f" — {s.error}" if s.error and s.status != "succeeded" else ""),
                    s.status,
                    str(s.attempts),
                    timestamp(s.started_at),
                    duration_text(s.duration),
                    budget_text(s.budget, s.overrun).lstrip(", ") or "—",
                ]
                for s in phase.steps
            ],
        )
    if report.hosts:
        out += ["## Per-host results", ""]
        out += _table(
            ["Step", "Host", "Result", "rc", "Duration", "Detail"],
            [
                [
                    h.step,
                    h.host,
                    {True: "ok", False: "failed", None: "—"}[h.ok],
                    plain(h.rc),
                    duration_text(h.duration),
                    h.detail,
                ]
                for h in report.hosts
            ],
        )
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
        out += _table(
            ["At", "Condition", "Severity", "Action", "Step", "Evidence"],
            [
                [
                    timestamp(d.get("ts")),
                    plain(d.get("condition")),
                    plain(d.get("severity")),
                    plain(d.get("action")),
                    plain(d.get("step")),
                    plain(d.get("evidence")),
                ]
                for d in report.decisions
            ],
        )
    else:
        out += ["None.", ""]
    out += ["## Retries", ""]
    out += _bullets(
        f"{s.id}: {s.attempts} attempts, final status {s.status}" for s in report.retries
    )
    out += ["## Deviations", ""]
    out += _bullets(
        f"{timestamp(d.at)} {d.kind}: {d.text}" if d.at else f"{d.kind}: {d.text}"
        for d in report.deviations
    )
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

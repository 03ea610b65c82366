"""How the report writes values in prose formats (Markdown, HTML): durations,
timestamps, budgets and measured metrics, and the rows of its tables, so both formats
say exactly the same thing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runbook_engine.durations import format_duration
from runbook_engine.report.summary import RunReport


def plain(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def duration_text(seconds: float | None) -> str:
    return format_duration(seconds) if seconds is not None else "—"


def timestamp(ts: Any) -> str:
    return str(ts).replace("T", " ") if ts else "—"


def budget_text(budget: float | None, overrun: float | None) -> str:
    """`, budget 15m`, plus the overrun in bold when there is one."""
    if budget is None:
        return ""
    text = f", budget {format_duration(budget)}"
    return text + (f" (**over by {format_duration(overrun)}**)" if overrun else "")


def metric_text(name: str, value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if name == "smoke_pass_rate":
        return f"{value:.0f}%"
    return format_duration(float(value))


def downtime_text(report: RunReport) -> str:
    d = report.downtime
    if d.seconds is None:
        return "no downtime markers in this run"
    text = duration_text(d.seconds) + f" ({timestamp(d.began_at)} → {timestamp(d.ended_at)})"
    if not d.closed:
        text += ", run ended before the downtime-ending phase finished"
    return text + budget_text(
        d.budget, (d.seconds - d.budget) if d.budget is not None and d.seconds > d.budget else None
    )


STEP_HEADER = ["Step", "Status", "Attempts", "Started", "Duration", "Budget"]
HOST_HEADER = ["Step", "Host", "Result", "rc", "Duration", "Detail"]
DECISION_HEADER = ["At", "Condition", "Severity", "Action", "Step", "Evidence"]


def step_row(step: Any) -> list[str]:
    return [
        step.id + (f" — {step.error}" if step.error and step.status != "succeeded" else ""),
        step.status,
        str(step.attempts),
        timestamp(step.started_at),
        duration_text(step.duration),
        budget_text(step.budget, step.overrun).lstrip(", ") or "—",
    ]


def host_row(host: Any) -> list[str]:
    return [
        host.step,
        host.host,
        {True: "ok", False: "failed", None: "—"}[host.ok],
        plain(host.rc),
        duration_text(host.duration),
        host.detail,
    ]


def decision_row(decision: Mapping[str, Any]) -> list[str]:
    keys = ("condition", "severity", "action", "step", "evidence")
    return [timestamp(decision.get("ts")), *(plain(decision.get(k)) for k in keys)]


def retry_line(step: Any) -> str:
    return f"{step.id}: {step.attempts} attempts, final status {step.status}"


def deviation_line(deviation: Any) -> str:
    what = f"{deviation.kind}: {deviation.text}"
    return f"{timestamp(deviation.at)} {what}" if deviation.at else what

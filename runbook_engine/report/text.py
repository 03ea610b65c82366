"""How the report writes values in prose formats (Markdown, HTML): durations,
timestamps, budgets and measured metrics."""

from __future__ import annotations

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

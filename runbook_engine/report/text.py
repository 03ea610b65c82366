"""How the report writes values in prose formats (Markdown, HTML): durations,
timestamps, budgets and measured metrics, and the rows of its tables, so both formats
say exactly the same thing."""

from __future__ import annotations

from collections.abc import Collection, Mapping
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
        step.label + (f" — {step.error}" if step.error and step.status != "succeeded" else ""),
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
    keys = ("condition", "severity", "action", "step")
    evidence = decision.get("evidence")
    return [
        timestamp(decision.get("ts")),
        *(plain(decision.get(k)) for k in keys),
        evidence_text(evidence) if isinstance(evidence, Mapping) else plain(evidence),
    ]


#: Evidence keys whose numbers are seconds, and those that are fractions or percentages.
_SECONDS_KEYS = ("latency", "duration", "held_for", "window", "elapsed", "p95", "p99")
_PERCENT_KEYS = ("rate", "percent", "pct", "ratio")
#: Evidence that says nothing to a reader of the ticket (bodies, flags of no interest).
_QUIET_KEYS = frozenset({"text", "truncated", "headers", "json_error", "url", "stdout", "stderr"})


def evidence_text(evidence: Mapping[str, Any], prefix: str = "") -> str:
    """Decision evidence as a reader wants it: ``status 500, latency 7ms, failed 3;
    when failed(verify.smoke-*)`` — units on durations and rates, no Python repr."""
    parts: list[str] = []
    when = evidence.get("when") if not prefix else None
    head = ""
    if not prefix and isinstance(evidence.get("step"), str) and isinstance(evidence.get("status"), str):
        head = f"step {evidence['step']} {evidence['status']}"
    for key, value in evidence.items():
        if not prefix and (key == "when" or head and key in ("step", "status")):
            continue
        name = f"{prefix}{key}"
        if key in _QUIET_KEYS or value is None:
            continue
        if isinstance(value, Mapping):
            inner = evidence_text(value, "" if key == "fields" else f"{name}.")
            if inner:
                parts.append(inner)
            continue
        parts.append(f"{name} {evidence_value(key, value)}")
    text = ", ".join(parts)
    if head:
        text = f"{head}: {text}" if text else head
    if when:
        text += f"; when {when}" if text else f"when {when}"
    return text


def evidence_value(key: str, value: Any) -> str:
    """One evidence value with its unit: durations for latencies, % for rates."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        lowered = key.lower()
        if any(lowered.endswith(k) or lowered.startswith(k) for k in _SECONDS_KEYS):
            return format_duration(float(value))
        if any(k in lowered for k in _PERCENT_KEYS):
            percent = value * 100 if -1 <= value <= 1 and "percent" not in lowered else value
            return f"{percent:.3g}%"
        return str(value) if isinstance(value, int) else f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "none"
    return str(value)


def retry_line(step: Any) -> str:
    times = "once" if step.retries == 1 else f"{step.retries} times"
    return f"{step.id}: retried {times} ({step.attempts} attempts), final status {step.status}"


OPERATOR_HEADER = ["At", "Who", "Action", "Step", "Inputs"]


def operator_row(action: Any) -> list[str]:
    inputs = ", ".join(f"{k}={v}" for k, v in action.inputs.items()) or "—"
    how = f"{action.action} (automatic, --yes)" if action.auto else action.action
    return [timestamp(action.at), action.by, how, action.label or action.step or "—", inputs]


SESSION_HEADER = ["Started", "By", "Ended", "How it ended"]

_ENDINGS = {
    "finished": "run finished",
    "paused": "paused for an operator",
    "crashed": "runner stopped without finishing (crash or kill)",
    "running": "still running",
}


def session_row(session: Any) -> list[str]:
    ending = _ENDINGS.get(session.ending, session.ending)
    if session.interrupted:
        ending += f"; cut short: {', '.join(session.interrupted)}"
    return [timestamp(session.started_at), session.by or "?", timestamp(session.ended_at), ending]


def var_rows(values: Mapping[str, Any], durations: Collection[str] = ()) -> list[list[str]]:
    """The run's variables as recorded (secrets already ``***`` in the journal), the
    ``durations`` among them as durations (the journal holds seconds)."""
    return [
        [str(k), format_duration(v) if k in durations and isinstance(v, int | float) else plain(v)]
        for k, v in sorted(values.items())
    ]


def deviation_line(deviation: Any) -> str:
    what = f"{deviation.kind}: {deviation.text}"
    return f"{timestamp(deviation.at)} {what}" if deviation.at else what

"""Prometheus metrics of a finished run: step durations, run outcome, downtime.

Built from the journal events through the same summary as the report, so the
dashboards and the change ticket agree. Label values are only runbook, phase and
step ids, statuses and metric names (never variable values or output), and they go
through the redactor as a second net. prometheus_client is imported only here,
inside the functions that need it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook_engine.redaction import Redactor
from runbook_engine.report.summary import build_report

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

#: Step duration buckets, in seconds: from a quick check to a long migration.
STEP_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)

Events = Sequence[Mapping[str, Any]]


def build_registry(
    events: Events,
    *,
    redactor: Redactor | None = None,
    success: Mapping[str, str] | None = None,
    budgets: Mapping[str, Any] | None = None,
) -> CollectorRegistry:
    """A fresh registry holding the metrics of one run (``success``/``budgets`` as
    for the report)."""
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

    redact = redactor or Redactor(())
    report = build_report(redact.redact_obj(list(events)), success=success, budgets=budgets)
    runbook = redact(report.runbook or "unknown")
    registry = CollectorRegistry()
    step_hist = Histogram(
        "runbook_step_duration_seconds",
        "Wall-clock duration of runbook steps, retries included.",
        ["runbook", "phase", "status"],
        buckets=STEP_BUCKETS,
        registry=registry,
    )
    step_last = Gauge(
        "runbook_step_last_duration_seconds",
        "Duration of each step in the last run.",
        ["runbook", "phase", "step", "status"],
        registry=registry,
    )
    step_attempts = Gauge(
        "runbook_step_attempts",
        "Attempts each step took in the last run.",
        ["runbook", "phase", "step"],
        registry=registry,
    )
    for phase in report.phases:
        for step in phase.steps:
            if step.duration is None:
                continue
            labels = {"runbook": runbook, "phase": redact(phase.id), "status": step.status}
            step_hist.labels(**labels).observe(step.duration)
            step_last.labels(step=redact(step.id), **labels).set(step.duration)
            step_attempts.labels(runbook=runbook, phase=redact(phase.id), step=redact(step.id)).set(
                step.attempts
            )
    Counter(
        "runbook_runs", "Runs by final status.", ["runbook", "status"], registry=registry
    ).labels(runbook=runbook, status=report.status).inc()
    Gauge(
        "runbook_decisions_unevaluable",
        "Times a decision of the last run started failing to evaluate (it never held then).",
        ["runbook"],
        registry=registry,
    ).labels(runbook=runbook).set(
        sum(1 for d in report.deviations if d.kind == "decision-unevaluable")
    )
    if report.total_duration is not None:
        Gauge(
            "runbook_run_duration_seconds",
            "Total duration of the last run.",
            ["runbook"],
            registry=registry,
        ).labels(runbook=runbook).set(report.total_duration)
    if report.downtime.seconds is not None:
        Gauge(
            "runbook_downtime_seconds",
            "Downtime measured between the downtime markers in the last run.",
            ["runbook"],
            registry=registry,
        ).labels(runbook=runbook).set(report.downtime.seconds)
    Gauge(
        "runbook_rollback", "1 if the last run rolled back.", ["runbook"], registry=registry
    ).labels(runbook=runbook).set(1 if report.rollback else 0)
    if report.verdicts:
        target_met = Gauge(
            "runbook_success_target_met",
            "1 if a success target was met, 0 if missed, -1 if it could not be measured.",
            ["runbook", "metric"],
            registry=registry,
        )
        for verdict in report.verdicts:
            value = {"pass": 1, "fail": 0}.get(verdict.outcome, -1)
            target_met.labels(runbook=runbook, metric=redact(verdict.metric)).set(value)
    return registry


def write_textfile(
    events: Events,
    path: Path | str,
    *,
    redactor: Redactor | None = None,
    success: Mapping[str, str] | None = None,
) -> None:
    """Write the run's metrics for node_exporter's textfile collector (atomically)."""
    from prometheus_client import write_to_textfile

    write_to_textfile(str(path), build_registry(events, redactor=redactor, success=success))


def push(
    events: Events,
    url: str,
    *,
    job: str = "runbook",
    redactor: Redactor | None = None,
    success: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> None:
    """Push the run's metrics to a Pushgateway, grouped by runbook."""
    from prometheus_client import push_to_gateway

    registry = build_registry(events, redactor=redactor, success=success)
    runbook = next(
        (str(e.get("runbook")) for e in events if e.get("event") == "run_started"), "unknown"
    )
    grouping = {"runbook": (redactor or Redactor(()))(runbook)}
    push_to_gateway(url, job=job, registry=registry, grouping_key=grouping, timeout=timeout)


def serve(
    events: Events, port: int, *, addr: str = "127.0.0.1", redactor: Redactor | None = None
) -> Any:
    """Expose the run's metrics on an HTTP endpoint; returns the server so the
    caller can ``shutdown()`` it."""
    from prometheus_client import start_http_server

    server, _thread = start_http_server(
        port, addr=addr, registry=build_registry(events, redactor=redactor)
    )
    return server

"""Prometheus metrics of a run: live while it runs (`LiveMetrics`, fed with the
engine's progress events), or of a finished run from its journal (the same
`LiveMetrics` fed with the journal's events, plus the report's figures), so the live
endpoint, the textfile and the change ticket agree. Label values are only runbook, phase and
step ids, statuses and metric names (never variable values or output), and they go
through the redactor as a second net. prometheus_client is imported only here,
inside the functions that need it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook_engine.journal.events import (
    Decision,
    DecisionUnevaluable,
    Event,
    Paused,
    PhaseFinished,
    PhaseStarted,
    Resumed,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
    UnknownEvent,
    decode,
    decode_all,
)
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
    from prometheus_client import Gauge

    redact = redactor or Redactor(())
    clean = redact.redact_obj(list(events))
    report = build_report(clean, success=success, budgets=budgets)
    runbook = redact(report.runbook or "unknown")
    live = LiveMetrics(runbook)
    for line in decode_all(clean, *_COUNTED_KINDS):
        live.observe(line.event, _when(line.ts))
    live.replayed(report.downtime.seconds)
    registry = live.registry
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
            labels = {"runbook": runbook, "phase": phase.id, "status": step.status}
            step_last.labels(step=step.id, **labels).set(step.duration)
            step_attempts.labels(runbook=runbook, phase=phase.id, step=step.id).set(step.attempts)
    if report.total_duration is not None:
        Gauge(
            "runbook_run_duration_seconds",
            "Total duration of the last run.",
            ["runbook"],
            registry=registry,
        ).labels(runbook=runbook).set(report.total_duration)
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
        (
            line.event.runbook
            for line in decode_all(events, RunStarted)
            if isinstance(line.event, RunStarted)
        ),
        "unknown",
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


#: The events the metrics count (`LiveMetrics.observe`).
_COUNTED_KINDS = (
    PhaseStarted, PhaseFinished, Resumed, StepStarted, Paused, StepFinished, Decision,
    DecisionUnevaluable, RunFinished,
)  # fmt: skip
_COUNTED = frozenset(kind.name for kind in _COUNTED_KINDS)


class LiveMetrics:
    """Prometheus metrics of the run as it goes, fed with the engine's progress
    events (already redacted): served live with ``--metrics-port``, written with
    ``--metrics-textfile`` after each step, pushed with ``--pushgateway`` at the end.

    Labels are runbook, phase and step ids, executor names, statuses, severities and
    actions: all fixed by the runbook, so cardinality is bounded; no run id, host,
    variable value, output or condition text ever becomes a label.
    """

    def __init__(self, runbook: str) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.runbook = runbook
        self.registry = CollectorRegistry()
        self._phase_of: dict[str, str] = {}
        self._executor_of: dict[str, str] = {}
        #: Per step, how its last attempt ended: a retry follows "started" (the step's
        #: own retries) or "failed" (resume --from / --retry-failed-hosts), never
        #: "waited" (a gate that paused, a step a crash cut short).
        self._last: dict[str, str] = {}
        self._downtime_began: float | None = None
        self._phase_downtime: dict[str, Any] = {}
        self._downtime_before = 0.0
        self.runs = Counter(
            "runbook_runs", "Runs by final status.", ["runbook", "status"], registry=self.registry
        )
        self.step_duration = Histogram(
            "runbook_step_duration_seconds",
            "Wall-clock duration of runbook steps, retries included.",
            ["runbook", "phase", "step", "executor", "status"],
            buckets=STEP_BUCKETS,
            registry=self.registry,
        )
        self.retries = Counter(
            "runbook_step_retries",
            "Attempts of a step after a failed one (not a gate resumed after a pause).",
            ["runbook", "phase", "step"],
            registry=self.registry,
        )
        self.decisions = Counter(
            "runbook_decisions",
            "Decisions of the rollback matrix that were taken.",
            ["runbook", "severity", "action"],
            registry=self.registry,
        )
        self.unevaluable = Gauge(
            "runbook_decisions_unevaluable",
            "Times a decision started failing to evaluate (it never held then): a type "
            "mismatch, a value missing that the run should have.",
            ["runbook"],
            registry=self.registry,
        )
        self.downtime = Gauge(
            "runbook_downtime_seconds",
            "Downtime so far: from the start of the downtime-beginning phase to the end "
            "of the downtime-ending phase.",
            ["runbook"],
            registry=self.registry,
        )
        self.in_progress = Gauge(
            "runbook_run_in_progress",
            "1 while a runner works on the run.",
            ["runbook"],
            registry=self.registry,
        )
        self.downtime.labels(runbook=runbook).set_function(self._downtime_now)
        self.in_progress.labels(runbook=runbook).set(1)
        self.unevaluable.labels(runbook=runbook).set(0)  # present from the start

    def _downtime_now(self) -> float:
        import time

        began = self._downtime_began
        return self._downtime_before + (time.time() - began if began is not None else 0.0)

    def replayed(self, downtime: float | None) -> None:
        """After feeding a finished journal: nobody works on the run, and the downtime
        is the report's (which knows about rollbacks), not a clock still running."""
        self.finish()
        self.downtime.labels(runbook=self.runbook).set_function(lambda: downtime or 0.0)

    def event(self, kind: str, data: Mapping[str, Any]) -> None:
        """One progress event (live) or journal line (replayed), read as its typed
        event; the kinds metrics do not count are not even decoded."""
        if kind in _COUNTED:
            self.observe(decode({**data, "event": kind}), _when(data.get("ts")))

    def observe(self, event: Event | UnknownEvent, when: float) -> None:
        runbook = self.runbook
        match event:
            case PhaseStarted(phase=phase, downtime=downtime):
                self._phase_downtime[phase] = downtime
                if downtime == "begins" and self._downtime_began is None:
                    self._downtime_began = when
            case PhaseFinished(phase=phase, downtime=downtime):
                ends = (downtime or self._phase_downtime.get(phase)) == "ends"
                if ends and self._downtime_began is not None:
                    self._downtime_before += when - self._downtime_began
                    self._downtime_began = None
            case Resumed():  # what the previous runner left started was cut short
                self._last.update({k: "waited" for k, v in self._last.items() if v == "started"})
            case StepStarted(step=step) as started:
                self._phase_of[step] = started.phase or ""
                if started.executor:
                    self._executor_of[step] = started.executor
                again = self._last.get(step) in ("started", "failed")
                if again and started.attempt > 1:
                    self.retries.labels(
                        runbook=runbook, phase=self._phase_of[step], step=step
                    ).inc()
                self._last[step] = "started"
            case Paused(step=step):
                self._last[step] = "waited"
            case StepFinished(step=step) as finished:
                failed = finished.status in ("failed", "cancelled")
                self._last[step] = "failed" if failed else "done"
                duration: Any = finished.duration
                if duration is None and isinstance(finished.result, Mapping):
                    duration = finished.result.get("duration")  # journals before it was recorded
                if isinstance(duration, int | float) and not isinstance(duration, bool):
                    self.step_duration.labels(
                        runbook=runbook,
                        phase=finished.phase or self._phase_of.get(step, ""),
                        step=step,
                        executor=self._executor_of.get(step, "unknown"),
                        status=finished.status or "unknown",
                    ).observe(float(duration))
            case Decision(severity=severity, action=action):
                self.decisions.labels(
                    runbook=runbook, severity=severity or "unknown", action=action or "unknown"
                ).inc()
            case DecisionUnevaluable():
                self.unevaluable.labels(runbook=runbook).inc()
            case RunFinished(status=status):
                self.runs.labels(runbook=runbook, status=status or "unknown").inc()
                self.finish()
            case _:
                pass

    def finish(self) -> None:
        """The runner stops working on the run (finished or paused)."""
        self.in_progress.labels(runbook=self.runbook).set(0)

    def text(self) -> str:
        from prometheus_client import generate_latest

        return generate_latest(self.registry).decode("utf-8")


def _when(ts: Any) -> float:
    """The event's time: its journal timestamp when replayed, now when live."""
    import time
    from datetime import datetime

    if isinstance(ts, str):
        try:
            return datetime.fromisoformat(ts).timestamp()
        except ValueError:
            pass
    return time.time()


class MetricsExport:
    """Where the live metrics go: an HTTP endpoint while the run lasts, a textfile
    rewritten after each step, a Pushgateway at the end. Errors reaching a Pushgateway
    are reported as warnings: metrics never fail a run."""

    def __init__(
        self,
        metrics: LiveMetrics,
        *,
        textfile: Path | None = None,
        pushgateway: str | None = None,
        port: int | None = None,
        addr: str = "127.0.0.1",
        warn: Any = None,
    ) -> None:
        self.metrics = metrics
        self.textfile = textfile
        self.pushgateway = pushgateway
        self.warn = warn or (lambda text: None)
        self.server: Any = None
        if port is not None:
            from prometheus_client import start_http_server

            self.server, _thread = start_http_server(port, addr=addr, registry=metrics.registry)

    @property
    def port(self) -> int | None:
        return int(self.server.server_port) if self.server is not None else None

    def event(self, kind: str, data: Mapping[str, Any]) -> None:
        self.metrics.event(kind, data)
        if self.textfile is not None and kind in (StepFinished.name, RunFinished.name):
            self._write()

    def _write(self) -> None:
        from prometheus_client import write_to_textfile

        assert self.textfile is not None
        write_to_textfile(str(self.textfile), self.metrics.registry)

    def close(self) -> None:
        self.metrics.finish()
        if self.textfile is not None:
            self._write()
        if self.pushgateway:
            from prometheus_client import push_to_gateway

            try:
                push_to_gateway(
                    self.pushgateway,
                    job="runbook",
                    registry=self.metrics.registry,
                    grouping_key={"runbook": self.metrics.runbook},
                    timeout=10.0,
                )
            except OSError as exc:
                self.warn(f"cannot push metrics to {self.pushgateway}: {exc}")
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

"""What a change ticket needs to know about a run, computed from its journal events.

Every output format renders this one `RunReport`, so Markdown, JSON, JUnit and HTML
never disagree about a duration or a verdict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatch
from typing import Any

from runbook_engine.durations import format_duration, parse_duration
from runbook_engine.journal.events import (
    DecisionUnevaluable,
    JournalRepaired,
    Operator,
    OperatorActions,
    Paused,
    PhaseFinished,
    PhaseStarted,
    Recorded,
    Resumed,
    RollbackStarted,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
    decode_all,
)
from runbook_engine.journal.replay import RunState, replay
from runbook_engine.recap import is_recap, recap_text
from runbook_engine.report.targets import Verdict, check_target

#: Steps whose outcome makes up `smoke_pass_rate` (a percentage, 0–100); the rollback's
#: own re-check of the old version does not count.
SMOKE_PATTERN = "*smoke*"

#: Keys of `budgets` that hold the budget of the whole run (the window's max_duration).
RUN_BUDGET = ("run", "total_duration")


@dataclass(frozen=True, slots=True)
class StepRow:
    """One step of the run; ``retries`` counts re-runs after a failed attempt only
    (a gate that paused and went on after a resume is not retried)."""

    id: str
    phase: str | None
    status: str
    attempts: int
    started_at: str | None
    finished_at: str | None
    duration: float | None
    budget: float | None
    overrun: float | None
    error: str | None
    title: str = ""
    executor: str | None = None
    retries: int = 0

    @property
    def label(self) -> str:
        """What a reader recognises: a prerequisite by its text, a step by its id."""
        return self.title if self.phase == "prerequisites" and self.title else self.id


@dataclass(frozen=True, slots=True)
class PlannedStep:
    """A step the runbook has, whether or not the run reached it."""

    id: str
    phase: str
    title: str = ""


@dataclass(frozen=True, slots=True)
class OperatorRow:
    """An operator's act on the run: a confirmation, an approval, a skip or rerun,
    with the inputs given (the journal holds them redacted already)."""

    at: str | None
    by: str
    action: str
    step: str | None
    inputs: Mapping[str, Any]
    auto: bool = False
    #: What a reader recognises the step by (`StepRow.label`: a prerequisite's text).
    label: str | None = None


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One stretch of the run by one runner process, and how it ended: ``finished``,
    ``paused`` (waiting for an operator), ``crashed`` (stopped without a word: killed,
    power loss), or ``running`` (the last one, still going)."""

    started_at: str | None
    by: str | None
    ended_at: str | None
    ending: str
    interrupted: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PhaseRow:
    id: str
    started_at: str | None
    finished_at: str | None
    duration: float | None
    budget: float | None
    overrun: float | None
    downtime: str | None
    steps: tuple[StepRow, ...]


@dataclass(frozen=True, slots=True)
class HostRow:
    step: str
    host: str
    ok: bool | None
    rc: Any
    duration: float | None
    detail: str


@dataclass(frozen=True, slots=True)
class Downtime:
    """Measured from the start of the ``downtime: begins`` phase to the finish of the
    ``downtime: ends`` phase; ``closed`` is false when the run ended in between."""

    began_at: str | None
    ended_at: str | None
    seconds: float | None
    closed: bool
    budget: float | None = None


@dataclass(frozen=True, slots=True)
class Deviation:
    kind: str
    at: str | None
    text: str


@dataclass(frozen=True, slots=True)
class RunReport:
    run_id: str | None
    runbook: str | None
    initiator: str | None
    status: str
    exit_code: int | None
    started_at: str | None
    finished_at: str | None
    total_duration: float | None
    phases: tuple[PhaseRow, ...]
    hosts: tuple[HostRow, ...]
    downtime: Downtime
    metrics: Mapping[str, float | bool | None]
    verdicts: tuple[Verdict, ...]
    decisions: tuple[Mapping[str, Any], ...]
    retries: tuple[StepRow, ...]
    deviations: tuple[Deviation, ...]
    rollback: Mapping[str, Any] | None = None
    vars: Mapping[str, Any] = field(default_factory=dict)
    operator_actions: tuple[OperatorRow, ...] = ()
    sessions: tuple[SessionRow, ...] = ()
    not_run: tuple[PlannedStep, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: The inventory the run was given: which fleet it changed.
    inventory: str | None = None
    #: Names of the vars that are durations (seconds in `vars`), shown as ``15m``.
    durations: tuple[str, ...] = ()


def build_report(
    events: Sequence[Mapping[str, Any]],
    *,
    success: Mapping[str, str] | None = None,
    budgets: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    planned: Sequence[PlannedStep] = (),
    durations: frozenset[str] = frozenset(),
) -> RunReport:
    """Summarise a run's (already redacted) events for its change ticket.

    ``planned`` lists the runbook's steps, so those the run never reached are shown
    too (as not run, and as skipped in JUnit)."""
    state = replay(events)
    lines = decode_all(events)
    started = next((x.event for x in lines if isinstance(x.event, RunStarted)), None)
    if success is None:
        success = started.success if started else None
    if budgets is None:
        budgets = started.budgets if started else None
    success = dict(success or {})
    budget_of = _budgets(budgets or {})
    last_ts = lines[-1].ts if lines else None
    end = state.finished_at or last_ts

    phases = _phases(lines, state, budget_of)
    sessions = _sessions(lines)
    downtime = _downtime(state, end, budget_of.get("downtime"))
    total = _seconds(state.started_at, end)
    smoke = [
        s for s in state.steps.items() if fnmatch(s[0], SMOKE_PATTERN) and s[1].phase != "rollback"
    ]
    metrics: dict[str, float | bool | None] = {
        "total_duration": total,
        "downtime": downtime.seconds,
        "smoke_pass_rate": (
            100.0 * sum(1 for _, s in smoke if s.status == "succeeded") / len(smoke)
            if smoke
            else None
        ),
        "rollback": state.rollback is not None,
    }
    verdicts = tuple(
        check_target(name, str(target), metrics.get(name)) for name, target in success.items()
    )
    all_steps = [step for phase in phases for step in phase.steps]
    rollback = None
    if state.rollback is not None:
        rollback = {
            "reason": state.rollback.reason,
            "status": state.rollback.status,
            "started_at": state.rollback.started_at,
            "finished_at": state.rollback.finished_at,
        }
    return RunReport(
        run_id=run_id or (started.run_id if started else None),
        runbook=state.runbook,
        initiator=state.initiator,
        status=state.status,
        exit_code=state.exit_code,
        started_at=state.started_at,
        finished_at=state.finished_at,
        total_duration=total,
        phases=phases,
        hosts=_hosts(state),
        downtime=downtime,
        metrics=metrics,
        verdicts=verdicts,
        decisions=tuple(
            {k: v for k, v in d.items() if k not in ("seq", "event")} for d in state.decisions
        ),
        retries=tuple(s for s in all_steps if s.retries > 0),
        deviations=_deviations(lines, state, phases, downtime, total, budget_of, sessions),
        rollback=rollback,
        vars=dict(state.vars),
        operator_actions=_operator_rows(state.operator_actions, {s.id: s.label for s in all_steps}),
        sessions=sessions,
        not_run=tuple(p for p in planned if p.id not in state.steps),
        inventory=state.inventory,
        durations=tuple(sorted(durations)),
    )


def _budgets(raw: Mapping[str, Any]) -> dict[str, float]:
    budgets: dict[str, float] = {}
    for name, value in raw.items():
        if value is None:
            continue
        try:
            budgets[str(name)] = parse_duration(value)
        except ValueError:
            continue
    return budgets


def _phases(
    lines: Sequence[Recorded], state: RunState, budget_of: Mapping[str, float]
) -> tuple[PhaseRow, ...]:
    """Phases in the order they started, each with its steps in the order they started."""
    phase_order: dict[str, None] = {}
    step_order: dict[str, None] = {}
    for line in lines:
        event = line.event
        phased = PhaseStarted | PhaseFinished | StepStarted | StepFinished | Paused
        if isinstance(event, phased) and event.phase:
            phase_order.setdefault(event.phase)
        if isinstance(event, StepStarted | StepFinished | Paused) and event.step:
            step_order.setdefault(event.step)
    for step_id in state.steps:
        step_order.setdefault(step_id)
    facts = _step_facts(lines)
    by_phase: dict[str | None, list[str]] = {}
    for step_id in step_order:
        if step_id in state.steps:
            by_phase.setdefault(state.steps[step_id].phase, []).append(step_id)
    rows: list[PhaseRow] = []
    for phase_id in phase_order:
        steps = tuple(
            _step_row(step_id, state, budget_of, facts.get(step_id, {})) for step_id in by_phase.get(phase_id, ())
        )
        info = state.phases.get(phase_id)
        started = info.started_at if info else None
        finished = info.finished_at if info else None
        if started is None and steps:
            started = min((s.started_at for s in steps if s.started_at), default=None)
        if finished is None and steps and all(s.finished_at for s in steps) and info is None:
            finished = max(s.finished_at for s in steps if s.finished_at)
        duration = _seconds(started, finished)
        budget = budget_of.get(phase_id, info.budget if info else None)
        rows.append(
            PhaseRow(
                id=phase_id,
                started_at=started,
                finished_at=finished,
                duration=duration,
                budget=budget,
                overrun=_overrun(duration, budget),
                downtime=info.downtime if info else None,
                steps=steps,
            )
        )
    return tuple(rows)


def _step_facts(lines: Sequence[Recorded]) -> dict[str, dict[str, Any]]:
    """Per step: its title and executor (from ``step_started``) and its real retries.

    A ``step_started`` of attempt 2 or more is a retry when the attempt before it
    failed (a failed ``step_finished``, then ``resume --from`` or
    ``--retry-failed-hosts``) or went on within one session (the step's own
    ``retries``). A gate that paused, or a step a crash cut short, starts again after
    the resume: that is no retry."""
    facts: dict[str, dict[str, Any]] = {}
    last: dict[str, str] = {}  # step → started | waited | failed | done
    for line in lines:
        match line.event:
            case Resumed():
                last.update({k: "waited" for k, v in last.items() if v == "started"})
            case Paused(step=step):
                facts.setdefault(step, {"title": "", "executor": None, "retries": 0})
                last[step] = "waited"
            case StepFinished(step=step, status=status):
                facts.setdefault(step, {"title": "", "executor": None, "retries": 0})
                last[step] = "failed" if status in ("failed", "cancelled") else "done"
            case StepStarted(step=step) as started:
                info = facts.setdefault(step, {"title": "", "executor": None, "retries": 0})
                info["title"] = str(started.title or info["title"])
                info["executor"] = started.executor or info["executor"]
                if started.attempt > 1 and last.get(step) in ("started", "failed"):
                    info["retries"] += 1
                last[step] = "started"
    return facts


def _step_row(
    step_id: str, state: RunState, budget_of: Mapping[str, float], facts: Mapping[str, Any]
) -> StepRow:
    step = state.steps[step_id]
    result = step.result or {}
    duration = _seconds(step.started_at, step.finished_at)
    if duration is None and isinstance(result.get("duration"), int | float):
        duration = float(result["duration"])
    budget = budget_of.get(step_id)
    error = result.get("error") if isinstance(result, Mapping) else None
    return StepRow(
        id=step_id,
        phase=step.phase,
        status=step.status,
        attempts=step.attempts,
        started_at=step.started_at,
        finished_at=step.finished_at,
        duration=duration,
        budget=budget,
        overrun=_overrun(duration, budget),
        error=str(error) if error else None,
        title=str(facts.get("title") or ""),
        executor=facts.get("executor"),
        retries=int(facts.get("retries") or 0),
    )


def _hosts(state: RunState) -> tuple[HostRow, ...]:
    rows: list[HostRow] = []
    for step_id, step in state.steps.items():
        hosts = (step.result or {}).get("hosts") or {}
        if not isinstance(hosts, Mapping):
            continue
        for host, fields in hosts.items():
            if not isinstance(fields, Mapping):
                continue
            rows.append(
                HostRow(
                    step=step_id,
                    host=str(host),
                    ok=_host_ok(fields, step.status),
                    rc=fields.get("rc"),
                    duration=(
                        float(fields["duration"])
                        if isinstance(fields.get("duration"), int | float)
                        else None
                    ),
                    detail=_host_detail(fields),
                )
            )
    return tuple(rows)


def _host_ok(fields: Mapping[str, Any], step_status: str) -> bool | None:
    """A host's verdict from whatever its executor reports: a boolean ``ok``,
    Ansible's counters (``ok`` is a count there), an HTTP status, or an exit code.
    An HTTP answer is judged by the step's ``expect`` (a 503 may be what was wanted),
    so a reachable host of a step that succeeded is ok."""
    if fields.get("unreachable"):
        return False
    if fields.get("error"):
        return False
    if isinstance(fields.get("ok"), bool):
        return bool(fields["ok"])
    failed = fields.get("failed")
    if is_recap(fields):
        return failed == 0
    if failed is True:
        return False
    status = fields.get("status")
    if isinstance(status, int) and not isinstance(status, bool):
        return step_status == "succeeded" or status < 400
    rc = fields.get("rc")
    if isinstance(rc, int) and not isinstance(rc, bool):
        return rc == 0
    return None


def _host_detail(fields: Mapping[str, Any]) -> str:
    """The per-host facts worth a column: Ansible's recap counters, or an HTTP
    answer's status and latency, or the error."""
    parts: list[str] = []
    if is_recap(fields):
        parts.append(recap_text(fields))
    elif isinstance(fields.get("status"), int) and not isinstance(fields.get("status"), bool):
        parts.append(f"HTTP {fields['status']}")
        latency = fields.get("latency")
        if isinstance(latency, int | float) and not isinstance(latency, bool):
            parts.append(f"latency {format_duration(float(latency))}")
    elif fields.get("unreachable") is True:
        parts.append("unreachable")
    if fields.get("error"):
        parts.append(f"error: {fields['error']}")
    return ", ".join(parts)


def _operator_rows(
    actions: Sequence[Mapping[str, Any]], labels: Mapping[str, str]
) -> tuple[OperatorRow, ...]:
    rows = []
    for a in actions:
        step = a.get("step") if isinstance(a.get("step"), str) else None
        rows.append(
            OperatorRow(
                at=a.get("ts"),
                by=str(a.get("by") or "?"),
                action=str(a.get("action") or "?"),
                step=step,
                inputs=dict(a.get("inputs") or {}) if isinstance(a.get("inputs"), Mapping) else {},
                auto=bool(a.get("auto")),
                label=labels.get(step, step) if step else None,
            )
        )
    return tuple(rows)


def _sessions(lines: Sequence[Recorded]) -> tuple[SessionRow, ...]:
    """Split the run at each ``resumed``: who ran each stretch and how it ended."""
    rows: list[SessionRow] = []
    start: str | None = None
    by: str | None = None
    last: str | None = None
    ending = "running"
    running: dict[str, None] = {}
    for line in lines:
        event = line.event
        if isinstance(event, RunStarted):
            start, by = line.ts, event.initiator
        elif isinstance(event, Resumed):
            crashed = ending == "running"
            rows.append(
                SessionRow(
                    start,
                    by,
                    last,
                    "crashed" if crashed else ending,
                    tuple(running) if crashed else (),
                )
            )
            start, by, ending = line.ts, event.by, "running"
            running.clear()
        elif isinstance(event, StepStarted):
            running[event.step] = None
        elif isinstance(event, StepFinished | Paused):
            running.pop(event.step, None)
        if isinstance(event, Paused):
            ending = "paused"
        elif isinstance(event, RunFinished):
            ending = "finished"
        elif not isinstance(event, Operator | JournalRepaired) and ending == "paused":
            ending = "running"  # a gate paused, another step went on in the same session
        if not isinstance(event, JournalRepaired):  # written by the next runner, at its start
            last = line.ts or last
    if start is not None or rows:
        rows.append(SessionRow(start, by, last, ending, tuple(running)))
    return tuple(rows)


def _downtime(state: RunState, run_end: str | None, budget: float | None) -> Downtime:
    begins = next((p for p in state.phases.values() if p.downtime == "begins"), None)
    ends = next((p for p in state.phases.values() if p.downtime == "ends"), None)
    if begins is None or begins.started_at is None:
        return Downtime(None, None, None, closed=False, budget=budget)
    rollback = state.rollback
    if rollback is not None and rollback.started_at and rollback.started_at >= begins.started_at:
        # a rollback after the outage began stops the services again: the outage lasts
        # until the rollback has brought the previous version back up
        end = rollback.finished_at or run_end
        return Downtime(
            begins.started_at,
            end,
            _seconds(begins.started_at, end),
            closed=rollback.finished_at is not None,
            budget=budget,
        )
    if ends is not None and ends.finished_at is not None:
        return Downtime(
            begins.started_at,
            ends.finished_at,
            _seconds(begins.started_at, ends.finished_at),
            closed=True,
            budget=budget,
        )
    return Downtime(
        begins.started_at,
        run_end,
        _seconds(begins.started_at, run_end),
        closed=False,
        budget=budget,
    )


def _deviations(
    lines: Sequence[Recorded],
    state: RunState,
    phases: Sequence[PhaseRow],
    downtime: Downtime,
    total: float | None,
    budget_of: Mapping[str, float],
    sessions: Sequence[SessionRow] = (),
) -> tuple[Deviation, ...]:
    found: list[Deviation] = []
    for session in sessions[:-1]:
        if session.ending == "crashed":
            cut = (
                f"; steps cut short: {', '.join(session.interrupted)}"
                if session.interrupted
                else ""
            )
            found.append(
                Deviation(
                    "crash",
                    session.ended_at,
                    f"the runner stopped without finishing (crash or kill){cut}",
                )
            )
    for session in sessions[1:]:
        found.append(
            Deviation("resumed", session.started_at, f"run resumed by {session.by or '?'}")
        )
    found += _failed_but_continued(lines)
    auto: list[Operator] = []
    auto_at: str | None = None
    for line in lines:
        match line.event:
            case RunStarted(outside_window=why) if why:
                found.append(
                    Deviation("outside-window", line.ts, "run started outside its change window")
                )
            case DecisionUnevaluable(condition=condition, error=error):
                found.append(
                    Deviation(
                        "decision-unevaluable",
                        line.ts,
                        f"decision {condition!r} could not be evaluated ({error}); it never held",
                    )
                )
            case Operator(auto=True) as answer:
                auto_at = auto_at or line.ts
                auto.append(answer)
            case Operator() as answer:
                target = f" step {answer.step}" if answer.step else ""
                found.append(
                    Deviation("operator", line.ts, f"{answer.by or '?'}: {answer.action}{target}")
                )
            case OperatorActions() as transaction:
                for item in transaction.actions:
                    late = " (after its deadline)" if item.late else ""
                    what = f"{item.action} step {item.step}{late}"
                    found.append(Deviation("operator", line.ts, f"{transaction.by or '?'}: {what}"))
            case JournalRepaired(discarded_bytes=discarded):
                found.append(
                    Deviation(
                        "crash",
                        line.ts,
                        f"runner stopped mid-write; {discarded} torn bytes discarded on resume",
                    )
                )
    if auto:
        who = ", ".join(sorted({e.by or "?" for e in auto}))
        steps = ", ".join(e.step for e in auto if e.step)
        found.append(
            Deviation(
                "auto-confirmed",
                auto_at,
                f"{len(auto)} manual item(s) confirmed automatically (--yes) as {who}: {steps}",
            )
        )
    for phase in phases:
        if phase.overrun:
            found.append(
                Deviation(
                    "overrun",
                    phase.finished_at,
                    f"phase {phase.id} over its budget by {phase.overrun:.0f}s",
                )
            )
        for step in phase.steps:
            if step.status == "skipped":
                found.append(Deviation("skipped", step.finished_at, f"step {step.id} skipped"))
            if step.overrun:
                found.append(
                    Deviation(
                        "overrun",
                        step.finished_at,
                        f"step {step.id} over its budget by {step.overrun:.0f}s",
                    )
                )
    for step_id in state.interrupted:
        found.append(Deviation("interrupted", None, f"step {step_id} started but never finished"))
    run_budget = next((budget_of[k] for k in RUN_BUDGET if k in budget_of), None)
    run_over = _overrun(total, run_budget)
    if run_over:
        found.append(
            Deviation(
                "overrun", state.finished_at, f"run over its maximum duration by {run_over:.0f}s"
            )
        )
    downtime_over = _overrun(downtime.seconds, downtime.budget)
    if downtime_over:
        found.append(
            Deviation(
                "overrun", downtime.ended_at, f"downtime over its budget by {downtime_over:.0f}s"
            )
        )
    if downtime.began_at and not downtime.closed:
        found.append(
            Deviation(
                "downtime-open",
                downtime.ended_at,
                "the run ended before the downtime-ending phase finished",
            )
        )
    return tuple(sorted(found, key=lambda d: d.at or "~"))


def _failed_but_continued(lines: Sequence[Recorded]) -> list[Deviation]:
    """Steps that failed while the forward run went on past them (``on_failure:
    continue``): the run may have succeeded, but not as written."""
    found: list[Deviation] = []
    failed: dict[str, tuple[StepFinished, str | None]] = {}
    for line in lines:
        event = line.event
        if isinstance(event, StepFinished):
            if event.status == "failed" and event.phase != "rollback":
                failed[event.step] = (event, line.ts)
        elif isinstance(event, StepStarted) and event.phase != "rollback" and failed:
            failed.pop(event.step, None)  # tried again: a retry, not a deviation
            for step_id, (finished, at) in list(failed.items()):
                error = finished.error or (finished.result or {}).get("error")
                why = f" ({error})" if error else ""
                found.append(
                    Deviation(
                        "failed-continued",
                        at,
                        f"step {step_id} failed{why}; the run continued past it",
                    )
                )
                del failed[step_id]
        elif isinstance(event, RollbackStarted | RunFinished):
            failed.clear()
    return found


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    try:
        delta = datetime.fromisoformat(end) - datetime.fromisoformat(start)
    except (TypeError, ValueError):
        return None
    return max(delta.total_seconds(), 0.0)


def _overrun(duration: float | None, budget: float | None) -> float | None:
    if duration is None or budget is None or duration <= budget:
        return None
    return duration - budget

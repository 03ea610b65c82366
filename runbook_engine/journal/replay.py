"""Rebuild where a run stands from its journal events.

`replay` is the single reading of the event stream shared by `resume` (what is done,
what was interrupted, what waits for an operator), `runbook runs` and the report.
The lines are decoded to typed events (`events`); unknown events are ignored so
older readers survive newer writers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from runbook_engine.journal.events import (
    Decision,
    Event,
    Operator,
    OperatorActions,
    Paused,
    PhaseFinished,
    PhaseStarted,
    Resumed,
    RollbackFinished,
    RollbackStarted,
    RunFinished,
    RunStarted,
    StepFinished,
    StepPid,
    StepStarted,
    decode_all,
    encode,
)
from runbook_engine.vocabulary import RunStatus

#: Final run statuses a `run_finished` event may carry.
FINAL_STATUSES: frozenset[RunStatus] = frozenset(
    {"succeeded", "failed", "rolled_back", "rollback_failed", "cancelled"}
)


@dataclass(frozen=True, slots=True)
class StepState:
    """One step as the journal last saw it.

    ``status`` is ``running`` from `step_started` until `step_finished` (then the
    finished status), ``paused`` while it waits for an operator, ``confirmed`` once an
    operator confirmed or approved it but before the engine recorded it finished,
    ``skipped`` when an operator skipped it, ``pending`` when an operator asked for
    a rerun. Operator actions come as ``operator`` events (answers given during the
    run) or one ``operator_actions`` event per resume (a transaction).
    """

    status: str = "pending"
    attempts: int = 0
    result: Mapping[str, Any] | None = None
    captures: Mapping[str, Any] = field(default_factory=dict)
    pids: tuple[int, ...] = ()
    started_at: str | None = None
    finished_at: str | None = None
    phase: str | None = None
    hosts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PhaseState:
    """A phase's start and finish, whether it opens or closes the downtime, and the
    budget (seconds) the engine recorded for it."""

    started_at: str | None = None
    finished_at: str | None = None
    downtime: str | None = None
    budget: float | None = None


@dataclass(frozen=True, slots=True)
class RollbackState:
    reason: str | None = None
    status: str | None = None
    started_at: str | None = None
    finished_at: str | None = None


@dataclass(frozen=True, slots=True)
class RunState:
    """Where a run stands after its journal's events."""

    status: str = "running"
    steps: dict[str, StepState] = field(default_factory=dict)
    interrupted: list[str] = field(default_factory=list)
    pending_confirmations: list[str] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    operator_actions: list[dict[str, Any]] = field(default_factory=list)
    phases: dict[str, PhaseState] = field(default_factory=dict)
    started_at: str | None = None
    finished_at: str | None = None
    exit_code: int | None = None
    runbook: str | None = None
    initiator: str | None = None
    inventory: str | None = None
    vars: Mapping[str, Any] = field(default_factory=dict)
    rollback: RollbackState | None = None
    last_seq: int = 0


def replay(records: Iterable[Mapping[str, Any]]) -> RunState:
    """Fold the journal lines of one run into its `RunState`."""
    status = "running"
    steps: dict[str, StepState] = {}
    pending: list[str] = []
    decisions: list[dict[str, Any]] = []
    operator_actions: list[dict[str, Any]] = []
    phases: dict[str, PhaseState] = {}
    started: RunStarted | None = None
    started_at: str | None = None
    finished_at: str | None = None
    exit_code: int | None = None
    rollback: RollbackState | None = None
    records = list(records)
    last_seq = next((r["seq"] for r in reversed(records) if isinstance(r.get("seq"), int)), 0)
    for line in decode_all(records, *_FOLDED):
        ts, event = line.ts, line.event
        match event:
            case RunStarted():
                started, started_at = event, ts
            case StepStarted(step=str(sid)) if sid:
                step = steps.get(sid, StepState())
                host = event.host
                steps[sid] = replace(
                    step,
                    status="running",
                    attempts=max(step.attempts, event.attempt or 1),
                    started_at=step.started_at or ts,
                    finished_at=None,
                    phase=event.phase or step.phase,
                    hosts=step.hosts + (host,) if host and host not in step.hosts else step.hosts,
                )
            case StepPid(step=str(sid), pid=int(pid)) if sid:
                step = steps.get(sid, StepState())
                steps[sid] = replace(step, pids=step.pids + (pid,))
            case StepFinished(step=str(sid)) if sid:
                step = steps.get(sid, StepState())
                steps[sid] = replace(
                    step,
                    status=event.status,
                    attempts=max(step.attempts, event.attempt or 1),
                    result=event.result,
                    captures=event.captures or {},
                    started_at=step.started_at or ts,
                    finished_at=ts,
                    phase=event.phase or step.phase,
                )
                if sid in pending:
                    pending.remove(sid)
            case Decision():
                decisions.append(_entry(line.seq, ts, event))
            case PhaseStarted(phase=str(phase)) if phase:
                old = phases.get(phase, PhaseState())
                budget = event.budget
                phases[phase] = replace(
                    old,
                    started_at=old.started_at or ts,
                    downtime=event.downtime,
                    budget=float(budget) if isinstance(budget, int | float) else old.budget,
                )
            case PhaseFinished(phase=str(phase)) if phase:
                phases[phase] = replace(phases.get(phase, PhaseState()), finished_at=ts)
            case RollbackStarted():
                rollback = RollbackState(reason=event.reason, started_at=ts)
            case RollbackFinished():
                rollback = replace(rollback or RollbackState(), status=event.status, finished_at=ts)
            case Paused():
                status = "paused"
                if event.step:
                    step = steps.get(event.step, StepState())
                    steps[event.step] = replace(
                        step, status="paused", phase=event.phase or step.phase
                    )
                    if event.step not in pending:
                        pending.append(event.step)
            case Operator():
                operator_actions.append(_entry(line.seq, ts, event))
                answered = event.step
                if answered and event.action in _ANSWERING:
                    steps[answered] = _after_operator(
                        steps.get(answered, StepState()), event.action
                    )
                    if answered in pending:
                        pending.remove(answered)
            case OperatorActions():
                entry = _entry(line.seq, ts, event)
                entry.pop("actions", None)
                for action in event.actions:
                    operator_actions.append({**entry, **encode(action)})
                    if action.step in steps:
                        steps[action.step] = _after_operator(steps[action.step], action.action)
                        if action.step in pending and action.action in _ANSWERING:
                            pending.remove(action.step)
            case Resumed():
                status = "running"
            case RunFinished():
                status = event.status
                finished_at = ts
                exit_code = event.exit_code if isinstance(event.exit_code, int) else None
            case _:
                pass
    # a step cancelled mid-way (Ctrl-C, SIGTERM) did part of its work, like one
    # killed with its runner: both are interrupted, never silently run again
    interrupted = [sid for sid, st in steps.items() if st.status in ("running", "cancelled")]
    return RunState(
        status=status,
        steps=steps,
        interrupted=interrupted,
        pending_confirmations=pending,
        decisions=decisions,
        operator_actions=operator_actions,
        phases=phases,
        started_at=started_at,
        finished_at=finished_at,
        exit_code=exit_code,
        runbook=started.runbook if started else None,
        initiator=started.initiator if started else None,
        inventory=started.inventory if started else None,
        vars=(started.vars or {}) if started else {},
        rollback=rollback,
        last_seq=last_seq,
    )


#: The events the fold reads (output lines, for one, are not even decoded).
_FOLDED = (
    RunStarted, StepStarted, StepPid, StepFinished, Decision, PhaseStarted, PhaseFinished,
    RollbackStarted, RollbackFinished, Paused, Operator, OperatorActions, Resumed, RunFinished,
)  # fmt: skip

#: Operator actions and the step status each leaves behind.
_ANSWERING = {"confirm": "confirmed", "approve": "confirmed", "skip": "skipped", "rerun": "pending"}


def _after_operator(step: StepState, action: str) -> StepState:
    return replace(step, status=_ANSWERING[action]) if action in _ANSWERING else step


def _entry(seq: int, ts: str | None, event: Event) -> dict[str, Any]:
    """A decision or operator action as the report lists it: when, and its data."""
    return {"seq": seq, "ts": ts, "event": event.name, **encode(event)}

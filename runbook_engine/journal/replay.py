"""Rebuild where a run stands from its journal events.

`replay` is the single reading of the event stream shared by `resume` (what is done,
what was interrupted, what waits for an operator), `runbook runs` and the report.
Unknown events are ignored so older readers survive newer writers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

#: Final run statuses a `run_finished` event may carry.
FINAL_STATUSES = frozenset({"succeeded", "failed", "rolled_back", "rollback_failed", "cancelled"})


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


def replay(events: Iterable[Mapping[str, Any]]) -> RunState:
    """Fold the events of one run into its `RunState`."""
    status = "running"
    steps: dict[str, StepState] = {}
    pending: list[str] = []
    decisions: list[dict[str, Any]] = []
    operator_actions: list[dict[str, Any]] = []
    phases: dict[str, PhaseState] = {}
    run: dict[str, Any] = {"vars": {}}
    rollback: RollbackState | None = None
    last_seq = 0
    for event in events:
        name = event.get("event")
        ts = event.get("ts")
        last_seq = int(event.get("seq", last_seq))
        raw_step = event.get("step")
        step_id = raw_step if isinstance(raw_step, str) else ""
        step = steps.get(step_id, StepState()) if step_id else None
        if name == "run_started":
            run.update(
                started_at=ts,
                runbook=event.get("runbook"),
                initiator=event.get("initiator"),
                inventory=event.get("inventory"),
                vars=event.get("vars") or {},
            )
        elif name == "step_started" and step is not None:
            host = event.get("host")
            steps[step_id] = replace(
                step,
                status="running",
                attempts=max(step.attempts, int(event.get("attempt") or 1)),
                started_at=step.started_at or ts,
                finished_at=None,
                phase=event.get("phase", step.phase),
                hosts=step.hosts + (host,) if host and host not in step.hosts else step.hosts,
            )
        elif name == "step_pid" and step is not None and isinstance(event.get("pid"), int):
            steps[step_id] = replace(step, pids=step.pids + (event["pid"],))
        elif name == "step_finished" and step is not None:
            steps[step_id] = replace(
                step,
                status=str(event.get("status", "succeeded")),
                attempts=max(step.attempts, int(event.get("attempt") or 1)),
                result=event.get("result"),
                captures=event.get("captures") or {},
                started_at=step.started_at or ts,
                finished_at=ts,
                phase=event.get("phase", step.phase),
            )
            if step_id in pending:
                pending.remove(step_id)
        elif name == "decision":
            decisions.append(_without_chain(event))
        elif name == "phase_started" and isinstance(event.get("phase"), str):
            old = phases.get(event["phase"], PhaseState())
            budget = event.get("budget")
            phases[event["phase"]] = replace(
                old,
                started_at=old.started_at or ts,
                downtime=event.get("downtime"),
                budget=float(budget) if isinstance(budget, int | float) else old.budget,
            )
        elif name == "phase_finished" and isinstance(event.get("phase"), str):
            old = phases.get(event["phase"], PhaseState())
            phases[event["phase"]] = replace(old, finished_at=ts)
        elif name == "rollback_started":
            rollback = RollbackState(reason=event.get("reason"), started_at=ts)
        elif name == "rollback_finished":
            rollback = replace(
                rollback or RollbackState(), status=event.get("status"), finished_at=ts
            )
        elif name == "paused":
            status = "paused"
            if step is not None:
                steps[step_id] = replace(
                    step, status="paused", phase=event.get("phase", step.phase)
                )
                if step_id not in pending:
                    pending.append(step_id)
        elif name == "operator":
            operator_actions.append(_without_chain(event))
            action = event.get("action")
            if step is not None and action in _ANSWERING:
                steps[step_id] = _after_operator(step, action)
                if step_id in pending:
                    pending.remove(step_id)
        elif name == "operator_actions":
            for item in event.get("actions") or ():
                entry = {**_without_chain(event), **item}
                entry.pop("actions", None)
                operator_actions.append(entry)
                sid = item.get("step")
                if isinstance(sid, str) and sid in steps:
                    steps[sid] = _after_operator(steps[sid], item.get("action"))
                    if sid in pending and item.get("action") in _ANSWERING:
                        pending.remove(sid)
        elif name == "resumed":
            status = "running"
        elif name == "run_finished":
            status = str(event.get("status", status))
            run["finished_at"] = ts
            code = event.get("exit_code")
            run["exit_code"] = code if isinstance(code, int) else None
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
        started_at=run.get("started_at"),
        finished_at=run.get("finished_at"),
        exit_code=run.get("exit_code"),
        runbook=run.get("runbook"),
        initiator=run.get("initiator"),
        inventory=run.get("inventory"),
        vars=run["vars"],
        rollback=rollback,
        last_seq=last_seq,
    )


#: Operator actions and the step status each leaves behind.
_ANSWERING = {"confirm": "confirmed", "approve": "confirmed", "skip": "skipped", "rerun": "pending"}


def _after_operator(step: StepState, action: Any) -> StepState:
    return replace(step, status=_ANSWERING[action]) if action in _ANSWERING else step


def _without_chain(event: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k not in ("prev", "hash")}

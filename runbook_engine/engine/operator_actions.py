"""Operator actions as transactions: everything an operator asks of a paused or
interrupted run (confirm or approve gates with their inputs, rerun or skip
interrupted steps) is checked as a whole against the run's journal, and only then
recorded as ONE ``operator_actions`` event. A refused request writes nothing.

`plan_actions` checks, `commit` records: `runbook resume` calls both (holding the
run's lock, after verifying the journal), and so do the web console and the Slack
callback (engine/votes.py). Who the operator is, is the caller's business (``by``,
verified as ``identity`` says); this module checks what the runbook allows that
person to do: approvers, distinct from the initiator, one vote per person toward a
quorum, inputs, deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from runbook_engine.engine.approvals import Vote, check_vote, tally
from runbook_engine.errors import RunbookError, RunError
from runbook_engine.gates import Gate, check_inputs, opens_gate, parse_gate
from runbook_engine.identity import Identity
from runbook_engine.journal.events import OperatorAction as Action
from runbook_engine.journal.events import OperatorActions
from runbook_engine.model import Runbook, Step


@dataclass(frozen=True)
class ActionRequest:
    """What the operator asks, before any of it is checked.

    ``inputs`` keys are ``NAME`` (the input of the one gate confirmed) or
    ``STEP.NAME``; ``preset`` marks inputs given up front (``run --input``) that
    answer a gate only once someone (or ``--yes``) confirms it.
    """

    by: str
    confirm: Sequence[str] = ()
    inputs: Mapping[str, str] = field(default_factory=dict)
    rerun: Sequence[str] = ()
    skip: Sequence[str] = ()
    source: str = "resume"
    #: How ``by`` was verified (None: the caller vouches for it).
    identity: Identity | None = None
    #: Gates the operator votes no on: each ends with its ``on_reject``.
    reject: Sequence[str] = ()
    #: Per step, the SSH signature of this vote (engine/votes.py), journaled with it.
    signatures: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def voter(self) -> Identity:
        return self.identity or Identity(name=self.by, method="api")


@dataclass(frozen=True)
class Transaction:
    """A checked request, ready to be journaled as one event."""

    by: str
    source: str
    actions: tuple[Action, ...]
    #: Inputs for gates not confirmed in this transaction (``run --input``).
    preset: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    identity: Identity | None = None

    def event(self) -> OperatorActions:
        return OperatorActions(
            by=self.by,
            source=self.source,
            actions=self.actions,
            identity=self.identity.record() if self.identity is not None else None,
        )

    @property
    def empty(self) -> bool:
        return not self.actions


@dataclass(frozen=True)
class RunStanding:
    """What the journal says about the run, as far as operator actions care."""

    waiting: Sequence[str]
    interrupted: Sequence[str]
    finished: Sequence[str]
    deadlines: Mapping[str, float] = field(default_factory=dict)
    #: Votes already cast on each waiting gate (engine/approvals.py `open_votes`).
    votes: Mapping[str, Sequence[Vote]] = field(default_factory=dict)


def find_step(runbook: Runbook, step_id: str) -> Step | None:
    """A step, an undo step, or a prerequisite (``prerequisite-N`` when it has no id)."""
    for step in runbook.all_steps():
        if step.id == step_id:
            return step
        if step.undo is not None and step.undo.id == step_id:
            return step.undo
    for index, item in enumerate(runbook.prerequisites):
        step = item.as_step(index)
        if step.id == step_id:
            return step
    return None


def split_inputs(
    inputs: Mapping[str, str], runbook: Runbook, confirmed: Sequence[str]
) -> tuple[dict[str, dict[str, str]], list[str]]:
    """``{step: {name: value}}`` from ``NAME`` / ``STEP.NAME`` keys, and problems."""
    by_step: dict[str, dict[str, str]] = {}
    problems: list[str] = []
    for key, value in inputs.items():
        step_id, dot, name = key.rpartition(".")
        if dot and find_step(runbook, step_id) is not None:
            by_step.setdefault(step_id, {})[name] = value
        elif len(confirmed) == 1:
            by_step.setdefault(confirmed[0], {})[key] = value
        elif not confirmed:
            problems.append(f"--input {key}: which gate? write --input STEP.{key}=VALUE")
        else:
            problems.append(
                f"--input {key}: several gates are confirmed ({', '.join(confirmed)});"
                f" write --input STEP.{key}=VALUE"
            )
    return by_step, problems


def plan_actions(
    request: ActionRequest,
    runbook: Runbook,
    standing: RunStanding,
    render: Callable[[Any], Any],
    initiator: str,
    *,
    now: float | None = None,
) -> Transaction:
    """Check every part of ``request``; the whole `Transaction`, or a `RunError`
    listing every problem (nothing is written either way)."""
    now = time.time() if now is None else now
    problems: list[str] = []
    inputs, input_problems = split_inputs(request.inputs, runbook, request.confirm)
    problems += input_problems
    actions: list[Action] = []
    for decision, steps in (("approve", request.confirm), ("reject", request.reject)):
        for step_id in steps:
            action, problem = _vote(
                step_id, decision, runbook, standing, render, initiator, request.voter,
                inputs.get(step_id, {}), now,
            )  # fmt: skip
            if problem:
                problems.append(problem)
            elif action is not None:
                signature = request.signatures.get(step_id)
                actions.append(replace(action, signature=signature) if signature else action)
    for flag, steps in (("--rerun", request.rerun), ("--skip", request.skip)):
        for step_id in steps:
            if step_id not in standing.interrupted:
                problems.append(
                    f"{flag} {step_id}: that step was not interrupted"
                    f" (interrupted: {', '.join(standing.interrupted) or 'none'})"
                )
            elif step_id in request.rerun and step_id in request.skip:
                if flag == "--rerun":
                    problems.append(f"{step_id}: both --rerun and --skip")
            else:
                actions.append(Action(flag.removeprefix("--"), step_id))
    preset: dict[str, dict[str, Any]] = {}
    for step_id, values in inputs.items():
        if step_id in request.confirm or step_id in request.reject:
            continue
        converted, problem = _preset(step_id, values, runbook, standing, render)
        if problem:
            problems.append(problem)
        else:
            preset[step_id] = converted
    if problems:
        raise RunError(
            problems[0] if len(problems) == 1 else f"{len(problems)} problems, nothing recorded:\n  "
            + "\n  ".join(problems),
            hint="--sign-key KEY signs as an approver; --input STEP.NAME=VALUE gives a gate's inputs;"
            f" waiting: {', '.join(standing.waiting) or 'none'}",
        )
    return Transaction(
        by=request.by,
        source=request.source,
        actions=tuple(actions),
        preset=preset,
        identity=request.identity,
    )


def commit(emit: Callable[[OperatorActions], Any], transaction: Transaction) -> None:
    """Journal a checked transaction as its one event (nothing for an empty one).
    ``emit`` is the run's `RunContext.emit` (or a journal's ``append``)."""
    if not transaction.empty:
        emit(transaction.event())


def _gate(step: Step, render: Callable[[Any], Any]) -> Gate | None:
    """The gate as it will run, or None when it cannot be rendered yet (it uses
    captures of steps that have not run)."""
    try:
        return parse_gate(render(step.spec))
    except RunbookError:
        return None


def _vote(
    step_id: str,
    decision: str,
    runbook: Runbook,
    standing: RunStanding,
    render: Callable[[Any], Any],
    initiator: str,
    voter: Identity,
    inputs: Mapping[str, str],
    now: float,
) -> tuple[Action | None, str | None]:
    """One vote (``approve`` or ``reject``) on a gate, checked against what the gate
    allows and the votes already cast on it."""
    flag = "--confirm" if decision == "approve" else "--reject"
    step = find_step(runbook, step_id)
    if step is None:
        return None, f"{flag} {step_id}: no such step in the runbook"
    upcoming = opens_gate(step.executor) and step_id not in standing.finished
    if step_id not in standing.waiting and not (upcoming and decision == "approve"):
        return None, (
            f"{flag} {step_id}: that step is not waiting for an operator"
            f" (waiting: {', '.join(standing.waiting) or 'none'})"
        )
    gate = _gate(step, render)
    if gate is None:
        return Action("confirm", step_id, dict(inputs)), None
    action = decision if decision == "reject" else ("approve" if gate.approval else "confirm")
    votes = list(standing.votes.get(step_id, ()))
    if tally(gate, votes, initiator, None) is not None:
        return None, f"{flag} {step_id}: the gate is already decided; the run continues on resume"
    refused = check_vote(gate, votes, voter, action, inputs, initiator)
    if refused:
        return None, f"{flag} {step_id}: {refused}"
    converted: dict[str, Any] = {}
    if inputs:
        given = {k: v for v in votes for k, v in v.inputs.items()}
        converted, problem = check_inputs(gate, {**given, **inputs})
        if problem:
            return None, f"{flag} {step_id}: {problem}"
        converted = {k: v for k, v in converted.items() if k in inputs}
    deadline = standing.deadlines.get(step_id)
    late = deadline is not None and now > deadline
    return Action(action, step_id, converted, late=late), None


def _preset(
    step_id: str,
    values: Mapping[str, str],
    runbook: Runbook,
    standing: RunStanding,
    render: Callable[[Any], Any],
) -> tuple[dict[str, Any], str | None]:
    step = find_step(runbook, step_id)
    if step is None or not opens_gate(step.executor):
        return {}, f"--input {step_id}.…: {step_id!r} is not a manual step"
    if step_id in standing.finished:
        return {}, f"--input {step_id}.…: that gate was already answered"
    gate = _gate(step, render)
    if gate is None:
        return dict(values), None
    specs = {s.name: s for s in gate.inputs}
    converted: dict[str, Any] = {}
    for name, raw in values.items():
        if name not in specs:
            known = ", ".join(specs) or "none"
            return {}, f"--input {step_id}.{name}: gate {step_id!r} has no such input (inputs: {known})"
        try:
            converted[name] = specs[name].convert(raw)
        except ValueError as exc:
            return {}, f"--input {step_id}.{name}: {exc}"
    return converted, None


def missing_inputs(gate: Gate, given: Mapping[str, Any]) -> list[str]:
    """Required inputs of ``gate`` that ``given`` does not supply."""
    return [s.name for s in gate.inputs if s.required and s.name not in given]


def resume_hint(run_id: str, step_id: str, gate: Gate | None, given: Mapping[str, Any]) -> str:
    """The exact command that answers a paused gate, with every ``--input`` it needs."""
    flags = [f"--confirm {step_id}"]
    if gate is not None:
        flags += [f"--input {step_id}.{name}=VALUE" for name in missing_inputs(gate, given)]
        if gate.approval:
            flags.append("--sign-key KEY")
    return f"runbook resume {run_id} {' '.join(flags)}"

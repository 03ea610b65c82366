"""Votes on gates from outside a runner, and votes signed with an SSH key.

`answer_gate` is the whole operator transaction for the web console and the Slack
callback: take the run's lock, check the journal, plan the vote with
`operator_actions.plan_actions` (the path `runbook resume` uses), journal it as one
``operator_actions`` event, release. The caller continues the run with ``runbook
resume RUN`` once the result says the gate is decided.

`signed_identity` signs a resume's vote with the approver's key (``ssh-keygen -Y
sign``) and verifies it against the gate's allowed_signers file: the principal found
there is the verified name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook_engine.engine.approvals import (
    current_pause,
    open_votes,
    tally,
    waiting_gates,
)
from runbook_engine.engine.operator_actions import (
    ActionRequest,
    RunStanding,
    commit,
    find_step,
    plan_actions,
)
from runbook_engine.errors import RunbookError, RunError
from runbook_engine.gates import Gate, parse_gate
from runbook_engine.identity import Identity
from runbook_engine.model import Runbook
from runbook_engine.templating import Renderer

#: Environment variable naming the allowed_signers file when the gate names none.
ALLOWED_SIGNERS_ENV = "RUNBOOK_ALLOWED_SIGNERS"
#: Step statuses after which a gate can no longer be answered.
FINISHED = frozenset({"succeeded", "failed", "skipped", "rolled_back", "cancelled"})


@dataclass(frozen=True)
class VoteRequest:
    step: str
    identity: Identity
    action: str = "approve"
    inputs: Mapping[str, Any] = field(default_factory=dict)
    source: str = "console"


@dataclass(frozen=True)
class VoteResult:
    """``late``: cast after the deadline, so the gate takes its ``on_timeout``.
    ``decided``: the gate is answered now (or timed out), so the run can go on."""

    step: str
    by: str
    action: str
    late: bool
    decided: bool
    approvals: int
    required: int


def gate_for(runbook: Runbook, step_id: str, renderer: Renderer) -> Gate:
    """The gate of a step rendered like the engine renders it; the raw spec when it
    names something only the runner knows (a capture)."""
    step = find_step(runbook, step_id)
    spec = step.spec if step is not None else ""
    try:
        return parse_gate(renderer.render(spec))
    except RunbookError:
        return parse_gate(spec)


def standing_of(events: Sequence[Mapping[str, Any]], state: Any) -> RunStanding:
    """What operator actions need to know of a run: the gates waiting (a vote short
    of its quorum leaves a gate waiting), their first deadline, the votes cast."""
    waiting = waiting_gates(events)
    deadlines = {}
    for step in waiting:
        pause = current_pause(events, step)
        if pause is not None and pause[0].deadline is not None:
            deadlines[step] = float(pause[0].deadline)
    return RunStanding(
        waiting=waiting,
        interrupted=state.interrupted,
        finished=[sid for sid, st in state.steps.items() if st.status in FINISHED],
        deadlines=deadlines,
        votes=open_votes(events),
    )


def allowed_signers(runbook: Runbook, gate: Gate) -> Path:
    named = gate.allowed_signers or os.environ.get(ALLOWED_SIGNERS_ENV)
    if not named:
        raise RunError(
            "no allowed_signers file to check the SSH signature against",
            hint=f"name one in the gate (allowed_signers: PATH) or in ${ALLOWED_SIGNERS_ENV}",
        )
    path = Path(named)
    return (path if path.is_absolute() else Path(runbook.path).parent / path).resolve()


def signed_identity(
    run_id: str,
    runbook: Runbook,
    renderer: Renderer,
    events: Sequence[Mapping[str, Any]],
    votes: Sequence[tuple[str, str, Mapping[str, str]]],
    key: Path,
    claimed: Identity,
) -> tuple[Identity, dict[str, dict[str, Any]]]:
    """Sign each ``(step, decision, inputs)`` vote with ``key`` and verify it; the
    verified identity (one principal for every vote) and each step's signature."""
    from runbook_engine.sshsig import approval_payload, sign, verify

    principal: str | None = None
    signatures: dict[str, dict[str, Any]] = {}
    fingerprint = ""
    for step, decision, inputs in votes:
        signers = allowed_signers(runbook, gate_for(runbook, step, renderer))
        paused = current_pause(events, step)
        pause = paused[1] if paused is not None else "None"
        payload = approval_payload(run_id, step, decision, inputs, pause)
        signature = sign(payload, key)
        name, fingerprint = verify(payload, signature, signers, claimed.claimed).split(" ", 1)
        if principal is not None and name != principal:
            raise RunError(f"the key signs as {name} for {step} but as {principal} elsewhere")
        principal = name
        signatures[step] = {
            "signature": signature,
            "payload": payload.decode("ascii"),
            "allowed_signers": str(signers),
        }
    if principal is None:
        return claimed, {}
    identity = Identity(
        name=principal,
        method="ssh-signature",
        claimed=claimed.claimed,
        evidence={"key": fingerprint, "os_user": claimed.name},
    )
    return identity, signatures


def answer_gate(runs_dir: Path, run_ref: str, request: VoteRequest) -> VoteResult:
    """The whole operator transaction for a caller outside a runner."""
    from runbook_engine.engine.session import lock_key
    from runbook_engine.journal import Journal, RunLock, replay, verify_run
    from runbook_engine.loader import load_file
    from runbook_engine.model import build_runbook

    journal = Journal.open(runs_dir, run_ref)
    key = lock_key(str(journal.meta.get("runbook_path")), journal.meta.get("inventory"))
    lock = RunLock(journal.state_dir, key, run_id=journal.run_id).acquire()
    try:
        problems = verify_run(journal)
        if problems:
            raise RunError(f"run {journal.run_id}: the journal does not verify: {problems[0]}")
        events = journal.events()
        state = replay(events)
        runbook = build_runbook(load_file(str(journal.meta["runbook_path"])))
        renderer = Renderer(dict(state.vars), {"run": {"id": journal.run_id}})
        initiator = state.initiator or str(journal.meta.get("initiator") or "")
        standing = standing_of(events, state)
        decision = "reject" if request.action == "reject" else "approve"
        transaction = plan_actions(
            ActionRequest(
                by=request.identity.name,
                identity=request.identity,
                confirm=[request.step] if decision == "approve" else [],
                reject=[request.step] if decision == "reject" else [],
                inputs={f"{request.step}.{k}": str(v) for k, v in request.inputs.items()},
                source=request.source,
            ),
            runbook,
            standing,
            renderer.render,
            initiator,
        )
        try:
            commit(journal.append, transaction)
        finally:
            journal.release()
        (action,) = transaction.actions
        gate = gate_for(runbook, request.step, renderer)
        votes = open_votes(journal.events()).get(request.step, [])
        decided = action.late or tally(gate, votes, initiator, None) is not None
        approvals = len({v.by for v in votes if v.action != "reject" and not v.late})
        return VoteResult(
            request.step, request.identity.name, action.action, action.late, decided,
            approvals, gate.required,
        )  # fmt: skip
    finally:
        lock.release()

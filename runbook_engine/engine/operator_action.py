"""Recording an operator's vote on a waiting gate: the one write path that
``runbook resume --confirm``, the web console and Slack buttons share.

A vote is checked completely before anything is written (the step waits, the deadline
has not passed, the voter is verified, may answer and has not voted yet, the inputs
fit), then appended as one fsynced ``operator`` event with the verified identity.
`answer_gate` is the whole transaction for callers outside a runner (the console):
it takes the run's lock, so it never interleaves with a runner's writes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook_engine.engine.approvals import (
    Vote,
    check_vote,
    current_pause,
    open_votes,
    tally,
    waiting_gates,
)
from runbook_engine.errors import RunbookError, RunError
from runbook_engine.executors.manual import Gate, parse_gate
from runbook_engine.identity import Identity
from runbook_engine.model import Runbook, Step
from runbook_engine.templating import Renderer

#: Environment variable naming the allowed_signers file when the gate names none.
ALLOWED_SIGNERS_ENV = "RUNBOOK_ALLOWED_SIGNERS"


@dataclass(frozen=True)
class VoteRequest:
    """``action`` is ``approve`` (recorded as ``confirm`` on a plain confirmation)
    or ``reject``."""

    step: str
    identity: Identity
    action: str = "approve"
    inputs: Mapping[str, Any] = field(default_factory=dict)
    source: str = "resume"
    sign_key: Path | None = None


@dataclass(frozen=True)
class VoteResult:
    """``late``: the deadline had passed, nothing was recorded, the gate takes its
    ``on_timeout``. ``decided``: the gate is answered now, so the run can go on."""

    step: str
    by: str
    action: str
    late: bool
    decided: bool
    approvals: int
    required: int


def find_step(runbook: Runbook, step_id: str) -> Step | None:
    for step in runbook.all_steps():
        if step.id == step_id:
            return step
        if step.undo is not None and step.undo.id == step_id:
            return step.undo
    for index, item in enumerate(runbook.prerequisites):
        sid = item.step.id if item.step else f"prerequisite-{index + 1}"
        if sid == step_id:
            return item.step or Step(
                id=sid, phase="prerequisites", executor="manual", spec=item.text
            )
    return None


def gate_for(runbook: Runbook, step_id: str, renderer: Renderer) -> Gate:
    """The gate of a step, rendered like the engine renders it; with the raw spec when
    it names something only the runner knows (a capture), since approvers, quorum and
    inputs are written literally."""
    step = find_step(runbook, step_id)
    spec = step.spec if step is not None else ""
    try:
        return parse_gate(renderer.render(spec))
    except RunbookError:
        return parse_gate(spec)


def allowed_signers(runbook: Runbook, gate: Gate) -> Path:
    named = gate.allowed_signers or os.environ.get(ALLOWED_SIGNERS_ENV)
    if not named:
        raise RunError(
            "no allowed_signers file to check the SSH signature against",
            hint=f"name one in the gate (allowed_signers: PATH) or in ${ALLOWED_SIGNERS_ENV}",
        )
    path = Path(named)
    return (path if path.is_absolute() else Path(runbook.path).parent / path).resolve()


def cast_vote(
    run_id: str,
    runbook: Runbook,
    events: Sequence[Mapping[str, Any]],
    renderer: Renderer,
    initiator: str,
    request: VoteRequest,
    emit: Callable[..., Any],
) -> VoteResult:
    """Check one vote and journal it through ``emit``; `RunError` when refused."""
    step_id = request.step
    pending = waiting_gates(events)
    if step_id not in pending:
        raise RunError(
            f"{step_id}: that step is not waiting for an operator",
            hint=f"waiting: {', '.join(pending) or 'none'}",
        )
    gate = gate_for(runbook, step_id, renderer)
    pause = current_pause(events, step_id) or {}
    deadline = pause.get("deadline")
    action = request.action if request.action == "reject" else (
        "approve" if gate.approval else "confirm"
    )  # fmt: skip
    if isinstance(deadline, int | float) and time.time() > deadline:
        return VoteResult(step_id, request.identity.name, action, True, True, 0, gate.required)
    identity = request.identity
    if request.sign_key is not None:
        identity = _signed(run_id, runbook, gate, request, action, str(pause.get("hash")))
    votes = open_votes(events).get(step_id, [])
    if tally(gate, votes, initiator, None) is not None:
        raise RunError(
            f"{step_id}: the gate is already decided; the run continues with `runbook resume`"
        )
    refused = check_vote(gate, votes, identity, action, request.inputs, initiator)
    if refused:
        raise RunError(
            f"{step_id}: {refused}",
            hint="--input NAME=VALUE gives inputs; --sign-key KEY signs as an approver",
        )
    emit(
        "operator",
        action=action,
        step=step_id,
        by=identity.name,
        identity=identity.record(),
        inputs=dict(request.inputs),
        source=request.source,
        pause=pause.get("hash"),
    )
    from runbook_engine.journal.journal import utc_now

    now = Vote(step_id, action, identity.name, utc_now(), dict(request.inputs), identity.method)
    decided = tally(gate, [*votes, now], initiator, None)
    approvals = len({v.by for v in [*votes, now] if v.action != "reject"})
    return VoteResult(
        step_id, identity.name, action, False, decided is not None, approvals, gate.required
    )


def _signed(
    run_id: str, runbook: Runbook, gate: Gate, request: VoteRequest, action: str, pause: str
) -> Identity:
    """Sign this vote with the approver's key and verify it as allowed_signers says."""
    from runbook_engine.sshsig import approval_payload, sign, verify

    assert request.sign_key is not None
    signers = allowed_signers(runbook, gate)
    payload = approval_payload(run_id, request.step, action, request.inputs, pause)
    signature = sign(payload, request.sign_key)
    principal, fingerprint = verify(payload, signature, signers, request.identity.claimed).split(
        " ", 1
    )
    return Identity(
        name=principal,
        method="ssh-signature",
        claimed=request.identity.claimed,
        evidence={
            "key": fingerprint,
            "signature": signature,
            "allowed_signers": str(signers),
            "os_user": request.identity.name,
        },
    )


def answer_gate(runs_dir: Path, run_ref: str, request: VoteRequest) -> VoteResult:
    """The whole operator action for a caller outside a runner: take the run's lock,
    read the journal, check and journal the vote, release. The caller then continues
    the run with ``runbook resume RUN`` when the result says ``decided``."""
    from runbook_engine.engine.session import inventory_path, lock_key
    from runbook_engine.journal import Journal, RunLock, replay, verify_run
    from runbook_engine.loader import load_file
    from runbook_engine.model import build_runbook

    journal = Journal.open(runs_dir, run_ref)
    runbook = build_runbook(load_file(str(journal.meta["runbook_path"])))
    inv_path = journal.meta.get("inventory") or inventory_path(runbook, None)
    lock = RunLock(runs_dir, lock_key(runbook, inv_path), run_id=journal.run_id).acquire()
    try:
        problems = verify_run(journal)
        if problems:
            raise RunError(f"run {journal.run_id}: journal does not verify: {problems[0]}")
        events = journal.events()
        state = replay(events)
        renderer = Renderer(dict(state.vars), {"run": {"id": journal.run_id}})
        initiator = state.initiator or str(journal.meta.get("initiator") or "")
        try:
            return cast_vote(
                journal.run_id,
                runbook,
                events,
                renderer,
                initiator,
                request,
                lambda event, **data: journal.append(event, sync=True, **data),
            )
        finally:
            journal.release()
    finally:
        lock.release()

"""Who answers manual steps and approval gates during a run, and how votes add up.

In order: a gate past its deadline times out (it takes its ``on_timeout``, whoever
answers); then the votes recorded in the journal (operator transactions from
``runbook resume``, the web console or a Slack button, see `operator_actions`), then
``--yes`` for gates that allow it and whose required inputs were given up front
(``--input STEP.NAME=VALUE``), then a prompt on the terminal, and otherwise nobody:
the engine pauses the run durably and exits 5. Every vote carries the voter's
verified identity; a gate with ``approvals: {required: N}`` opens once N distinct
approvers voted before its deadline, and one reject ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from runbook_engine.errors import RunbookError
from runbook_engine.gates import (
    Gate,
    OperatorAnswer,
    OperatorRequest,
    check_inputs,
    check_voter,
)
from runbook_engine.identity import Identity
from runbook_engine.journal.events import (
    GateAnnounced,
    OperatorActions,
    Paused,
    StepFinished,
    StepStarted,
    decode_all,
)
from runbook_engine.journal.journal import utc_now

#: Operator actions that are votes on a gate.
VOTE_ACTIONS = ("approve", "confirm", "reject")


@dataclass(frozen=True)
class Vote:
    """One person's answer to one wait of a gate, as journaled. ``late``: cast after
    the gate's deadline, so it never counts."""

    step: str
    action: str
    by: str
    at: str
    inputs: Mapping[str, Any] = field(default_factory=dict)
    method: str = "api"
    late: bool = False

    @property
    def epoch(self) -> float:
        return _epoch(self.at)


def _epoch(ts: str) -> float:
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return time.time()


def open_votes(events: Iterable[Mapping[str, Any]]) -> dict[str, list[Vote]]:
    """The votes per step since that step last finished (or was skipped or re-run by
    an operator): only those can still open its gate."""
    votes: dict[str, list[Vote]] = {}
    for line in decode_all(events, StepFinished, OperatorActions):
        event = line.event
        if isinstance(event, StepFinished):
            votes.pop(event.step, None)
        if not isinstance(event, OperatorActions):
            continue
        identity = event.identity or {}
        for item in event.actions:
            if item.action in ("skip", "rerun"):
                votes.pop(item.step, None)
            elif item.action in VOTE_ACTIONS:
                votes.setdefault(item.step, []).append(
                    Vote(
                        step=item.step,
                        action=item.action,
                        by=event.by,
                        at=line.ts or utc_now(),
                        inputs=dict(item.inputs),
                        method=str(identity.get("method", "api")),
                        late=item.late,
                    )
                )
    return votes


def current_pause(events: Sequence[Mapping[str, Any]], step: str) -> tuple[Paused, str] | None:
    """The ``paused`` event of ``step``'s current wait and the hash of its line: the
    first since the step last finished (its deadline holds through every resume), or
    None if it does not wait."""
    first: tuple[Paused, str] | None = None
    for line in decode_all(events, StepFinished, Paused):
        event = line.event
        if isinstance(event, StepFinished) and event.step == step:
            first = None
        elif isinstance(event, Paused) and event.step == step and first is None:
            first = event, line.hash or ""
    return first


def voter_refused(gate: Gate, name: str, action: str, initiator: str) -> str | None:
    """Why ``name`` may not cast this vote, or None. The initiator of a run may
    reject its gate (stop their own change) where they may not approve it."""
    if action == "reject" and not gate.approvers:
        return None
    return check_voter(gate, name, initiator)


def waiting_gates(events: Sequence[Mapping[str, Any]]) -> list[str]:
    """Steps whose gate waits now: paused since they last finished, and not skipped,
    re-run or aborted by an operator since. A vote short of its quorum leaves the gate
    waiting (the journal replay counts it as answered)."""
    waiting: list[str] = []
    for line in decode_all(events, Paused, StepFinished, StepStarted):
        event = line.event
        if isinstance(event, Paused) and event.step not in waiting:
            waiting.append(event.step)
        elif isinstance(event, StepFinished | StepStarted) and event.step in waiting:
            waiting.remove(event.step)
    return waiting


def tally(
    gate: Gate, votes: Sequence[Vote], initiator: str, deadline: float | None
) -> OperatorAnswer | None:
    """The gate's answer from its votes cast before the deadline: a reject by anyone
    allowed to vote, else the approval once ``gate.required`` distinct approvers
    agree, else None (still waiting)."""
    counted = [
        v
        for v in votes
        if not v.late
        and (deadline is None or v.epoch <= deadline)
        and voter_refused(gate, v.by, v.action, initiator) is None
    ]
    for vote in counted:
        if vote.action == "reject":
            return OperatorAnswer(by=vote.by, at=vote.at, confirmed=False, rejected=True)
    voters: list[str] = []
    inputs: dict[str, Any] = {}
    for vote in counted:
        if vote.by not in voters:
            voters.append(vote.by)
        for name, value in vote.inputs.items():
            inputs.setdefault(name, value)
    if not voters or len(voters) < gate.required:
        return None
    return OperatorAnswer(
        by=", ".join(voters), at=counted[-1].at, inputs=inputs, voters=tuple(voters)
    )


def check_vote(
    gate: Gate,
    votes: Sequence[Vote],
    voter: Identity,
    action: str,
    inputs: Mapping[str, Any],
    initiator: str,
) -> str | None:
    """Why this vote may not be cast (checked before anything is written), or None."""
    if voter.claimed and voter.claimed != voter.name and gate.approval:
        return (
            f"--as {voter.claimed} is not verified: you are {voter.name} ({voter.method});"
            " sign the approval with --sign-key KEY to act as an approver"
        )
    refused = voter_refused(gate, voter.name, action, initiator)
    if refused:
        return refused
    if any(v.by == voter.name and not v.late for v in votes):
        done = len({v.by for v in votes if v.action != "reject"})
        return f"{voter.name} already voted on this gate ({done} of {gate.required} approvals)"
    if action == "reject":
        return None
    given: dict[str, Any] = {}
    for vote in votes:
        for name, value in vote.inputs.items():
            given.setdefault(name, value)
    for name, value in inputs.items():
        if name in given and str(given[name]) != str(value):
            return f"input {name!r} was already given as {given[name]!r} by an earlier approver"
    _, refused = check_inputs(gate, {**given, **inputs})
    return refused


@dataclass
class RunOperator:
    """The run's `Operator` (see runbook_engine/gates.py). ``acting_as`` is the verified
    name of whoever runs the engine here; ``identity`` says how it was verified."""

    initiator: str
    acting_as: str
    yes: bool = False
    interactive: bool = False
    identity: Identity | None = None
    votes: dict[str, list[Vote]] = field(default_factory=dict)
    deadlines: dict[str, float] = field(default_factory=dict)
    #: Inputs given up front per gate (``--input STEP.NAME=VALUE``).
    preset: dict[str, dict[str, Any]] = field(default_factory=dict)
    suspend: Callable[[], contextlib.AbstractContextManager[None]] = contextlib.nullcontext
    record: Callable[[str, str, OperatorAnswer], None] = lambda action, step, answer: None
    #: Journals a vote given at the terminal as an operator transaction, so it counts
    #: toward a quorum after a later resume too.
    record_vote: Callable[[str, str, OperatorAnswer], None] | None = None
    #: Tells the people who can answer that a gate waits (Slack buttons); called when
    #: nobody here can answer.
    announce: Callable[[OperatorRequest, list[Vote]], Awaitable[None]] | None = None
    #: Where prompts are read and written; None means the process's own terminal
    #: streams (``sys.__stdin__``/``sys.__stderr__``: a live view may wrap sys.stderr).
    stdin: TextIO | None = None
    stderr: TextIO | None = None

    @property
    def _in(self) -> TextIO:
        return self.stdin or sys.__stdin__ or sys.stdin

    @property
    def _err(self) -> TextIO:
        return self.stderr or sys.__stderr__ or sys.stderr

    @property
    def verified(self) -> Identity:
        return self.identity or Identity(name=self.acting_as, method="api")

    async def answer(self, request: OperatorRequest) -> OperatorAnswer | None:
        gate = request.gate
        action = "approve" if gate.approval else "confirm"
        deadline = self.deadlines.get(request.step_id)
        votes = self.votes.pop(request.step_id, [])
        decided = tally(gate, votes, self.initiator, deadline)
        if decided is not None:
            given = self.preset.get(request.step_id, {})
            return OperatorAnswer(
                by=decided.by, at=decided.at, confirmed=decided.confirmed,
                inputs={**given, **decided.inputs}, voters=decided.voters,
                rejected=decided.rejected,
            )  # fmt: skip
        if deadline is not None and time.time() > deadline:
            return OperatorAnswer(by="-", at=utc_now(), confirmed=False, timed_out=True)
        given = self.preset.get(request.step_id, {})
        if self.yes and gate.allow_yes:
            if any(s.required and s.name not in given for s in gate.inputs):
                return None  # --yes cannot make up inputs: pause and say which are needed
            answer = OperatorAnswer(by=self.acting_as, at=utc_now(), inputs=given, auto=True)
            self.record(action, request.step_id, answer)
            return answer
        if not self.interactive:
            if self.announce is not None:
                await self.announce(request, votes)
            return None
        with self.suspend():
            prompted = await self._prompt(request, votes)
        if prompted is None and self.announce is not None:
            await self.announce(request, votes)
        if prompted is None or prompted.timed_out:
            return prompted
        if not prompted.confirmed:
            self.record("abort", request.step_id, prompted)
            return prompted
        if self.record_vote is not None:
            self.record_vote(action, request.step_id, prompted)
        else:
            self.record(action, request.step_id, prompted)
        voted = [*votes, Vote(request.step_id, action, prompted.by, prompted.at, prompted.inputs)]
        return tally(gate, voted, self.initiator, None)

    async def _prompt(self, request: OperatorRequest, votes: list[Vote]) -> OperatorAnswer | None:
        """Ask on the terminal, as the process's verified identity (never a typed name)."""
        gate = request.gate
        deadline = None if request.timeout is None else time.monotonic() + request.timeout
        kind = "APPROVAL" if gate.approval else "CONFIRM"
        self._say(f"\n[{kind}] {request.step_id}: {gate.prompt}")
        if gate.approvers:
            self._say(f"  approvers: {', '.join(gate.approvers)}")
        if gate.required > 1:
            self._say(f"  {len({v.by for v in votes})} of {gate.required} approvals so far")
        if gate.distinct:
            self._say(f"  the approver must not be {self.initiator}")
        refused = check_vote(gate, votes, self.verified, "approve", {}, self.initiator)
        if gate.approval and refused and "input" not in refused:
            self._say(f"  you ({self.acting_as}) cannot answer: {refused}")
            return None
        inputs: dict[str, Any] = dict(self.preset.get(request.step_id, {}))
        for spec in gate.inputs:
            if spec.name in inputs:
                continue
            hint = f" ({'/'.join(spec.choices)})" if spec.choices else f" [{spec.type}]"
            text = await self._ask(f"  {spec.description or spec.name}{hint}: ", deadline)
            if text is None:
                return OperatorAnswer(by="-", at=utc_now(), confirmed=False, timed_out=True)
            if text or spec.required:
                inputs[spec.name] = text
        text = await self._ask(f"  confirm as {self.acting_as}? [y/N] ", deadline)
        if text is None:
            return OperatorAnswer(by="-", at=utc_now(), confirmed=False, timed_out=True)
        confirmed = text.lower() in ("y", "yes")
        return OperatorAnswer(by=self.acting_as, at=utc_now(), confirmed=confirmed, inputs=inputs)

    def _say(self, text: str) -> None:
        self._err.write(text + "\n")
        self._err.flush()

    async def _ask(self, prompt: str, deadline: float | None) -> str | None:
        """One line from the terminal, or None when the deadline passes first."""
        self._err.write(prompt)
        self._err.flush()
        loop = asyncio.get_running_loop()
        line: asyncio.Future[str] = loop.create_future()
        fd = self._in.fileno()

        def readable() -> None:
            if not line.done():
                line.set_result(self._in.readline())

        loop.add_reader(fd, readable)
        try:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            return (await asyncio.wait_for(line, timeout)).strip()
        except TimeoutError:
            self._say("\n  (no answer in time)")
            return None
        finally:
            loop.remove_reader(fd)


def signature_problems(
    events: Sequence[Mapping[str, Any]], run_id: str, allowed_signers: Path | None = None
) -> list[str]:
    """Every SSH-signed vote whose signature no longer verifies against its
    allowed_signers file (or ``allowed_signers`` when given), or whose signed payload
    is not this vote; empty if all hold."""
    import json

    from runbook_engine.sshsig import verify

    problems: list[str] = []
    for line in decode_all(events, OperatorActions):
        event = line.event
        if not isinstance(event, OperatorActions):
            continue
        if (event.identity or {}).get("method") != "ssh-signature":
            continue
        for item in event.actions:
            signed = item.signature or {}
            where = f"line {line.seq}: {item.action} of {item.step} by {event.by}"
            payload = str(signed.get("payload", ""))
            try:
                said = json.loads(payload.split("\n", 1)[1])
            except (IndexError, ValueError):
                problems.append(f"{where}: no signed payload")
                continue
            decision = "reject" if item.action == "reject" else "approve"
            if (said.get("run"), said.get("step"), said.get("action")) != (
                run_id, item.step, decision,
            ):  # fmt: skip
                problems.append(f"{where}: the signature is for another vote")
                continue
            signers = allowed_signers or Path(str(signed.get("allowed_signers", "")))
            try:
                verify(payload.encode("ascii"), str(signed.get("signature", "")), signers,
                       event.by)  # fmt: skip
            except RunbookError as exc:
                problems.append(f"{where}: {exc.message}")
    return problems


async def announce_gate(ctx: Any, request: OperatorRequest, votes: Sequence[Vote]) -> None:
    """Post the waiting gate, with Approve and Reject buttons, to every ``slack``
    channel of the runbook, once per wait (``gate_announced`` events say where)."""
    from runbook_engine import slack
    from runbook_engine.webhook import Undelivered, post_json

    channels = {
        name: spec["slack"]
        for name, spec in ctx.channels.items()
        if isinstance(spec, Mapping)
        and isinstance(spec.get("slack"), Mapping)
        and spec["slack"].get("gates", True)
    }
    if not channels:
        return
    announced: set[str] = set()
    for line in decode_all(ctx.journal.events(), StepFinished, GateAnnounced):
        event = line.event
        if isinstance(event, StepFinished) and event.step == request.step_id:
            announced.clear()
        elif isinstance(event, GateAnnounced) and event.step == request.step_id and event.delivered:
            announced.add(event.channel)
    gate = request.gate
    for name, spec in channels.items():
        if name in announced:
            continue
        blocks = slack.gate_blocks(
            ctx.run_id, request.step_id, gate.prompt, gate.approvers, gate.required,
            spec.get("console_url"), [v.by for v in votes],
        )  # fmt: skip
        text = f"{gate.prompt} (run {ctx.run_id}, step {request.step_id})"
        error = None
        try:
            await post_json(str(spec.get("webhook") or ""), {"text": text, "blocks": blocks}, 10.0)
        except Undelivered as exc:
            error = str(exc)
        ctx.emit(
            GateAnnounced(step=request.step_id, channel=name, delivered=error is None, error=error)
        )

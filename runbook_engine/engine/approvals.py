"""Who answers manual steps and approval gates during a run.

In order: a gate past its deadline times out (it takes its ``on_timeout``, whoever
answers); then a confirmation recorded in the journal (an operator transaction, see
`operator_actions`), then ``--yes`` for gates that allow it and whose required
inputs were given up front (``--input STEP.NAME=VALUE``), then a prompt on the
terminal, and otherwise nobody: the engine pauses the run durably and exits 5.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from runbook_engine.executors.manual import OperatorAnswer, OperatorRequest
from runbook_engine.journal.journal import utc_now


@dataclass
class RunOperator:
    """The run's `Operator` (see executors/manual.py)."""

    initiator: str
    acting_as: str
    yes: bool = False
    interactive: bool = False
    recorded: dict[str, OperatorAnswer] = field(default_factory=dict)
    deadlines: dict[str, float] = field(default_factory=dict)
    #: Inputs given up front per gate (``--input STEP.NAME=VALUE``).
    preset: dict[str, dict[str, Any]] = field(default_factory=dict)
    suspend: Callable[[], contextlib.AbstractContextManager[None]] = contextlib.nullcontext
    record: Callable[[str, str, OperatorAnswer], None] = lambda action, step, answer: None
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

    async def answer(self, request: OperatorRequest) -> OperatorAnswer | None:
        action = "approve" if request.gate.approval else "confirm"
        deadline = self.deadlines.get(request.step_id)
        if deadline is not None and time.time() > deadline:
            self.recorded.pop(request.step_id, None)
            return OperatorAnswer(by="-", at=utc_now(), confirmed=False, timed_out=True)
        if request.step_id in self.recorded:
            return self.recorded.pop(request.step_id)
        given = self.preset.get(request.step_id, {})
        if self.yes and request.gate.allow_yes:
            if any(s.required and s.name not in given for s in request.gate.inputs):
                return None  # --yes cannot make up inputs: pause and say which are needed
            answer = OperatorAnswer(by=self.acting_as, at=utc_now(), inputs=given, auto=True)
            self.record(action, request.step_id, answer)
            return answer
        if not self.interactive:
            return None
        with self.suspend():
            prompted = await self._prompt(request)
        if prompted is not None and not prompted.timed_out:
            self.record(action if prompted.confirmed else "abort", request.step_id, prompted)
        return prompted

    async def _prompt(self, request: OperatorRequest) -> OperatorAnswer | None:
        gate = request.gate
        deadline = None if request.timeout is None else time.monotonic() + request.timeout
        kind = "APPROVAL" if gate.approval else "CONFIRM"
        self._say(f"\n[{kind}] {request.step_id}: {gate.prompt}")
        if gate.approvers:
            self._say(f"  approvers: {', '.join(gate.approvers)}")
        if gate.distinct:
            self._say(f"  the approver must not be {self.initiator}")
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
        by = self.acting_as
        if gate.approval:
            text = await self._ask(f"  approver name [{by}]: ", deadline)
            if text is None:
                return OperatorAnswer(by="-", at=utc_now(), confirmed=False, timed_out=True)
            by = text or by
        text = await self._ask("  confirm? [y/N] ", deadline)
        if text is None:
            return OperatorAnswer(by="-", at=utc_now(), confirmed=False, timed_out=True)
        confirmed = text.lower() in ("y", "yes")
        return OperatorAnswer(by=by, at=utc_now(), confirmed=confirmed, inputs=inputs)

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

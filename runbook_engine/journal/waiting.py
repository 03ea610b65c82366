"""What a paused run waits for: the gate, who may answer it, by when, and the inputs
it needs, so `runbook runs` can tell the operator how to go on without opening the
journal. Read from the journal's events and the runbook copy in the run directory."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook_engine.journal.events import Paused, decode_all
from runbook_engine.journal.replay import replay

#: Name of the runbook copy the engine keeps in each run directory.
RUNBOOK_COPY = "runbook.yaml"


@dataclass(frozen=True, slots=True)
class Waiting:
    step: str
    prompt: str | None
    deadline: str | None
    on_timeout: str | None
    approvers: tuple[str, ...]
    inputs: tuple[str, ...]

    def line(self) -> str:
        """``approve: approvers bob; inputs ticket (CHG-[0-9]+); deadline …``"""
        parts = [f"waits at {self.step}" + (f" ({self.prompt})" if self.prompt else "")]
        if self.approvers:
            parts.append(f"approvers {', '.join(self.approvers)}")
        if self.inputs:
            parts.append(f"inputs {', '.join(self.inputs)}")
        if self.deadline:
            then = f", then {self.on_timeout}" if self.on_timeout else ""
            parts.append(f"deadline {self.deadline.replace('T', ' ')}{then}")
        return "; ".join(parts)


def waiting_of(run_dir: Path, events: Sequence[Mapping[str, Any]]) -> Waiting | None:
    """The gate a paused run waits at, or None when it waits for nothing."""
    state = replay(events)
    if state.status != "paused" or not state.pending_confirmations:
        return None
    step_id = state.pending_confirmations[-1]
    paused = next(
        (
            line.event
            for line in reversed(decode_all(events, Paused))
            if isinstance(line.event, Paused) and line.event.step == step_id
        ),
        None,
    )
    deadline = paused.deadline if paused is not None else None
    when = (
        datetime.fromtimestamp(float(deadline), UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        if isinstance(deadline, int | float) and not isinstance(deadline, bool)
        else None
    )
    gate = _gate(Path(run_dir) / RUNBOOK_COPY, step_id)
    if gate is None:
        return Waiting(step_id, None, when, None, (), ())
    return Waiting(
        step=step_id,
        prompt=gate.prompt,
        deadline=when,
        on_timeout=gate.on_timeout if when else None,
        approvers=gate.approvers,
        inputs=tuple(_input_text(spec) for spec in gate.inputs),
    )


def _gate(copy: Path, step_id: str) -> Any:
    """The step's gate from the runbook copy; None if the copy is gone or broken."""
    from runbook_engine.errors import RunbookError
    from runbook_engine.gates import parse_gate
    from runbook_engine.loader import load_file
    from runbook_engine.model import build_runbook

    if not copy.is_file():
        return None
    try:
        runbook = build_runbook(load_file(copy))
        steps = [s for p in runbook.phases for s in p.steps] + list(runbook.rollback)
        steps += [p.step for p in runbook.prerequisites if p.step is not None]
        step = next((s for s in steps if s.id == step_id), None)
        if step is None or step.executor != "manual":
            return None
        return parse_gate(step.spec)
    except (RunbookError, KeyError, TypeError, ValueError):
        return None


def _input_text(spec: Any) -> str:
    detail = spec.pattern or (" | ".join(spec.choices) if spec.choices else "")
    kind = f" {spec.type}" if spec.type != "string" else ""
    optional = ", optional" if not spec.required else ""
    inside = ", ".join(x for x in (kind.strip(), detail) if x) + optional
    return f"{spec.name} ({inside})" if inside else spec.name

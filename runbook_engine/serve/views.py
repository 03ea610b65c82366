"""What the console's pages show, read from the journals and the run index at each
request (no second copy of the state): the run list, the gates that wait with their
approvers, votes, deadline and missing inputs, and a run's report rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook_engine.engine.approvals import Vote, current_pause, open_votes, waiting_gates
from runbook_engine.engine.votes import gate_for
from runbook_engine.errors import RunbookError
from runbook_engine.gates import Gate
from runbook_engine.journal import Journal, RunRow, list_runs, replay, verify_run
from runbook_engine.journal.events import StepOutput, decode_all
from runbook_engine.loader import load_file
from runbook_engine.model import Runbook, build_runbook
from runbook_engine.report.summary import RunReport, build_report
from runbook_engine.templating import Renderer

#: Output lines a run page shows at first (the rest stream in).
OUTPUT_LINES = 400


@dataclass(frozen=True)
class GateView:
    """A gate that waits, as an approver needs to see it."""

    step: str
    gate: Gate
    votes: tuple[Vote, ...]
    deadline: str | None
    missing_inputs: tuple[str, ...]

    @property
    def approvals(self) -> int:
        return len({v.by for v in self.votes if v.action != "reject"})


@dataclass(frozen=True)
class RunListing:
    row: RunRow
    gates: tuple[GateView, ...]


@dataclass(frozen=True)
class RunPage:
    run_id: str
    status: str
    report: RunReport
    gates: tuple[GateView, ...]
    output: tuple[Mapping[str, Any], ...]
    problems: tuple[str, ...]
    last_seq: int
    initiator: str | None


def _runbook(journal: Journal) -> Runbook | None:
    try:
        return build_runbook(load_file(str(journal.meta["runbook_path"])))
    except (RunbookError, KeyError, OSError):
        return None


def gates_of(journal: Journal, events: Sequence[Mapping[str, Any]]) -> tuple[GateView, ...]:
    waiting = waiting_gates(events)
    if not waiting:
        return ()
    state = replay(events)
    runbook = _runbook(journal)
    if runbook is None:
        return ()
    renderer = Renderer(dict(state.vars), {"run": {"id": journal.run_id}})
    votes = open_votes(events)
    views = []
    for step in waiting:
        try:
            gate = gate_for(runbook, step, renderer)
        except RunbookError:
            continue
        cast = tuple(votes.get(step, ()))
        given = {name for v in cast for name in v.inputs}
        missing = tuple(s.name for s in gate.inputs if s.required and s.name not in given)
        pause = current_pause(events, step)
        deadline = pause[0].deadline if pause is not None else None
        when = (
            datetime.fromtimestamp(float(deadline), UTC).strftime("%Y-%m-%d %H:%M:%SZ")
            if deadline is not None
            else None
        )
        views.append(GateView(step, gate, cast, when, missing))
    return tuple(views)


def run_list(runs_dir: Path) -> list[RunListing]:
    listings = []
    for row in list_runs(runs_dir):
        gates: tuple[GateView, ...] = ()
        if row.status == "paused":
            try:
                journal = Journal.open(runs_dir, row.run_id)
                gates = gates_of(journal, journal.events())
            except RunbookError:
                gates = ()
        listings.append(RunListing(row, gates))
    return listings


def run_page(runs_dir: Path, run_id: str) -> RunPage:
    journal = Journal.open(runs_dir, run_id)
    events = journal.events()
    state = replay(events)
    status = state.status
    if status == "running":
        status = next((r.status for r in list_runs(runs_dir) if r.run_id == journal.run_id), status)
    output = tuple(
        {"seq": line.seq, "step": line.event.step, "host": line.event.host, "line": line.event.line}
        for line in decode_all(events, StepOutput)
        if isinstance(line.event, StepOutput)
    )[-OUTPUT_LINES:]
    return RunPage(
        run_id=journal.run_id,
        status=status,
        report=build_report(events, run_id=journal.run_id),
        gates=gates_of(journal, events),
        output=output,
        problems=tuple(verify_run(journal)),
        last_seq=state.last_seq,
        initiator=state.initiator,
    )

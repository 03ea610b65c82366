"""One test case through the real engine: the real scheduler, decision matrix,
failure policies, rollback and journal (in a temporary folder), with every executor
replaced by the case's stubs (`stubs.StubLayer`) and time simulated.

What the run did is read back from its journal into an `Observation`, the same
way `runbook test --from-run` reads a real run, so a case and a real run are
compared on the same terms.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook_engine.casetest.cases import Case
from runbook_engine.casetest.stubs import Notification, Recorder, SimulatedClock, StubLayer
from runbook_engine.errors import RunbookError, RunError
from runbook_engine.journal.events import (
    Decision,
    Event,
    Operator,
    Paused,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
    decode_all,
)

#: The initiator recorded in a test run's journal.
TEST_INITIATOR = "runbook-test"


@dataclass(frozen=True)
class StepRecord:
    step: str
    status: str
    attempt: int
    at: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class DecisionRecord:
    condition: str
    action: str
    step: str | None
    at: float | None = None
    sample: int | None = None


@dataclass(frozen=True)
class Observation:
    """What a run did, read from its journal (plus what the stand-ins recorded)."""

    status: str
    exit_code: int | None
    finished: tuple[StepRecord, ...]
    started: frozenset[str]
    decisions: tuple[DecisionRecord, ...]
    captures: Mapping[str, Mapping[str, Any]]
    attempts: Mapping[str, int]
    commands: Mapping[str, Sequence[str]] = field(default_factory=dict)
    notifications: tuple[Notification, ...] = ()
    missing_stubs: tuple[str, ...] = ()
    run_dir: Path | None = None

    @property
    def final(self) -> dict[str, str]:
        """Step id → the status it ended with."""
        return {record.step: record.status for record in self.finished}

    def path(self) -> list[str]:
        """``id: status`` of every step that finished, in journal order."""
        return [f"{r.step}: {r.status}" for r in self.finished]


def observe(
    events: Sequence[Mapping[str, Any]],
    times: Mapping[int, float] | None = None,
    samples: Mapping[int, int] | None = None,
) -> Observation:
    """An `Observation` from a run's journal events. ``times`` (simulated time by
    journal seq) and ``samples`` (monitor sample number by seq) come from a test run."""
    times = times or {}
    samples = samples or {}
    finished: list[StepRecord] = []
    started: set[str] = set()
    decisions: list[DecisionRecord] = []
    captures: dict[str, dict[str, Any]] = {}
    attempts: dict[str, int] = {}
    status, exit_code = "running", None
    for line in decode_all(events):
        seq = line.seq
        match line.event:
            case StepStarted(step=step, attempt=attempt) if step:
                started.add(step)
                attempts[step] = max(attempts.get(step, 0), attempt or 1)
            case StepFinished(step=step) as done if step:
                finished.append(
                    StepRecord(
                        step=step,
                        status=done.status,
                        attempt=done.attempt or 0,
                        at=times.get(seq),
                        error=done.error,
                    )
                )
                if done.captures:
                    captures[step] = dict(done.captures)
            case Decision() as decision:
                decisions.append(
                    DecisionRecord(
                        condition=decision.condition,
                        action=decision.action,
                        step=decision.step,
                        at=times.get(seq),
                        sample=samples.get(seq),
                    )
                )
            case Paused():
                status = "paused"
            case RunFinished() as end:
                status = end.status
                exit_code = end.exit_code if isinstance(end.exit_code, int) else None
    return Observation(
        status=status,
        exit_code=exit_code,
        finished=tuple(finished),
        started=frozenset(started),
        decisions=tuple(decisions),
        captures=captures,
        attempts=attempts,
    )


class _TimedJournal:
    """The real journal, noting the simulated time of every line (and which monitor
    sample a decision came from), which the journal's wall-clock ``ts`` cannot say."""

    def __init__(self, journal: Any, clock: SimulatedClock, recorder: Recorder) -> None:
        self.journal = journal
        self.clock = clock
        self.recorder = recorder
        self.times: dict[int, float] = {}
        self.samples: dict[int, int] = {}

    @property
    def run_id(self) -> str:
        return str(self.journal.run_id)

    @property
    def dir(self) -> Path:
        return Path(self.journal.dir)

    @property
    def seq(self) -> int:
        return int(self.journal.seq)

    def append(self, event: Event) -> dict[str, Any]:
        record: dict[str, Any] = self.journal.append(event, sync=False)
        self.times[record["seq"]] = self.clock()
        if isinstance(event, Decision) and event.step in self.recorder.samples:
            self.samples[record["seq"]] = self.recorder.samples[event.step]
        return record

    def pending(self, seq: int | None = None) -> bool:
        return False  # a test run needs no fsync

    def sync(self) -> None:
        return None

    def events(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.journal.events()
        return events

    def seal(self, step_id: str, value: Any) -> None:
        self.journal.seal(step_id, value)


def _inventory(case: Case, runbook: Any) -> Any:
    from runbook_engine.engine.session import inventory_path, load_hosts
    from runbook_engine.inventory import load_inventory, parse_inventory_data

    if case.inventory is None:  # the runbook's own inventory: file, if it has one
        return load_hosts(runbook, inventory_path(runbook, None))
    if isinstance(case.inventory, str):
        if not Path(case.inventory).exists():
            raise RunError(f"case {case.name!r}: inventory {case.inventory} does not exist", span=case.span)
        inventory = load_inventory(case.inventory)
    else:
        inventory = parse_inventory_data(case.inventory, source=f"{case.path} ({case.name})")
    return inventory


def case_hosts(case: Case, runbook: Any) -> list[str] | None:
    """Host names of the case's inventory (None when it cannot be read)."""
    try:
        inventory = _inventory(case, runbook)
    except RunbookError:
        return None
    if inventory is None:
        return []
    return [host.name for host in inventory.select("all", strict=False)]


def run_case(runbook: Any, case: Case, work: Path) -> Observation:
    """Run ``case`` against ``runbook`` with its journal under ``work``."""
    from runbook_engine.engine.approvals import RunOperator
    from runbook_engine.engine.context import RunContext
    from runbook_engine.engine.evaluation import Evaluator, RunView
    from runbook_engine.engine.outcome import EXIT_CODES
    from runbook_engine.engine.progress import NullProgress
    from runbook_engine.engine.scheduler import Run
    from runbook_engine.engine.session import all_checks, journaled_vars
    from runbook_engine.graph import build_graph
    from runbook_engine.journal import Journal
    from runbook_engine.variables import resolve_vars

    resolved = resolve_vars(runbook, dict(case.vars), (), dict(case.env))
    inventory = _inventory(case, runbook)
    work.mkdir(parents=True, exist_ok=True)
    real = Journal.create(
        work / "runs",
        runbook_name=runbook.name,
        runbook_path=str(Path(runbook.path).resolve()),
        runbook_sha256=runbook.source_sha256,
        vars_sha256=resolved.sha256,
        inventory=None,
        initiator=TEST_INITIATOR,
    )
    clock = SimulatedClock()
    layer = StubLayer(case, clock)
    journal = _TimedJournal(real, clock, layer.recorder)
    checks = all_checks()
    qualified = {s.id: s.qualified_id for s in runbook.all_steps()}
    ctx = RunContext(
        runbook=runbook,
        values=resolved.values,
        secrets=resolved.secrets,
        journal=journal,
        progress=NullProgress(),
        evaluator=Evaluator(checks),
        view=RunView(resolved.values, qualified, checks),
        initiator=TEST_INITIATOR,
        inventory=inventory,
        workdir=work,
        clock=clock,
        sleep=clock.sleep,
        executor_factory=layer,
    )
    channels: dict[str, Any] = {}
    for name, spec in runbook.notify.items():
        try:
            channels[name] = ctx.renderer.render(spec)
        except RunbookError:
            continue
    ctx.channels = channels

    def record(action: str, step: str, answer: Any) -> None:
        ctx.emit(
            Operator(
                action=action, step=step, by=answer.by, inputs=dict(answer.inputs), auto=answer.auto
            )
        )

    operator = RunOperator(
        initiator=TEST_INITIATOR, acting_as=TEST_INITIATOR, yes=True, interactive=False, record=record
    )
    ctx.emit(
        RunStarted(
            run_id=real.run_id,
            runbook=runbook.name,
            title=runbook.label,
            path=str(runbook.path),
            vars=journaled_vars(runbook, resolved.values),
            inventory=None,
            initiator=TEST_INITIATOR,
            outside_window=None,
            test_case=case.name,
        )
    )
    run = Run(ctx, build_graph(runbook), operator)
    status = asyncio.run(run.execute())
    real.close(status, EXIT_CODES[status])
    seen = observe(real.events(), journal.times, journal.samples)
    recorder = layer.recorder
    return Observation(
        status=seen.status,
        exit_code=seen.exit_code if status != "paused" else EXIT_CODES["paused"],
        finished=seen.finished,
        started=seen.started,
        decisions=seen.decisions,
        captures=seen.captures,
        attempts=seen.attempts,
        commands=dict(recorder.commands),
        notifications=tuple(recorder.notifications),
        missing_stubs=tuple(dict.fromkeys(recorder.missing)),
        run_dir=real.dir,
    )

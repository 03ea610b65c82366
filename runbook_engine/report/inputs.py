"""What a report compares a run against: the runbook's success targets and budgets.

Kept apart from the events because the engine passes them at the end of a run,
while `runbook report RUN` later finds them in the copy of the runbook kept in the
run directory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook_engine.errors import RunbookError
from runbook_engine.journal.events import RunStarted, decode_all
from runbook_engine.report.summary import PlannedStep

if TYPE_CHECKING:
    from runbook_engine.model import Runbook

#: Name of the runbook copy the engine keeps in each run directory.
RUNBOOK_COPY = "runbook.yaml"


@dataclass(frozen=True, slots=True)
class ReportInputs:
    success: dict[str, str] = field(default_factory=dict)
    budgets: dict[str, float] = field(default_factory=dict)
    steps: tuple[PlannedStep, ...] = ()
    #: Vars of type duration, which the journal holds as seconds.
    durations: frozenset[str] = frozenset()


def inputs_of(runbook: Runbook) -> ReportInputs:
    """Success targets, phase budgets, and the window's ``run``/``downtime`` budgets."""
    budgets = {phase.id: phase.budget for phase in runbook.phases if phase.budget is not None}
    if runbook.window.max_duration is not None:
        budgets["run"] = runbook.window.max_duration
    if runbook.window.downtime_budget is not None:
        budgets["downtime"] = runbook.window.downtime_budget
    return ReportInputs(
        success={k: str(v) for k, v in runbook.success.items()},
        budgets=budgets,
        steps=planned_steps(runbook),
        durations=frozenset(name for name, spec in runbook.vars.items() if spec.type == "duration"),
    )


def planned_steps(runbook: Runbook) -> tuple[PlannedStep, ...]:
    """The prerequisites and the forward steps, in runbook order (rollback steps run
    only when needed, so a run that did not roll back did not skip them)."""
    planned = [
        PlannedStep(
            item.step.id if item.step else f"prerequisite-{index + 1}", "prerequisites", item.text
        )
        for index, item in enumerate(runbook.prerequisites)
    ]
    planned += [
        PlannedStep(step.id, phase.id, step.title) for phase in runbook.phases for step in phase.steps
    ]
    return tuple(planned)


def targets_of(
    events: Sequence[Mapping[str, Any]], inputs: ReportInputs | None
) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]:
    """The success targets and budgets a run is judged by: those its ``run_started``
    carries (older journals), else those of the runbook copy (``inputs``)."""
    started = next((line.event for line in decode_all(events, RunStarted)), None)
    success = started.success if isinstance(started, RunStarted) else None
    budgets = started.budgets if isinstance(started, RunStarted) else None
    if success is None and inputs is not None:
        success = inputs.success
    if budgets is None and inputs is not None:
        budgets = inputs.budgets
    return success, budgets


def inputs_from_run_dir(run_dir: Path, runbook_sha256: str | None) -> ReportInputs | None:
    """The inputs from the runbook copy in a run directory, if it is there, still
    parses and is the very text the run started with."""
    from runbook_engine.loader import load_file
    from runbook_engine.model import build_runbook

    copy = Path(run_dir) / RUNBOOK_COPY
    if not copy.is_file():
        return None
    try:
        runbook = build_runbook(load_file(copy))
    except (RunbookError, KeyError, TypeError, ValueError):
        return None
    if runbook_sha256 and runbook.source_sha256 != runbook_sha256:
        return None
    return inputs_of(runbook)

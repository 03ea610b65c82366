"""Which steps a rollback runs: the ``undo`` of every step that completed, newest
first, then the ``rollback`` section in written order. Rollback steps run one at a
time and may test what ran (``when: steps.run-migrations.succeeded``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from runbook_engine.engine.outcome import SUCCEEDED, StepOutcome
from runbook_engine.model import Runbook, Step


def rollback_plan(
    runbook: Runbook,
    outcomes: Mapping[str, StepOutcome],
    completion_order: Sequence[str],
    start_at: str | None = None,
) -> list[tuple[Step, str | None]]:
    """(rollback step, id of the step it undoes or None), in the order they run.
    ``start_at`` (an ``on_failure: {goto: …}`` into the rollback section) drops the
    section's steps before it."""
    plan: list[tuple[Step, str | None]] = []
    if runbook.rollback_undo:
        steps = {step.id: step for phase in runbook.phases for step in phase.steps}
        for step_id in reversed(completion_order):
            step = steps.get(step_id)
            outcome = outcomes.get(step_id)
            if (
                step is not None
                and step.undo is not None
                and outcome is not None
                and outcome.status == SUCCEEDED
            ):
                plan.append((replace(step.undo, phase="rollback"), step_id))
    section = list(runbook.rollback)
    if start_at is not None:
        ids = [s.id for s in section]
        if start_at in ids:
            section = section[ids.index(start_at) :]
    plan.extend((step, None) for step in section)
    return plan

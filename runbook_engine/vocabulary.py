"""The run's vocabulary, written down once: step and run status names, the fields of
``steps.<id>``, the predicate roots a run supplies, and the one rule for "this host
failed".

Lint, the engine, the evaluator, plan and report all import these names, so what lint
accepts is exactly what a run evaluates (docs/predicates.md). Nothing here imports an
executor or does I/O: lint loads it for every file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

__all__ = [
    "DECISION_CONTEXT",
    "PREDICATE_ROOTS",
    "RUN_STATUSES",
    "RunStatus",
    "STEP_COPIED_RESULT_FIELDS",
    "STEP_STATUSES",
    "STEP_STATUS_FIELDS",
    "Root",
    "StepStatus",
    "host_failed",
    "roots_supplied",
    "step_names_supplied",
]

#: How one step stands, in the words of the journal (``planned``: what `runbook plan`
#: shows for a step it would run).
StepStatus = Literal[
    "pending",
    "running",
    "succeeded",
    "failed",
    "skipped",
    "cancelled",
    "rolled_back",
    "paused",
    "planned",
]
#: How one run ends (each maps to an exit code, `engine.outcome.EXIT_CODES`).
RunStatus = Literal[
    "succeeded", "failed", "unusable", "rolled_back", "rollback_failed", "paused", "cancelled"
]
STEP_STATUSES: Final[tuple[StepStatus, ...]] = get_args(StepStatus)
RUN_STATUSES: Final[tuple[RunStatus, ...]] = get_args(RunStatus)

#: ``steps.<id>.<name>`` the engine supplies for every step, whatever its executor,
#: from the moment the run starts (a pending step is ``succeeded: false``).
STEP_STATUS_FIELDS: Final[Mapping[str, str]] = {
    "status": "str",
    "succeeded": "bool",
    "failed": "bool",
    "skipped": "bool",
    "cancelled": "bool",
    "rolled_back": "bool",
    "attempts": "int",
}
#: Result fields copied to ``steps.<id>`` once the step has a result — only those its
#: executor declares in ``fields``; ``hosts`` (per-host fields and captures, empty for
#: a step without hosts) is there too.
STEP_COPIED_RESULT_FIELDS: Final[tuple[str, ...]] = (
    "rc",
    "exit_code",
    "stdout",
    "stderr",
    "duration",
    "status_code",
)


def step_names_supplied(captures: Iterable[str], executor_fields: Mapping[str, str]) -> dict[str, str]:
    """Name → type of everything ``steps.<id>.<name>`` can be for one step: its status
    fields, the copied result fields its executor declares, ``hosts``, its captures."""
    names = dict(STEP_STATUS_FIELDS)
    for name in STEP_COPIED_RESULT_FIELDS:
        if name in executor_fields:
            names[name] = executor_fields[name]
    names["hosts"] = "map"
    for name in captures:
        names[name] = "any"
    return names


@dataclass(frozen=True, slots=True)
class Root:
    """A name a predicate may start with besides the step's own fields.

    ``needs`` is the executor capability that must be in the runbook for the engine to
    supply the root (``None``: always supplied); an executor class says which roots it
    supplies in ``supplies_roots`` (the monitor: ``probe``, ``baseline``, ``samples``).
    """

    name: str
    type: str
    description: str
    needs: str | None = None


#: Every root the engine can supply to a predicate.
PREDICATE_ROOTS: Final[Mapping[str, Root]] = {
    root.name: root
    for root in (
        Root("vars", "map", "the run's variables"),
        Root("steps", "map", "every step's status fields, copied result fields and captures"),
        Root("hosts", "map", "the step's per-host fields (empty without hosts)"),
        Root("now", "number", "the time of evaluation, seconds since the epoch"),
        Root("probe", "map", "the latest monitor sample", needs="probe"),
        Root("baseline", "map", "the monitor's baseline sample", needs="probe"),
        Root("samples", "list", "the monitor's samples so far", needs="probe"),
    )
}

#: Where a predicate is written decides what it sees: ``expect``/``until`` see the
#: step's own result fields, ``when`` and decisions only the roots (a decision runs
#: after every step, so top-level names would change meaning from step to step).
DECISION_CONTEXT: Final = "decision"


def roots_supplied(supplied_by_executors: Iterable[str]) -> frozenset[str]:
    """The roots a run of a runbook supplies: those always there, plus those whose
    capability an executor of the runbook declares (``supplies_roots``)."""
    capabilities = set(supplied_by_executors)
    return frozenset(
        name for name, root in PREDICATE_ROOTS.items() if root.needs is None or root.needs in capabilities
    )


def host_failed(fields: Mapping[str, Any]) -> bool:
    """The one rule for "this host failed" (fan-out stop rules, ``any_host_failed``,
    decision evidence, reports): it was reached and ran, and it was unreachable,
    timed out, said ``failed``, or exited non-zero. A host the rollout never reached
    (``skipped``) did not fail."""
    if fields.get("skipped") is True:
        return False
    if fields.get("unreachable") or fields.get("timed_out") or fields.get("failed"):
        return True
    rc = fields.get("rc")
    return isinstance(rc, int) and not isinstance(rc, bool) and rc != 0

"""What a step and a run end as, and the exit code each run status maps to.

Exit codes are the contract with shells and CI (docs/running.md): 0 succeeded,
1 failed, 2 unusable input (printed by the CLI), 3 rolled back, 4 rollback failed,
5 paused waiting for an operator, 130 cancelled by the operator without rollback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from runbook_engine.executors.base import RESULT_STATES, Result
from runbook_engine.vocabulary import RunStatus, StepStatus, host_failed

#: The step statuses the engine names in code (all of them: `vocabulary.StepStatus`).
SUCCEEDED: Final[StepStatus] = "succeeded"
FAILED: Final[StepStatus] = "failed"
SKIPPED: Final[StepStatus] = "skipped"
CANCELLED: Final[StepStatus] = "cancelled"
ROLLED_BACK: Final[StepStatus] = "rolled_back"

#: Run status → process exit code.
EXIT_CODES: Mapping[RunStatus, int] = {
    "succeeded": 0,
    "failed": 1,
    "unusable": 2,
    "rolled_back": 3,
    "rollback_failed": 4,
    "paused": 5,
    "cancelled": 130,
}


@dataclass(frozen=True)
class StepOutcome:
    """How one step ended: its status, the executor's result, what it captured."""

    status: StepStatus
    result: Result | None = None
    captures: Mapping[str, Any] = field(default_factory=dict)
    host_captures: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    attempts: int = 0
    error: str | None = None
    paused: bool = False

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCEEDED

    def failed_hosts(self) -> tuple[str, ...]:
        if self.result is None:
            return ()
        return tuple(name for name, fields in self.result.hosts.items() if host_failed(fields))


def result_from_journal(data: Mapping[str, Any] | None) -> Result | None:
    """A `Result` back from a ``step_finished`` event's ``result``."""
    if not data:
        return None
    return Result(
        ok=bool(data.get("ok")),
        fields=dict(data.get("fields") or {}),
        hosts={str(k): dict(v) for k, v in (data.get("hosts") or {}).items()},
        error=data.get("error"),
        duration=float(data.get("duration") or 0.0),
        state=data["state"] if data.get("state") in RESULT_STATES else "done",
        on_failure=data.get("on_failure"),
    )


def result_to_journal(result: Result | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return {
        "ok": result.ok,
        "fields": dict(result.fields),
        "hosts": {name: dict(fields) for name, fields in result.hosts.items()},
        "error": result.error,
        "duration": result.duration,
        "state": result.state,
        "on_failure": result.on_failure,
    }

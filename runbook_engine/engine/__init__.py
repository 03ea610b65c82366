"""The run engine: scheduler, step lifecycle, decisions, rollback, approvals,
progress and plan. The CLI calls `start_run`, `resume_run` and `build_plan`."""

from __future__ import annotations

from runbook_engine.engine.outcome import EXIT_CODES, StepOutcome
from runbook_engine.engine.plan import build_plan
from runbook_engine.engine.progress import (
    JsonProgress,
    NullProgress,
    PlainProgress,
    Progress,
    make_progress,
)
from runbook_engine.engine.session import (
    ResumeOptions,
    RunOptions,
    RunSummary,
    resume_run,
    start_run,
)

__all__ = [
    "EXIT_CODES",
    "JsonProgress",
    "NullProgress",
    "PlainProgress",
    "Progress",
    "ResumeOptions",
    "RunOptions",
    "RunSummary",
    "StepOutcome",
    "build_plan",
    "make_progress",
    "resume_run",
    "start_run",
]

"""The ``wait`` executor: a deliberate, cancellable pause (``wait: 30s``).

Also home of ``to_seconds`` and ``DURATION_SCHEMA``, which the sql and http executors
share for their ``timeout`` option.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from runbook_engine.durations import parse_duration
from runbook_engine.errors import ExecutorError
from runbook_engine.executors.base import ExecutorBase, Result, StepCall

DURATION_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "number", "minimum": 0},
        {
            "type": "string",
            "pattern": r"^\s*((\d+(\.\d+)?(ms|s|m|h|d|w))+|\d+(\.\d+)?|\{\{.*\}\})\s*$",
        },
    ]
}


def to_seconds(value: Any, what: str = "duration") -> float:
    """Seconds in a duration from a step spec; a bad one means the step cannot start."""
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ExecutorError(
            f"{what}: {exc}", hint="write e.g. 500ms, 30s, 1m30s, 2h or a number of seconds"
        ) from None


class WaitExecutor(ExecutorBase):
    """Pauses the run, e.g. to let caches warm up before the smoke tests."""

    key: ClassVar[str] = "wait"
    probed_by_plan: ClassVar[bool] = False
    schema: ClassVar[dict[str, Any]] = {
        "description": "Pause for a duration: a number of seconds or a string such as 30s, 1m30s, 500ms.",
        **DURATION_SCHEMA,
    }
    fields: ClassVar[dict[str, str]] = {"waited": "duration"}

    async def run(self, call: StepCall) -> Result:
        import asyncio
        seconds = to_seconds(call.render(call.spec, None), "wait")
        started = time.monotonic()
        await asyncio.sleep(seconds)
        waited = time.monotonic() - started
        return Result(ok=True, fields={"waited": waited}, duration=waited)

    def describe(self, call: StepCall) -> list[str]:
        return [f"wait {to_seconds(call.render(call.spec, None), 'wait'):g}s"]

"""The ``wait`` executor: a deliberate, cancellable pause (``wait: 30s``).

Also home of ``to_seconds``, the duration parser the data and web executors share
until the engine offers one of its own.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any, ClassVar

from runbook_engine.errors import ExecutorError
from runbook_engine.executors.base import ExecutorBase, Result, StepCall

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+")

DURATION_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "number", "minimum": 0},
        {
            "type": "string",
            "pattern": r"^\s*((\d+(\.\d+)?(ms|s|m|h|d))+|\d+(\.\d+)?|\{\{.*\}\})\s*$",
        },
    ]
}


def to_seconds(value: Any, what: str = "duration") -> float:
    """Seconds in a duration written as a number of seconds or as ``1m30s``/``500ms``."""
    if isinstance(value, bool):
        raise ExecutorError(f"{what} must be a duration such as 30s, not {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ExecutorError(f"{what} must not be negative: {value!r}")
        return float(value)
    text = str(value).strip().replace(" ", "")
    try:
        return to_seconds(float(text), what)
    except ValueError:
        pass
    if not _WHOLE.fullmatch(text):
        raise ExecutorError(
            f"{what} {value!r} is not a duration",
            hint="write a number of seconds or e.g. 500ms, 30s, 1m30s, 2h",
        )
    return sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(text))


class WaitExecutor(ExecutorBase):
    """Pauses the run, e.g. to let caches warm up before the smoke tests."""

    key: ClassVar[str] = "wait"
    schema: ClassVar[dict[str, Any]] = {
        "description": "Pause for a duration: a number of seconds or a string such as 30s, 1m30s, 500ms.",
        **DURATION_SCHEMA,
    }
    fields: ClassVar[dict[str, str]] = {"waited": "duration"}

    async def run(self, call: StepCall) -> Result:
        seconds = to_seconds(call.render(call.spec, None), "wait")
        started = time.monotonic()
        await asyncio.sleep(seconds)
        waited = time.monotonic() - started
        return Result(ok=True, fields={"waited": waited}, duration=waited)

    def describe(self, call: StepCall) -> list[str]:
        return [f"wait {to_seconds(call.render(call.spec, None), 'wait'):g}s"]

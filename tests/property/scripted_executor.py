"""A test-only executor plugin: ``scripted: {results: [{ok, rc}, …]}`` returns the
n-th result on the n-th attempt of the step (the last one repeats)."""

from __future__ import annotations

from typing import Any, ClassVar

from runbook_engine.executors.base import ExecutorBase, Result, StepCall


class ScriptedExecutor(ExecutorBase):
    key: ClassVar[str] = "scripted"
    schema: ClassVar[dict[str, Any]] = {"type": "object"}
    fields: ClassVar[dict[str, str]] = {"rc": "int"}

    def __init__(self) -> None:
        self.attempts: dict[str, int] = {}

    async def run(self, call: StepCall) -> Result:
        number = self.attempts[call.step_id] = self.attempts.get(call.step_id, 0) + 1
        results = call.spec["results"]
        chosen = results[min(number, len(results)) - 1]
        return Result(ok=bool(chosen["ok"]), fields={"rc": chosen["rc"]}, error=None if chosen["ok"] else "scripted failure")

    def describe(self, call: StepCall) -> list[str]:
        return [f"scripted {call.step_id}"]

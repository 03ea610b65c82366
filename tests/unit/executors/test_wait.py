"""The wait executor and the duration parser it shares with sql and http."""

from __future__ import annotations

import asyncio

import pytest

from runbook_engine.errors import ExecutorError
from runbook_engine.executors.base import StepCall
from runbook_engine.executors.wait import WaitExecutor, to_seconds


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("1m30s", 90.0),
        ("500ms", 0.5),
        ("2h", 7200.0),
        ("1.5", 1.5),
        (3, 3.0),
        ("1d2h", 93600.0),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    assert to_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "30x", "-5", -1, True, "1m 30"])
def test_bad_durations_are_executor_errors(text: object) -> None:
    with pytest.raises(ExecutorError):
        to_seconds(text)


def test_wait_sleeps_and_reports_what_it_waited() -> None:
    result = asyncio.run(WaitExecutor().run(StepCall("w", "50ms")))
    assert result.ok
    assert result.fields["waited"] >= 0.05


def test_wait_renders_templates_first() -> None:
    call = StepCall("w", "{{ pause }}", render=lambda value, host=None: "10ms")
    assert asyncio.run(WaitExecutor().run(call)).ok
    assert WaitExecutor().describe(call) == ["wait 0.01s"]


def test_wait_is_cancellable() -> None:
    async def scenario() -> bool:
        task = asyncio.create_task(WaitExecutor().run(StepCall("w", "1h")))
        await asyncio.sleep(0)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return True
        return False

    assert asyncio.run(asyncio.wait_for(scenario(), 10))


def test_schema_accepts_durations_and_templates_only() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(WaitExecutor.schema)
    for good in ["30s", "1m30s", 5, "{{ pause }}"]:
        assert validator.is_valid(good), good
    for bad in ["soon", -1, {"for": "30s"}]:
        assert not validator.is_valid(bad), bad

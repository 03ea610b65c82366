"""The monitor watches for the whole window it was given: ``for: 1s, every: 250ms``
takes samples at 0, 0.25, 0.5, 0.75 and 1.0 s. Regression: the loop stopped when the
next sample would land on the window's end (``for: 20s`` stopped at 15.1 s)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from runbook_engine.executors.base import Result, StepServices
from runbook_engine.executors.monitor import MonitorExecutor
from runbook_engine.testing import make_call


def _monitor(window: str, every: str) -> tuple[Result, list[str]]:
    lines: list[str] = []

    async def probe(_spec: Any) -> Result:
        return Result(ok=True, fields={"status": 200, "latency": 0.01})

    call = make_call(
        {"for": window, "every": every, "probe": {"http": {"url": "http://127.0.0.1:9/"}}},
        services=StepServices(probe=probe),
        log=lambda line, host: lines.append(line),
    )
    return asyncio.run(MonitorExecutor().run(call)), lines


@pytest.mark.parametrize(("window", "every", "samples"), [("1s", "250ms", 5), ("1s", "300ms", 4)])
def test_monitor_covers_its_whole_window(window: str, every: str, samples: int) -> None:
    result, lines = _monitor(window, every)
    assert result.fields["sample_count"] == samples
    last_at = result.fields["samples"][-1]["at"]
    expected_last = (samples - 1) * float(every.removesuffix("ms")) / 1000
    assert last_at == pytest.approx(expected_last, abs=0.1)
    if window == "1s" and every == "250ms":
        assert result.fields["duration"] >= 1.0
    assert [line.split(":")[0] for line in lines] == [f"sample {n}" for n in range(1, samples + 1)]

"""A monitor sample of a probe on many hosts carries ``peak``: the worst host's value
of each number, so the matrix can judge "queue backlog growing" on any one host."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from runbook_engine.executors.base import Result, StepServices
from runbook_engine.executors.monitor import MonitorExecutor
from runbook_engine.testing import make_call


def test_sample_has_the_peak_over_hosts_of_fields_and_json_numbers() -> None:
    answers = iter([3, 9, 4])
    samples: list[Mapping[str, Any]] = []

    async def probe(_raw: Mapping[str, Any]) -> Result:
        depth = next(answers)
        hosts = {
            "app-01": {"latency": 0.01, "json": {"queue_depth": 1, "status": "healthy"}},
            "app-02": {"latency": 0.30, "json": {"queue_depth": depth, "status": "healthy"}},
        }
        return Result(ok=True, fields={"latency": 0.30, "failed": 0}, hosts=hosts)

    def on_sample(sample: Mapping[str, Any], baseline: Mapping[str, Any], _all: list[Any]) -> bool:
        samples.append(sample)
        return False

    spec = {"for": 0.02, "every": 0.01, "probe": {"http": {"url": "http://x"}}}
    call = make_call(spec, services=StepServices(probe=probe, on_sample=on_sample))
    result = asyncio.run(MonitorExecutor().run(call))
    assert result.ok
    assert [s["peak"]["queue_depth"] for s in samples] == [3, 9, 4][: len(samples)]
    assert samples[0]["peak"]["latency"] == 0.30
    assert "status" not in samples[0]["peak"]  # text is not a number


def test_probe_without_hosts_has_no_peak() -> None:
    async def probe(_raw: Mapping[str, Any]) -> Result:
        return Result(ok=True, fields={"value": 1.0})

    seen: list[Mapping[str, Any]] = []
    call = make_call(
        {"for": 0, "every": 1, "probe": {"x": {}}},
        services=StepServices(probe=probe, on_sample=lambda s, b, a: seen.append(s) or False),
    )
    asyncio.run(MonitorExecutor().run(call))
    assert "peak" not in seen[0]

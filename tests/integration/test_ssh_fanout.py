"""Rolling batches and rate limits of the shared fan-out (no network: a fake per-host
action records what ran and when)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from runbook_engine.errors import ExecutorError
from runbook_engine.executors.base import Host
from runbook_engine.executors.fanout import Rollout, batch_sizes, fan_out


@pytest.mark.parametrize(
    ("total", "serial", "sizes"),
    [
        (10, (), [10]),
        (10, (1,), [1] * 10),
        (10, ("25%",), [2, 2, 2, 2, 2]),
        (10, (1, 5, "25%"), [1, 5, 2, 2]),
        (3, ("10%",), [1, 1, 1]),
        (4, (0,), [4]),
        (5, (2, 10), [2, 3]),
        (0, (1,), []),
    ],
)
def test_batch_sizes(total: int, serial: tuple[Any, ...], sizes: list[int]) -> None:
    assert batch_sizes(total, serial) == sizes


def hosts(n: int) -> tuple[Host, ...]:
    return tuple(Host(f"h{i}") for i in range(1, n + 1))


def drive(n: int, rollout: Rollout, failing: set[str]) -> tuple[Any, list[str], int]:
    order: list[str] = []
    running = 0
    peak = 0

    async def one(host: Host) -> dict[str, Any]:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        order.append(host.name)
        await asyncio.sleep(0.01)
        running -= 1
        return {"rc": 1 if host.name in failing else 0, "unreachable": False}

    def not_run(host: Host, why: str) -> dict[str, Any]:
        return {"rc": None, "skipped": True, "why": why}

    outcome = asyncio.run(fan_out(hosts(n), rollout, one, not_run))
    return outcome, order, peak


def test_forks_bound_concurrency_and_max_concurrency_caps_it() -> None:
    _, _, peak = drive(10, Rollout(forks=3), set())
    assert peak == 3
    _, _, peak = drive(10, Rollout(forks=8, max_concurrency="20%"), set())
    assert peak == 2


def test_failing_batch_over_max_fail_percentage_stops_the_rollout() -> None:
    outcome, order, _ = drive(10, Rollout(serial=(1, 5, "25%"), max_fail_percentage=20), {"h3"})
    assert len(order) == 10 and outcome.stopped is None  # batch 2 had 1/5 = 20 %, not more
    outcome, order, _ = drive(10, Rollout(serial=(1, 5, "25%"), max_fail_percentage=10), {"h3"})
    assert order == ["h1", "h2", "h3", "h4", "h5", "h6"]
    assert outcome.batches == [["h1"], ["h2", "h3", "h4", "h5", "h6"]]
    assert all(outcome.hosts[f"h{i}"]["skipped"] for i in range(7, 11))
    assert "batch 2" in outcome.stopped and "max_fail_percentage 10" in outcome.stopped


def test_whole_batch_failing_stops_even_without_max_fail_percentage() -> None:
    outcome, order, _ = drive(4, Rollout(serial=(2,)), {"h1", "h2"})
    assert order == ["h1", "h2"]
    assert outcome.stopped == "every host of batch 1 failed"
    outcome, order, _ = drive(4, Rollout(serial=(2,)), {"h1"})
    assert order == ["h1", "h2", "h3", "h4"] and outcome.stopped is None


def test_max_errors_stops_starting_hosts_once_exceeded() -> None:
    outcome, order, _ = drive(6, Rollout(forks=1, max_errors=1), {"h1", "h2", "h3"})
    assert order == ["h1", "h2"]
    assert [outcome.hosts[f"h{i}"].get("skipped", False) for i in range(1, 7)] == [
        False,
        False,
        True,
        True,
        True,
        True,
    ]
    assert "max_errors 1" in outcome.stopped


def test_hosts_keep_inventory_order_in_the_result() -> None:
    outcome, _, _ = drive(5, Rollout(forks=5), set())
    assert list(outcome.hosts) == ["h1", "h2", "h3", "h4", "h5"]


@pytest.mark.parametrize(
    "options",
    [
        {"forks": 0},
        {"forks": True},
        {"serial": "many"},
        {"serial": [1, "150%"]},
        {"max_fail_percentage": 120},
        {"max_errors": -1},
    ],
)
def test_bad_rollout_options_are_executor_errors(options: dict[str, Any]) -> None:
    with pytest.raises(ExecutorError):
        Rollout.from_options(options)


def test_spec_keys_override_step_options() -> None:
    rollout = Rollout.from_options({"forks": 5, "serial": 2}, {"forks": 7, "other": 1})
    assert (rollout.forks, rollout.serial) == (7, (2,))

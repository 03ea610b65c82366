"""Bounded fan-out of one step over many hosts, with rolling batches.

Two vocabularies operators already know are combined: Ansible's ``forks``,
``serial`` (``1``, ``25%``, ``[1, 5, 25%]``) and ``max_fail_percentage``, and SSM
Run Command's ``max_concurrency`` and ``max_errors``. A batch that fails too much
stops the rollout; the hosts not yet touched are reported as not run, so a decision
such as "never run mixed versions" sees exactly which hosts changed.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runbook_engine.errors import ExecutorError
from runbook_engine.executors.base import Host
from runbook_engine.vocabulary import host_failed

__all__ = ["FanOut", "ROLLOUT_KEYS", "ROLLOUT_SCHEMA", "Rollout", "batch_sizes", "fan_out"]

DEFAULT_FORKS = 10

_COUNT_OR_PERCENT: dict[str, Any] = {
    "oneOf": [
        {"type": "integer", "minimum": 0},
        {"type": "string", "pattern": r"^\d+(\.\d+)?%$"},
    ]
}

#: JSON-Schema properties of the rollout keys, for executors that fan out.
ROLLOUT_SCHEMA: dict[str, Any] = {
    "forks": {"type": "integer", "minimum": 1},
    "max_concurrency": _COUNT_OR_PERCENT,
    "max_errors": _COUNT_OR_PERCENT,
    "serial": {
        "oneOf": [_COUNT_OR_PERCENT, {"type": "array", "items": _COUNT_OR_PERCENT, "minItems": 1}]
    },
    "max_fail_percentage": {"type": "number", "minimum": 0, "maximum": 100},
}

#: The rollout keys, written on a step (or under an executor's key).
ROLLOUT_KEYS: frozenset[str] = frozenset(ROLLOUT_SCHEMA)

Count = int | str


@dataclass(frozen=True, slots=True)
class Rollout:
    """How many hosts at once, in which batches, and when to stop."""

    forks: int = DEFAULT_FORKS
    max_concurrency: Count | None = None
    max_errors: Count | None = None
    serial: tuple[Count, ...] = ()
    max_fail_percentage: float | None = None

    @classmethod
    def from_options(cls, *sources: Mapping[str, Any] | None) -> Rollout:
        """Merge rollout keys from step options and the executor spec (later wins)."""
        merged: dict[str, Any] = {}
        for source in sources:
            if isinstance(source, Mapping):
                merged.update(
                    {k: v for k, v in source.items() if k in ROLLOUT_SCHEMA and v is not None}
                )
        forks = merged.get("forks", DEFAULT_FORKS)
        if isinstance(forks, bool) or not isinstance(forks, int) or forks < 1:
            raise ExecutorError(f"forks must be a whole number ≥ 1, not {forks!r}")
        serial = merged.get("serial", ())
        serial = tuple(serial) if isinstance(serial, list | tuple) else (serial,)
        for value in serial:
            _check_count("serial", value)
        pct = merged.get("max_fail_percentage")
        if pct is not None and (
            isinstance(pct, bool) or not isinstance(pct, int | float) or not 0 <= pct <= 100
        ):
            raise ExecutorError(f"max_fail_percentage must be a number from 0 to 100, not {pct!r}")
        for key in ("max_concurrency", "max_errors"):
            if key in merged:
                _check_count(key, merged[key])
        return cls(
            forks=forks,
            max_concurrency=merged.get("max_concurrency"),
            max_errors=merged.get("max_errors"),
            serial=serial,
            max_fail_percentage=None if pct is None else float(pct),
        )

    def concurrency(self, total: int) -> int:
        """Hosts worked on at once: ``forks``, further capped by ``max_concurrency``."""
        limit = self.forks
        if self.max_concurrency is not None:
            limit = min(limit, max(1, _resolve(self.max_concurrency, total)))
        return max(1, limit)

    def error_budget(self, total: int) -> int | None:
        """Failed hosts tolerated before no further host is started (None: no limit)."""
        return None if self.max_errors is None else _resolve(self.max_errors, total)


def _check_count(key: str, value: Any) -> None:
    if isinstance(value, bool):
        raise ExecutorError(f"{key} must be a number or a percentage such as '25%', not {value!r}")
    if isinstance(value, int) and value >= 0:
        return
    if isinstance(value, str) and value.endswith("%"):
        try:
            if 0 <= float(value[:-1]) <= 100:
                return
        except ValueError:
            pass
    raise ExecutorError(
        f"{key} must be a number or a percentage such as '25%', not {value!r}",
        hint=f"{key}: 1, {key}: '25%'" + (", serial: [1, 5, '25%']" if key == "serial" else ""),
    )


def _resolve(value: Count, total: int) -> int:
    """A count, or a percentage of ``total`` rounded down (Ansible's rule)."""
    if isinstance(value, str):
        return int(math.floor(total * float(value[:-1]) / 100))
    return int(value)


def batch_sizes(total: int, serial: Sequence[Count]) -> list[int]:
    """Ansible's batching: each ``serial`` entry in turn, the last one repeating; a
    percentage is of all hosts, at least one host; 0 or nothing means one batch."""
    if total == 0:
        return []
    if not serial:
        return [total]
    sizes: list[int] = []
    remaining, index = total, 0
    while remaining > 0:
        entry = serial[min(index, len(serial) - 1)]
        size = _resolve(entry, total)
        size = remaining if size <= 0 and entry in (0, "0%") else max(1, size)
        size = min(size, remaining)
        sizes.append(size)
        remaining -= size
        index += 1
    return sizes


@dataclass(frozen=True)
class FanOut:
    """Per-host fields in host order (hosts not run included), the batches as run,
    and why the rollout stopped early (None when every host was attempted)."""

    hosts: dict[str, dict[str, Any]]
    batches: list[list[str]] = field(default_factory=list)
    stopped: str | None = None


async def fan_out(
    hosts: Sequence[Host],
    rollout: Rollout,
    run_one: Callable[[Host], Awaitable[dict[str, Any]]],
    not_run: Callable[[Host, str], dict[str, Any]],
    failed: Callable[[Mapping[str, Any]], bool] = host_failed,
) -> FanOut:
    """Run ``run_one`` per host under ``rollout``; ``not_run(host, why)`` builds the
    fields of a host the rollout never reached."""
    import asyncio
    total = len(hosts)
    gate = asyncio.Semaphore(rollout.concurrency(total))
    budget = rollout.error_budget(total)
    results: dict[str, dict[str, Any]] = {}
    errors = 0
    stopped: str | None = None
    batches: list[list[str]] = []

    async def attempt(host: Host) -> None:
        nonlocal errors, stopped
        async with gate:
            if stopped is not None:
                results[host.name] = not_run(host, stopped)
                return
            fields = await run_one(host)
            results[host.name] = fields
            if failed(fields):
                errors += 1
                if budget is not None and errors > budget and stopped is None:
                    stopped = f"max_errors {rollout.max_errors} exceeded ({errors} hosts failed)"

    start = 0
    for number, size in enumerate(batch_sizes(total, rollout.serial), 1):
        batch = list(hosts[start : start + size])
        start += size
        if stopped is not None:
            for host in batch:
                results[host.name] = not_run(host, stopped)
            continue
        batches.append([h.name for h in batch])
        await asyncio.gather(*(attempt(h) for h in batch))
        ran = [results[h.name] for h in batch if not results[h.name].get("skipped")]
        bad = sum(1 for f in ran if failed(f))
        if stopped is None and bad:
            percent = 100.0 * bad / len(batch)
            if rollout.max_fail_percentage is not None and percent > rollout.max_fail_percentage:
                stopped = (
                    f"batch {number} had {bad} of {len(batch)} hosts failed "
                    f"({percent:.0f}% > max_fail_percentage {rollout.max_fail_percentage:g})"
                )
            elif bad == len(batch) and start < total:
                stopped = f"every host of batch {number} failed"
    return FanOut(hosts={h.name: results[h.name] for h in hosts}, batches=batches, stopped=stopped)

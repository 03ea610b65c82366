"""The ``monitor`` executor: sample a probe over a window and let the engine judge
every sample against the decision matrix.

``monitor: {for: 15m, every: 30s, probe: {http: …}}`` runs the probe (any executor,
through the engine's dispatch in ``call.services.probe``) every ``every`` for
``for``; after each sample it calls ``call.services.on_sample``, which evaluates the
decisions (so ``probe.latency_p95 > 2 * baseline.latency_p95`` with ``after: 10m``
works) and says whether to stop early. ``baseline`` is the mapping given under
``baseline:`` or, without it, the first sample. A probe on many hosts also gives
``peak``, the worst host's value of every number (``probe.peak.queue_depth``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from runbook_engine.display import value_text
from runbook_engine.durations import format_duration, parse_duration
from runbook_engine.errors import ExecutorError
from runbook_engine.executors.base import ExecutorBase, Result, StepCall

#: Samples kept in the result; older ones are dropped (counted in ``sample_count``).
MAX_SAMPLES = 1000

_DURATION = {
    "anyOf": [
        {"type": "number", "minimum": 0},
        {
            "type": "string",
            "pattern": r"^\s*((\d+(\.\d+)?(ms|s|m|h|d))+|\d+(\.\d+)?|\{\{.*\}\})\s*$",
        },
    ]
}


def _numbers(sample: Mapping[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in sample.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def trend(samples: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Least-squares slope per second of every numeric field over the samples."""
    series: dict[str, list[tuple[float, float]]] = {}
    for sample in samples:
        at = float(sample.get("at", 0.0))
        for name, value in _numbers(sample).items():
            if name != "at":
                series.setdefault(name, []).append((at, value))
    slopes: dict[str, float] = {}
    for name, points in series.items():
        if len(points) < 2:
            slopes[name] = 0.0
            continue
        mean_t = sum(t for t, _ in points) / len(points)
        mean_v = sum(v for _, v in points) / len(points)
        spread = sum((t - mean_t) ** 2 for t, _ in points)
        slopes[name] = (
            0.0 if spread == 0 else sum((t - mean_t) * (v - mean_v) for t, v in points) / spread
        )
    return slopes


def summarize(samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The result fields: samples, first, last, max, min (per numeric field), trend."""
    maxima: dict[str, float] = {}
    minima: dict[str, float] = {}
    for sample in samples:
        for name, value in _numbers(sample).items():
            maxima[name] = max(value, maxima.get(name, value))
            minima[name] = min(value, minima.get(name, value))
    return {
        "samples": list(samples),
        "first": dict(samples[0]) if samples else {},
        "last": dict(samples[-1]) if samples else {},
        "max": maxima,
        "min": minima,
        "trend": trend(samples),
    }


class MonitorExecutor(ExecutorBase):
    """Watches a probe over a window (post-deploy performance, error rates)."""

    key: ClassVar[str] = "monitor"
    probed_by_plan: ClassVar[bool] = False
    #: A monitor step is what makes ``probe``, ``baseline`` and ``samples`` exist.
    supplies_roots: ClassVar[frozenset[str]] = frozenset({"probe"})
    schema: ClassVar[Mapping[str, Any]] = {
        "description": "Sample a probe every `every` for `for`; decisions are evaluated on each sample.",
        "type": "object",
        "required": ["for", "every", "probe"],
        "additionalProperties": False,
        "properties": {
            "for": _DURATION,
            "every": _DURATION,
            "probe": {
                "type": "object",
                "description": "A step mapping with exactly one executor key.",
            },
            "baseline": {"type": "object"},
            "stop_on_failure": {"type": "boolean"},
        },
    }
    fields: ClassVar[Mapping[str, str]] = {
        "samples": "list",
        "first": "map",
        "last": "map",
        "max": "map",
        "min": "map",
        "trend": "map",
        "sample_count": "int",
        "failed_samples": "int",
        "stopped_early": "bool",
        "duration": "duration",
    }

    def _parse(
        self, call: StepCall
    ) -> tuple[float, float, Mapping[str, Any], Mapping[str, Any] | None, bool]:
        spec = call.spec
        if not isinstance(spec, Mapping) or not {"for", "every", "probe"} <= set(spec):
            raise ExecutorError(
                "monitor: needs 'for', 'every' and 'probe'",
                hint="monitor: {for: 15m, every: 30s, probe: {http: …}}",
            )
        try:
            window = parse_duration(call.render(spec["for"], None))
            every = parse_duration(call.render(spec["every"], None))
        except ValueError as exc:
            raise ExecutorError(f"monitor: {exc}") from None
        if every <= 0:
            raise ExecutorError("monitor: 'every' must be more than 0")
        probe = spec["probe"]
        if not isinstance(probe, Mapping):
            raise ExecutorError("monitor: 'probe' must be a step mapping such as {http: {url: …}}")
        baseline = call.render(spec["baseline"], None) if spec.get("baseline") is not None else None
        return window, every, probe, baseline, bool(spec.get("stop_on_failure", False))

    async def run(self, call: StepCall) -> Result:
        import asyncio
        window, every, probe_spec, baseline, stop_on_failure = self._parse(call)
        run_probe = call.services.probe
        on_sample = call.services.on_sample
        if run_probe is None:
            raise ExecutorError(
                "monitor needs the engine's probe dispatch (run it with `runbook run`)"
            )
        started = time.monotonic()
        samples: list[dict[str, Any]] = []
        failed = 0
        count = 0
        stopped = False
        while True:
            result = await run_probe(probe_spec)
            count += 1
            sample = {
                **_numbers_and_text(result.fields),
                **_peak(result.hosts),
                "ok": result.ok,
                "at": round(time.monotonic() - started, 3),
            }
            if not result.ok:
                failed += 1
                sample["error"] = result.error
            samples.append(sample)
            del samples[:-MAX_SAMPLES]
            base = baseline if baseline is not None else samples[0]
            call.log(f"sample {count}: {format_sample(sample)}", None)
            if on_sample is not None and on_sample(sample, base, list(samples)):
                stopped = True
                break
            if stop_on_failure and not result.ok:
                stopped = True
                break
            # samples are due at 0, every, 2·every, … up to and including the window's
            # end, on the schedule (not after the last one's finish), so they do not drift
            due = every * count
            if due > window + 1e-9:
                break
            await asyncio.sleep(max(0.0, due - (time.monotonic() - started)))
        fields = {
            **summarize(samples),
            "sample_count": count,
            "failed_samples": failed,
            "stopped_early": stopped,
            "duration": time.monotonic() - started,
        }
        error = f"{failed} of {count} samples failed" if failed else None
        return Result(ok=failed == 0, fields=fields, error=error, duration=fields["duration"])

    def describe(self, call: StepCall) -> list[str]:
        window, every, probe, _, _ = self._parse(call)
        return [
            f"monitor for {format_duration(window)}, a sample every {format_duration(every)}; "
            f"probe: {value_text(probe)}"
        ]


def _numbers_and_text(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Scalar fields of a probe result (no whole bodies) form a sample."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if isinstance(value, bool | int | float) or isinstance(value, str) and len(value) <= 200:
            out[name] = value
        elif isinstance(value, Mapping) and name == "json":
            out[name] = {k: v for k, v in value.items() if isinstance(v, bool | int | float | str)}
    return out


def _peak(hosts: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """For a probe on many hosts, ``peak``: the largest value over the hosts of every
    number a host reported (its own fields and those of its JSON body), so that
    ``probe.peak.queue_depth`` is the worst host's backlog."""
    peak: dict[str, float] = {}
    for fields in hosts.values():
        body = fields.get("json")
        numbers = {**_numbers(fields), **(_numbers(body) if isinstance(body, Mapping) else {})}
        for name, value in numbers.items():
            peak[name] = max(value, peak.get(name, value))
    return {"peak": peak} if peak else {}


_NOT_SHOWN = frozenset({"at", "stdout", "stderr", "text", "truncated", "url", "headers", "json", "peak"})


def format_sample(sample: Mapping[str, Any]) -> str:
    """One sample as an operator reads it: ``status=200 latency=12ms failed=0``."""
    parts = []
    for name, value in sample.items():
        if name in _NOT_SHOWN or isinstance(value, dict | list):
            continue
        if name in ("latency", "duration") and isinstance(value, int | float) and not isinstance(value, bool):
            shown = format_duration(float(value))
        elif isinstance(value, float):
            shown = f"{value:.3g}"
        else:
            shown = str(value)
        parts.append(f"{name}={shown}")
    return " ".join(parts)

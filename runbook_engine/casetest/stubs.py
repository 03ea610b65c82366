"""The executors of a test run: each step key's stand-in returns the case's stubbed
result and records what the step would have done (its rendered command, the
notification it would have sent). Nothing here opens a connection or a process.

A step that runs without a stub fails with a clear error and is reported as a
missing stub; it is never executed for real. ``notify`` and ``wait`` need no stub
(a notification is recorded, a wait advances the simulated clock); ``manual`` steps
use the real manual executor, which only talks to the run's operator.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runbook_engine.casetest.cases import Case, StubResult
from runbook_engine.durations import parse_duration
from runbook_engine.errors import RunbookError
from runbook_engine.executors.base import Result, StepCall
from runbook_engine.executors.monitor import summarize
from runbook_engine.executors.registry import executor_class
from runbook_engine.vocabulary import host_failed


class SimulatedClock:
    """The test run's time: starts at 0 and moves only when a stub, a retry delay or
    a monitor interval says so, so a 10-minute decision window takes no real time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, float(seconds))
        await asyncio.sleep(0)


@dataclass(frozen=True)
class Notification:
    step: str
    channel: str
    message: str
    subject: str | None = None


@dataclass
class Recorder:
    """What the stand-ins saw: per step, the attempts made and the lines each attempt
    would have run; the notifications; the steps that ran without a stub."""

    attempts: dict[str, int] = field(default_factory=dict)
    commands: dict[str, list[str]] = field(default_factory=dict)
    notifications: list[Notification] = field(default_factory=list)
    #: Why a step that ran could not be stubbed (it failed, nothing was executed).
    missing: list[str] = field(default_factory=list)
    #: Monitor step → number of the sample being judged (for decisions it fires).
    samples: dict[str, int] = field(default_factory=dict)

    def attempt(self, step_id: str) -> int:
        self.attempts[step_id] = self.attempts.get(step_id, 0) + 1
        return self.attempts[step_id]


class StubLayer:
    """``executor_factory`` of the test run's `RunContext`."""

    def __init__(self, case: Case, clock: SimulatedClock) -> None:
        self.case = case
        self.clock = clock
        self.recorder = Recorder()

    def __call__(self, key: str) -> Any:
        try:
            real: Any = executor_class(key)()
        except RunbookError:
            real = None  # a key no plugin provides: there is nothing to describe
        if key == "manual":
            return _ManualOrStub(self, key, real)
        return StubExecutor(self, key, real)


class StubExecutor:
    """One step key's stand-in."""

    def __init__(self, layer: StubLayer, key: str, real: Any) -> None:
        self.layer = layer
        self.key = key
        self.real = real

    def describe(self, call: StepCall) -> list[str]:
        if self.real is None:
            return []
        try:
            return [str(line) for line in self.real.describe(call)]
        except Exception as exc:  # a describe that cannot render must not fail the step
            return [f"(not renderable: {exc})"]

    async def close(self) -> None:
        return None

    async def run(self, call: StepCall) -> Result:
        layer, step_id = self.layer, call.step_id
        attempt = layer.recorder.attempt(step_id)
        layer.recorder.commands[step_id] = self.describe(call)
        stub = layer.case.stubs.get(step_id)
        if stub is None:
            if self.key == "notify":
                return self._notify(call)
            if self.key == "wait":
                return await self._wait(call)
            error = f"no stub for step {step_id!r} (attempt {attempt}); nothing was executed"
            layer.recorder.missing.append(error)
            return Result(ok=False, error=f"runbook test: {error}")
        result = stub.for_attempt(attempt)
        await layer.clock.sleep(result.duration)
        if self.key == "monitor":
            return await self._monitor(call, result)
        built = stubbed_result(result, [h.name for h in call.hosts])
        if built is None:
            names = ", ".join(h.name for h in call.hosts if h.name not in result.hosts)
            error = f"the stub of {step_id!r} gives no result for host(s) {names} (add all: or hosts:); nothing was executed"
            layer.recorder.missing.append(error)
            return Result(ok=False, error=f"runbook test: {error}")
        if self.key == "notify" and built.fields.get("delivered", True):
            self._record_notification(call)
        return built

    def _notify(self, call: StepCall) -> Result:
        channel = self._record_notification(call)
        return Result(
            ok=True,
            fields={"delivered": True, "channel": channel, "fallback_used": False, "error": None},
        )

    def _record_notification(self, call: StepCall) -> str:
        spec = call.render(call.spec, None)
        spec = spec if isinstance(spec, Mapping) else {}
        channel = str(spec.get("channel", ""))
        self.layer.recorder.notifications.append(
            Notification(
                step=call.step_id,
                channel=channel,
                message=call.redact(str(spec.get("message", ""))),
                subject=call.redact(str(spec["subject"])) if spec.get("subject") else None,
            )
        )
        return channel

    async def _wait(self, call: StepCall) -> Result:
        seconds = parse_duration(call.render(call.spec, None))
        await self.layer.clock.sleep(seconds)
        return Result(ok=True, fields={"waited": seconds}, duration=seconds)

    async def _monitor(self, call: StepCall, stub: StubResult) -> Result:
        """The real monitor's loop on simulated time: one stubbed sample every
        ``every`` (the last one repeats) until ``for`` is over or a decision stops it."""
        spec = call.spec if isinstance(call.spec, Mapping) else {}
        window = parse_duration(call.render(spec.get("for", 0), None))
        every = max(parse_duration(call.render(spec.get("every", 1), None)), 1e-6)
        baseline = call.render(spec["baseline"], None) if spec.get("baseline") is not None else None
        on_sample = call.services.on_sample
        given = stub.samples or ({},)
        started = self.layer.clock()
        samples: list[dict[str, Any]] = []
        failed = 0
        stopped = False
        count = 0
        while True:
            raw = dict(given[min(count, len(given) - 1)])
            count += 1
            ok = bool(raw.pop("ok", True))
            sample = {**raw, "ok": ok, "at": round(self.layer.clock() - started, 3)}
            if not ok:
                failed += 1
            samples.append(sample)
            base = baseline if baseline is not None else samples[0]
            self.layer.recorder.samples[call.step_id] = count
            if callable(on_sample) and on_sample(sample, base, list(samples)):
                stopped = True
                break
            if spec.get("stop_on_failure") and not ok:
                stopped = True
                break
            if self.layer.clock() - started + every > window + 1e-9:
                break
            await self.layer.clock.sleep(every)
        elapsed = self.layer.clock() - started
        fields = {
            **summarize(samples),
            "sample_count": count,
            "failed_samples": failed,
            "stopped_early": stopped,
            "duration": elapsed,
            **stub.fields,
        }
        ok = failed == 0 if stub.ok is None else stub.ok
        error = stub.error or (f"{failed} of {count} samples failed" if failed else None)
        return Result(ok=ok, fields=fields, error=None if ok else error, duration=elapsed)


class _ManualOrStub(StubExecutor):
    """A manual step: its stub if the case gives one, else the real gate (which asks
    the test run's operator and nobody else)."""

    async def run(self, call: StepCall) -> Result:
        if call.step_id in self.layer.case.stubs or self.real is None:
            return await super().run(call)
        self.layer.recorder.attempt(call.step_id)
        self.layer.recorder.commands[call.step_id] = self.describe(call)
        result: Result = await self.real.run(call)
        return result


def stubbed_result(stub: StubResult, targeted: list[str]) -> Result | None:
    """The `Result` a stub stands for, for the hosts the step targets (None when a
    targeted host has no stubbed fields). A fan-out's top-level fields default to
    the worst ``rc`` and the counts of failed and unreachable hosts."""
    hosts: dict[str, dict[str, Any]] = {}
    if targeted:
        for name in targeted:
            if name not in stub.hosts and stub.all is None:
                return None
            hosts[name] = {**(stub.all or {}), **stub.hosts.get(name, {})}
    else:
        hosts = {name: {**(stub.all or {}), **fields} for name, fields in stub.hosts.items()}
    fields: dict[str, Any] = {}
    if hosts:
        rcs = [f["rc"] for f in hosts.values() if isinstance(f.get("rc"), int)]
        if rcs:
            fields["rc"] = max(rcs, key=abs)
        fields["failed"] = sum(1 for f in hosts.values() if host_failed(f))
        fields["unreachable"] = sum(1 for f in hosts.values() if f.get("unreachable"))
    fields.update(stub.fields)
    if "rc" in fields and "exit_code" not in fields:
        fields["exit_code"] = fields["rc"]
    ok = stub.ok
    if ok is None:
        ok = not any(host_failed(f) for f in hosts.values()) and fields.get("rc") in (0, None)
    error = stub.error if stub.error is not None else (None if ok else "stubbed failure")
    return Result(ok=ok, fields=fields, hosts=hosts, error=error, duration=stub.duration)

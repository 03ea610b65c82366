"""A case's ``expect:`` against what the run did: one `Failure` per assertion that
does not hold, positioned at the assertion in the case file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runbook_engine.casetest.cases import Case
from runbook_engine.casetest.runner import Observation
from runbook_engine.durations import format_duration, parse_duration
from runbook_engine.engine.outcome import EXIT_CODES
from runbook_engine.errors import Span


@dataclass(frozen=True)
class Failure:
    message: str
    span: Span | None = None

    def __str__(self) -> str:
        return f"{self.span}: {self.message}" if self.span else self.message


def _texts(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _match(text: str, rule: Mapping[str, Any]) -> list[str]:
    """What is wrong with ``text`` under a contains/not_contains/equals rule."""
    wrong = [f"does not contain {needle!r}" for needle in _texts(rule.get("contains")) if needle not in text]
    wrong += [f"contains {needle!r}" for needle in _texts(rule.get("not_contains")) if needle in text]
    if "equals" in rule and text != rule["equals"]:
        wrong.append(f"is not equal to {rule['equals']!r}")
    return wrong


def verdict(case: Case, seen: Observation) -> list[Failure]:
    """Every failed assertion of ``case``; a missing stub always fails the case."""
    failures: list[Failure] = []
    expect = case.expect

    def fail(key: str, message: str) -> None:
        failures.append(Failure(message, case.expect_spans.get(key, case.span)))

    for missing in seen.missing_stubs:
        failures.append(Failure(f"missing stub: {missing}", case.span))
    final = seen.final
    if "status" in expect and seen.status != expect["status"]:
        fail("status", f"run ended {seen.status}, expected {expect['status']}")
    if "exit_code" in expect:
        code = seen.exit_code if seen.exit_code is not None else {str(k): v for k, v in EXIT_CODES.items()}.get(seen.status)
        if code != expect["exit_code"]:
            fail("exit_code", f"exit code {code}, expected {expect['exit_code']}")
    for step_id in expect.get("ran") or ():
        if step_id not in seen.started:
            fail("ran", f"step {step_id!r} did not run (final: {final.get(step_id, 'not_run')})")
    for step_id in expect.get("not_ran") or ():
        if step_id in seen.started:
            fail("not_ran", f"step {step_id!r} ran ({final.get(step_id)})")
    for status in ("succeeded", "failed", "skipped", "rolled_back"):
        for step_id in expect.get(status) or ():
            if final.get(step_id) != status:
                fail(status, f"step {step_id!r} ended {final.get(step_id, 'not_run')}, expected {status}")
    for step_id, status in (expect.get("steps") or {}).items():
        if final.get(step_id, "not_run") != status:
            fail("steps", f"step {step_id!r} ended {final.get(step_id, 'not_run')}, expected {status}")
    if "path" in expect:
        failures += _path(case, seen, expect["path"])
    for step_id, count in (expect.get("attempts") or {}).items():
        if seen.attempts.get(step_id, 0) != count:
            fail("attempts", f"step {step_id!r} made {seen.attempts.get(step_id, 0)} attempt(s), expected {count}")
    if "decisions" in expect:
        failures += _decisions(case, seen, expect["decisions"])
    for step_id, rule in (expect.get("commands") or {}).items():
        lines = list(seen.commands.get(step_id, ()))
        if not lines:
            fail("commands", f"step {step_id!r} rendered no command (did it run?)")
            continue
        if rule.get("host"):
            lines = [line for line in lines if line.startswith(f"[{rule['host']}]")]
        text = "\n".join(lines)
        for wrong in _match(text, rule):
            fail("commands", f"command of {step_id!r} {wrong}:\n    {text}")
    for step_id, expected in (expect.get("captures") or {}).items():
        got = seen.captures.get(step_id, {})
        for name, value in expected.items():
            if name not in got:
                fail("captures", f"step {step_id!r} captured no {name!r}")
            elif got[name] != value:
                fail("captures", f"step {step_id!r} captured {name} = {got[name]!r}, expected {value!r}")
    if "notifications" in expect:
        failures += _notifications(case, seen, expect["notifications"])
    return failures


def _path(case: Case, seen: Observation, expected: Sequence[str]) -> list[Failure]:
    """``path:`` entries are ``id`` (any status) or ``id: status``."""
    got = seen.path()
    want = [str(entry) for entry in expected]

    def same(entry: str, wanted: str) -> bool:
        return entry == wanted if ":" in wanted else entry.partition(":")[0] == wanted

    if len(got) == len(want) and all(same(g, w) for g, w in zip(got, want, strict=True)):
        return []
    where = next(
        (
            f" at position {i + 1}: {g!r} where the case expects {w!r}"
            for i, (g, w) in enumerate(zip(got, want, strict=False))
            if not same(g, w)
        ),
        f": {len(got)} step(s) finished, the case expects {len(want)}",
    )
    shown = "\n    ".join(got) or "(none)"
    return [Failure(f"path differs{where}; the run's path:\n    {shown}", case.expect_spans.get("path"))]


def _decisions(case: Case, seen: Observation, expected: Sequence[Any]) -> list[Failure]:
    span = case.expect_spans.get("decisions")
    fired = [d.condition for d in seen.decisions]
    want = [e if isinstance(e, str) else e["condition"] for e in expected]
    if fired != want:
        return [Failure(f"decisions fired: {fired or 'none'}; expected {want or 'none'}", span)]
    failures = []
    for entry, taken in zip(expected, seen.decisions, strict=True):
        if isinstance(entry, str):
            continue
        at = taken.at if taken.at is not None else 0.0
        name = entry["condition"]
        if entry.get("step") and taken.step != entry["step"]:
            failures.append(Failure(f"decision {name!r} fired on {taken.step!r}, expected {entry['step']!r}", span))
        if entry.get("sample") and taken.sample != entry["sample"]:
            failures.append(Failure(f"decision {name!r} fired on sample {taken.sample}, expected {entry['sample']}", span))
        if "not_before" in entry and at < parse_duration(entry["not_before"]) - 1e-9:
            failures.append(Failure(f"decision {name!r} fired at {format_duration(at)}, before {entry['not_before']}", span))
        if "not_after" in entry and at > parse_duration(entry["not_after"]) + 1e-9:
            failures.append(Failure(f"decision {name!r} fired at {format_duration(at)}, after {entry['not_after']}", span))
    return failures


def _notifications(case: Case, seen: Observation, expected: Sequence[Mapping[str, Any]]) -> list[Failure]:
    span = case.expect_spans.get("notifications")
    sent = seen.notifications
    summary = "\n    ".join(f"{n.step} → {n.channel}: {n.message.strip().splitlines()[0] if n.message.strip() else ''}" for n in sent)
    if len(sent) != len(expected):
        return [Failure(f"{len(sent)} notification(s) sent, expected {len(expected)}:\n    {summary or '(none)'}", span)]
    failures = []
    for number, (rule, note) in enumerate(zip(expected, sent, strict=True), start=1):
        if rule.get("step") and note.step != rule["step"]:
            failures.append(Failure(f"notification {number} came from {note.step!r}, expected {rule['step']!r}", span))
        if rule.get("channel") and note.channel != rule["channel"]:
            failures.append(Failure(f"notification {number} went to {note.channel!r}, expected {rule['channel']!r}", span))
        for wrong in _match(note.message, rule):
            failures.append(Failure(f"notification {number} ({note.step}) {wrong}:\n    {note.message.strip()}", span))
    return failures

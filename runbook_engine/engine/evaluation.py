"""The engine's one doorway to the predicate language.

Parses each predicate text once (a 10,000-step run must not re-parse per attempt) and
builds the evaluation context the language expects from what the run knows: the
step's result, the run's vars, every step's status and captures, monitor samples.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from runbook_engine import predicates
from runbook_engine.engine.outcome import StepOutcome
from runbook_engine.errors import PredicateError
from runbook_engine.executors.base import NamedCheck, Result
from runbook_engine.predicates.evaluator import StepIndex
from runbook_engine.vocabulary import STEP_COPIED_RESULT_FIELDS, STEP_STATUS_FIELDS, StepStatus

T = TypeVar("T")


class Evaluator:
    """Parses and evaluates predicates and capture expressions for one run."""

    def __init__(self, checks: Mapping[str, NamedCheck]) -> None:
        self.checks = dict(checks)
        self._parsed: dict[str, Any] = {}

    def parse(self, text: str) -> Any:
        expr = self._parsed.get(text)
        if expr is None:
            expr = predicates.parse(text, checks=self.checks)
            self._parsed[text] = expr
        return expr

    def holds(self, text: str, context: Any) -> bool:
        return bool(predicates.holds(self.parse(text), context))

    def value(self, text: str, context: Any) -> Any:
        return predicates.evaluate_value(self.parse(text), context)


class RunView:
    """What predicates may see of the run so far: vars, steps, probe, baseline."""

    def __init__(
        self,
        values: Mapping[str, Any],
        qualified: Mapping[str, str],
        checks: Mapping[str, NamedCheck],
    ) -> None:
        self.values = values
        self.checks = checks
        self.qualified = qualified  # step id → "<phase>.<id>"
        self.outcomes: dict[str, StepOutcome] = {}
        self.extra_roots: dict[str, Any] = {}
        self._steps_root: dict[str, Any] = {}
        self._status: dict[str, str] = {}
        self._host_failures: dict[str, frozenset[str]] = {}
        self._index = StepIndex(self._status)
        for step_id, qualified_id in qualified.items():
            # every step is visible from the start, so `steps.X.succeeded` is false (not
            # null) and `failed(phase.*)` matches before X has run
            self._steps_root[step_id] = dict(_PENDING)
            self._status[qualified_id] = "pending"

    def record(self, step_id: str, outcome: StepOutcome) -> None:
        """Keep what predicates see up to date, incrementally (a run may have 10,000
        steps: nothing here may walk every step)."""
        self.outcomes[step_id] = outcome
        self._steps_root[step_id] = step_fields(outcome)
        qualified = self.qualified.get(step_id, step_id)
        self._index.changed(qualified, self._status.get(qualified), outcome.status)
        self._status[qualified] = outcome.status
        failed = frozenset(outcome.failed_hosts())
        if failed:
            phase = qualified.partition(".")[0]
            self._host_failures[qualified] = failed
            self._host_failures[phase] = self._host_failures.get(phase, frozenset()) | failed

    def steps_root(self) -> dict[str, Any]:
        return self._steps_root

    def context(self, result: Result | None = None, **roots: Any) -> Any:
        """An `EvalContext` over ``result`` (or none) and the run so far."""
        return predicates.EvalContext(
            fields=result.fields if result is not None else {},
            hosts=result.hosts if result is not None else {},
            roots={"vars": self.values, "steps": self._steps_root, **self.extra_roots, **roots},
            step_status=self._status,
            host_failures=self._host_failures,
            checks=self.checks,
            now=time.time(),
            step_index=self._index,
        )


def _status_fields(status: StepStatus, attempts: int) -> dict[str, Any]:
    """`vocabulary.STEP_STATUS_FIELDS` for one step."""
    fields: dict[str, Any] = {
        "status": status,
        "succeeded": status in ("succeeded", "rolled_back"),  # it did run to success
        "failed": status == "failed",
        "skipped": status == "skipped",
        "cancelled": status == "cancelled",
        "rolled_back": status == "rolled_back",
        "attempts": attempts,
    }
    assert fields.keys() == STEP_STATUS_FIELDS.keys()
    return fields


_PENDING: dict[str, Any] = _status_fields("pending", 0)


def step_fields(outcome: StepOutcome) -> dict[str, Any]:
    """``steps.<id>.…`` in templates and predicates: status words, rc, captures."""
    fields = _status_fields(outcome.status, outcome.attempts)
    if outcome.result is not None:
        for name in STEP_COPIED_RESULT_FIELDS:
            if name in outcome.result.fields:
                fields.setdefault(name, outcome.result.fields[name])
        fields["hosts"] = {
            name: {**host_fields, **outcome.host_captures.get(name, {})}
            for name, host_fields in outcome.result.hosts.items()
        }
    fields.update(outcome.captures)
    return fields


def safe_holds(evaluator: Evaluator, text: str, context: Any) -> tuple[bool, str | None]:
    """(holds, why not evaluable) — for decisions, where a predicate naming a value
    that does not exist yet (``probe`` before any monitor) simply does not hold."""
    try:
        return evaluator.holds(text, context), None
    except PredicateError as exc:
        return False, exc.message


async def off_loop(work: Callable[[], T]) -> T:
    """``work()`` in a daemon thread, awaited without blocking the event loop, so a long
    predicate evaluation leaves the loop free for the step timeout and for SIGTERM.

    Not `asyncio.to_thread`: its executor's threads are joined when the run's loop
    closes and when Python exits, so an evaluation the runner gave up on would still
    hold the runner's exit. A thread cannot be stopped; an abandoned one finishes on
    its own (RE2 keeps every evaluation linear in its input) with its answer dropped."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(value: T | None, error: BaseException | None) -> None:
        if future.done():  # the awaiting side timed out or was cancelled
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)  # type: ignore[arg-type]

    def run() -> None:
        try:
            value, error = work(), None
        except BaseException as exc:  # handed to the awaiting side, raised there
            value, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            loop.call_soon_threadsafe(settle, value, error)

    threading.Thread(target=run, name="predicate", daemon=True).start()
    return await future

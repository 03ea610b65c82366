"""The rollback decision matrix, evaluated after every step and on every monitor sample.

A decision with ``after:`` (a duration, or ``{{ name }}`` of a duration var) is a
window: its condition must keep holding on every
evaluation from the first time it held until ``after`` seconds have passed; one
evaluation where it does not hold closes the window. ``warn``/``investigate`` are
recorded (once each time their condition starts holding) and never stop the run.

A decision that cannot be evaluated (a type error, a field its step does not have)
never counts as "does not hold" in silence: it is reported as `Unevaluable` each time
it starts failing, and the run journals, shows and counts it. Only a decision on a
root that is not there yet (``probe`` before the first monitor sample) simply waits.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from runbook_engine import predicates
from runbook_engine.engine.evaluation import Evaluator, safe_holds
from runbook_engine.journal import events
from runbook_engine.model import Decision
from runbook_engine.vocabulary import PREDICATE_ROOTS

#: Actions that stop the forward run.
STOPPING = frozenset({"rollback", "abort"})


@dataclass(frozen=True)
class DecisionTaken:
    """A decision whose condition held (for long enough): what to do and why."""

    decision: Decision
    evidence: Mapping[str, Any]
    step: str | None

    @property
    def action(self) -> str:
        return self.decision.action

    def event(self) -> events.Decision:
        return events.Decision(
            condition=self.decision.condition,
            severity=self.decision.severity,
            action=self.decision.action,
            evidence=dict(self.evidence),
            step=self.step,
        )


@dataclass(frozen=True)
class Unevaluable:
    """A decision whose condition could not be evaluated, and why."""

    decision: Decision
    error: str
    step: str | None

    def event(self) -> events.DecisionUnevaluable:
        return events.DecisionUnevaluable(
            condition=self.decision.condition,
            when=self.decision.when,
            severity=self.decision.severity,
            action=self.decision.action,
            error=self.error,
            step=self.step,
        )


@dataclass
class _Window:
    since: float
    first_evidence: Mapping[str, Any] = field(default_factory=dict)


class DecisionMatrix:
    """Tracks which decisions hold, which windows are open, which fired."""

    def __init__(
        self,
        decisions: Sequence[Decision],
        evaluator: Evaluator,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.decisions = tuple(decisions)
        self.evaluator = evaluator
        self.clock = clock
        self._windows: dict[int, _Window] = {}
        self._resolved: dict[int, Decision] = {}  # decisions whose window is a var
        self._holding: set[int] = set()
        self._fired: set[int] = set()
        self._failing: set[int] = set()
        self._unevaluable: list[Unevaluable] = []
        self._waits_for = [self._optional_roots(d.when) for d in self.decisions]

    def _optional_roots(self, text: str) -> frozenset[str]:
        """Roots the condition names that a run supplies only later (``probe``)."""
        try:
            expr = self.evaluator.parse(text)
        except Exception:  # lint reports it; at run time evaluation says why
            return frozenset()
        return frozenset(
            node.root
            for node in predicates.walk(expr)
            if isinstance(node, predicates.Path)
            and node.root in PREDICATE_ROOTS
            and PREDICATE_ROOTS[node.root].needs is not None
        )

    def drain_unevaluable(self) -> list[Unevaluable]:
        """Decisions that started failing to evaluate since the last call."""
        found, self._unevaluable = self._unevaluable, []
        return found

    def evaluate(
        self, context: Any, evidence: Mapping[str, Any], step: str | None
    ) -> list[DecisionTaken]:
        """Evaluate every decision once; return those taken now."""
        taken: list[DecisionTaken] = []
        now = self.clock()
        for index, decision in enumerate(self.decisions):
            if index in self._fired:
                continue
            holds, why = safe_holds(self.evaluator, decision.when, context)
            roots = getattr(context, "roots", {})
            waiting = any(name not in roots for name in self._waits_for[index])
            if why is not None and not waiting:
                if index not in self._failing:
                    self._failing.add(index)
                    self._unevaluable.append(Unevaluable(decision, why, step))
            else:
                self._failing.discard(index)
            if not holds:
                self._holding.discard(index)
                self._windows.pop(index, None)
                continue
            if decision.action not in STOPPING:
                if index not in self._holding:
                    self._holding.add(index)
                    taken.append(DecisionTaken(decision, {**evidence, "when": decision.when}, step))
                continue
            decision = self._resolve(index, decision, context)
            if decision.after:
                window = self._windows.setdefault(
                    index, _Window(since=now, first_evidence=evidence)
                )
                held = now - window.since
                if held < decision.after:
                    continue
                evidence = {
                    **evidence,
                    "held_for": round(held, 3),
                    "window": decision.after,
                    "first": dict(window.first_evidence),
                }
            self._fired.add(index)
            taken.append(DecisionTaken(decision, {**evidence, "when": decision.when}, step))
        return taken

    def _resolve(self, index: int, decision: Decision, context: Any) -> Decision:
        """The decision with ``after`` set from its var (``after: "{{ name }}"``)."""
        if decision.after_var is None:
            return decision
        if index not in self._resolved:
            values = self.evaluator.value("vars", context)
            window = decision.window(values if isinstance(values, Mapping) else {})
            self._resolved[index] = replace(decision, after=window)
        return self._resolved[index]

    def open_windows(self) -> list[tuple[Decision, float]]:
        """Windows still open (condition holding, not yet long enough)."""
        now = self.clock()
        return [
            (self._resolved.get(i, self.decisions[i]), now - w.since)
            for i, w in self._windows.items()
            if i not in self._fired
        ]

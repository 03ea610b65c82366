"""The step graph: phases run in order (each phase waits for the whole previous one),
steps of a phase run in written order unless ``needs:`` says otherwise, and steps
whose needs are satisfied together run concurrently."""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field

from runbook_engine.errors import ValidationError
from runbook_engine.model import Runbook, Step


@dataclass
class StepGraph:
    """Which step needs which, with each step's position in the file."""

    steps: dict[str, Step]
    deps: dict[str, frozenset[str]]
    position: dict[str, int] = field(default_factory=dict)

    def predecessors(self, step_id: str) -> frozenset[str]:
        return self.deps[step_id]

    def ancestors(self, step_id: str) -> set[str]:
        """Every step that has finished whenever ``step_id`` starts."""
        seen: set[str] = set()
        stack = list(self.deps[step_id])
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(self.deps[current])
        return seen

    def order(self) -> list[Step]:
        """A topological order that keeps the written order wherever it can."""
        indegree = {sid: len(deps) for sid, deps in self.deps.items()}
        children: dict[str, list[str]] = {sid: [] for sid in self.deps}
        for sid, deps in self.deps.items():
            for dep in deps:
                children[dep].append(sid)
        heap = [(self.position[sid], sid) for sid, n in indegree.items() if n == 0]
        heapq.heapify(heap)
        result: list[Step] = []
        while heap:
            _, sid = heapq.heappop(heap)
            result.append(self.steps[sid])
            for child in children[sid]:
                indegree[child] -= 1
                if indegree[child] == 0:
                    heapq.heappush(heap, (self.position[child], child))
        if len(result) != len(self.steps):
            stuck = sorted((sid for sid, n in indegree.items() if n > 0), key=self.position.__getitem__)
            raise ValidationError(f"dependency cycle among steps: {', '.join(stuck)}", span=self.steps[stuck[0]].span, rule="RB106")
        return result

    def ready(self, done: Iterable[str], started: Iterable[str] = ()) -> list[Step]:
        """Steps whose dependencies are all done and that have not started."""
        done_set, started_set = set(done), set(started)
        return [
            self.steps[sid]
            for sid in sorted(self.deps, key=self.position.__getitem__)
            if sid not in done_set and sid not in started_set and self.deps[sid] <= done_set
        ]


def graph_findings(runbook: Runbook) -> tuple[StepGraph, list[ValidationError]]:
    """Build the graph and report every problem instead of stopping at the first."""
    findings: list[ValidationError] = []
    steps: dict[str, Step] = {}
    phase_index: dict[str, int] = {}
    position: dict[str, int] = {}
    for p, phase in enumerate(runbook.phases):
        for step in phase.steps:
            if step.id in steps:
                first = steps[step.id]
                findings.append(
                    ValidationError(f"duplicate step id {step.id!r} (first at line {first.span.line if first.span else '?'})",
                                    span=step.key_spans.get("id", step.span), rule="RB104")
                )
                continue
            steps[step.id] = step
            phase_index[step.id] = p
            position[step.id] = len(position)
    rollback_ids: set[str] = set()
    for step in runbook.rollback:
        if step.id in steps or step.id in rollback_ids:
            findings.append(ValidationError(f"duplicate step id {step.id!r}", span=step.key_spans.get("id", step.span), rule="RB104"))
        rollback_ids.add(step.id)
    seen_phases: set[str] = set()
    for phase in runbook.phases:
        if phase.id in seen_phases:
            findings.append(ValidationError(f"duplicate phase id {phase.id!r}", span=phase.span, rule="RB109"))
        seen_phases.add(phase.id)

    deps: dict[str, frozenset[str]] = {}
    for p, phase in enumerate(runbook.phases):
        barrier = frozenset(s.id for s in runbook.phases[p - 1].steps if steps.get(s.id) is s) if p else frozenset()
        previous: str | None = None
        for step in phase.steps:
            if steps.get(step.id) is not step:
                continue
            if step.needs is None:
                deps[step.id] = frozenset({previous}) if previous else barrier
            else:
                wanted: set[str] = set()
                for need in step.needs:
                    span = step.key_spans.get("needs", step.span)
                    if need in rollback_ids:
                        findings.append(ValidationError(f"step {step.id!r} needs rollback step {need!r}, which only runs during rollback", span=span, rule="RB107"))
                    elif need not in steps:
                        findings.append(ValidationError(f"step {step.id!r} needs unknown step {need!r}", span=span, hint=_close(need, steps), rule="RB105"))
                    elif phase_index[need] > p:
                        findings.append(ValidationError(f"step {step.id!r} needs {need!r}, which is in a later phase and can never have run", span=span, rule="RB107"))
                    elif need == step.id:
                        findings.append(ValidationError(f"step {step.id!r} needs itself", span=span, rule="RB106"))
                    else:
                        wanted.add(need)
                deps[step.id] = frozenset(wanted) | barrier
            previous = step.id
    graph = StepGraph(steps=steps, deps=deps, position=position)
    for step in runbook.all_steps():
        if step.goto is not None and step.goto not in steps and step.goto not in rollback_ids:
            findings.append(ValidationError(f"on_failure goto unknown step {step.goto!r}", span=step.key_spans.get("on_failure", step.span), hint=_close(step.goto, steps), rule="RB105"))
    if not any(f.rule == "RB106" for f in findings):
        try:
            graph.order()
        except ValidationError as exc:
            findings.append(exc)
    return graph, findings


def build_graph(runbook: Runbook) -> StepGraph:
    """The graph, or the first problem as a ``ValidationError``."""
    graph, findings = graph_findings(runbook)
    if findings:
        raise findings[0]
    return graph


def _close(name: str, known: Iterable[str]) -> str | None:
    import difflib

    match = difflib.get_close_matches(name, list(known), n=1)
    return f"did you mean {match[0]!r}?" if match else None

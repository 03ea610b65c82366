"""The runbook draft while it is being assembled from the Markdown.

Mutable on purpose: sections fill it in one after the other (a phase gains steps, a
step gains expectations from the paragraphs after its fence). `emit` turns the
finished draft into YAML; nothing else reads these objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class DraftStep:
    title: str
    executor: str
    spec: Any
    line: int
    hosts: str | None = None
    description: list[str] = field(default_factory=list)
    #: Predicates joined with ``and``; each one was checked against the executor.
    expect: list[str] = field(default_factory=list)
    #: The procedure's own words behind ``expect``, kept as comments for review.
    expect_sources: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    todos: list[str] = field(default_factory=list)
    on_failure: str | None = None
    id: str = ""
    #: Words the id is made from when the title is long (a command group's comment).
    id_hint: str = ""
    #: Set for commands the importer may still merge with the next plain command.
    mergeable: bool = False

    def add_todo(self, text: str) -> None:
        if text not in self.todos:
            self.todos.append(text)


@dataclass
class DraftPhase:
    title: str
    line: int
    budget: str | None = None
    downtime: str | None = None
    description: list[str] = field(default_factory=list)
    steps: list[DraftStep] = field(default_factory=list)
    todos: list[str] = field(default_factory=list)
    id: str = ""


@dataclass
class DraftDecision:
    condition: str
    when: str
    severity: str | None
    action: str
    after: str | None = None
    description: str | None = None
    comments: list[str] = field(default_factory=list)
    todos: list[str] = field(default_factory=list)


@dataclass
class Draft:
    title: str
    name: str
    description: str | None = None
    owners: list[str] = field(default_factory=list)
    frequency: str | None = None
    window: dict[str, str] = field(default_factory=dict)
    vars: dict[str, dict[str, Any]] = field(default_factory=dict)
    inventory: str | None = None
    prerequisites: list[str] = field(default_factory=list)
    phases: list[DraftPhase] = field(default_factory=list)
    rollback: DraftPhase | None = None
    decisions: list[DraftDecision] = field(default_factory=list)
    notify: dict[str, dict[str, str]] = field(default_factory=dict)
    success: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    #: TODOs that belong to the runbook as a whole (top of the file).
    todos: list[str] = field(default_factory=list)
    success_todos: list[str] = field(default_factory=list)
    source: str = ""

    def all_steps(self) -> list[DraftStep]:
        steps = [step for phase in self.phases for step in phase.steps]
        if self.rollback is not None:
            steps.extend(self.rollback.steps)
        return steps

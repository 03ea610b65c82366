"""The runbook format as typed, immutable objects (docs/format.md).

``build_runbook`` turns a schema-valid ``Document`` into a ``Runbook``; every object
keeps the spans of its keys so later checks (graph, templates, predicates) can point
at the exact place in the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from runbook_engine.durations import parse_duration
from runbook_engine.errors import Span, ValidationError
from runbook_engine.loader import Document, escape

#: Keys every step may carry; any other key is an executor key.
COMMON_STEP_KEYS = frozenset(
    {
        "id", "title", "description", "when", "needs", "hosts", "expect", "capture", "timeout",
        "retries", "delay", "backoff", "until", "on_failure", "critical", "undo", "idempotent",
        "tags", "secret_output", "forks", "serial", "max_fail_percentage", "max_concurrency",
        "max_errors", "check", "changes",
    }
)
FANOUT_KEYS = ("forks", "serial", "max_fail_percentage", "max_concurrency", "max_errors")


@dataclass(frozen=True)
class Window:
    """When the runbook may run and for how long (``window:``)."""

    max_duration: float | None = None
    downtime_budget: float | None = None
    not_before: str | None = None
    not_after: str | None = None
    timezone: str = "UTC"
    schedule: str | None = None


@dataclass(frozen=True)
class VarSpec:
    """One declared var: its type and the rules a value must meet."""

    name: str
    type: str = "string"
    required: bool = False
    default: Any = None
    pattern: str | None = None
    choices: tuple[Any, ...] | None = None
    env: str | None = None
    secret: bool = False
    description: str = ""
    span: Span | None = None

    @property
    def has_default(self) -> bool:
        return self.default is not None


@dataclass(frozen=True)
class Step:
    """One step as the engine runs it: the executor's spec plus the common keys."""

    id: str
    phase: str
    executor: str
    spec: Any
    title: str = ""
    description: str = ""
    when: str | None = None
    needs: tuple[str, ...] | None = None
    hosts: str | None = None
    expect: str | None = None
    capture: Mapping[str, str] = field(default_factory=dict)
    timeout: float | None = None
    retries: int = 0
    delay: float = 0.0
    backoff: float = 1.0
    until: str | None = None
    on_failure: str = "abort"
    goto: str | None = None
    critical: bool = False
    undo: Step | None = None
    idempotent: bool = False
    tags: tuple[str, ...] = ()
    secret_output: bool = False
    #: What the author says the step does to the world: False = only reads,
    #: True = changes something, None = let its executor tell (engine/effects.py).
    changes: bool | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    span: Span | None = None
    key_spans: Mapping[str, Span] = field(default_factory=dict)
    pointer: str = ""

    @property
    def qualified_id(self) -> str:
        return f"{self.phase}.{self.id}"

    @property
    def label(self) -> str:
        return self.title or self.id


@dataclass(frozen=True)
class Prerequisite:
    """A prerequisite: text an operator confirms, or a check that runs a step."""

    text: str
    step: Step | None = None
    span: Span | None = None

    @property
    def manual(self) -> bool:
        return self.step is None

    def as_step(self, index: int) -> Step:
        """The step that checks this item: its ``check:`` step, or — for a line of
        text — a ``manual`` confirmation by a person (the format's rule, so the engine
        need not name an executor)."""
        if self.step is not None:
            return self.step
        return Step(
            id=f"prerequisite-{index + 1}",
            phase="prerequisites",
            executor="manual",
            spec=self.text,
            title=self.text,
        )


@dataclass(frozen=True)
class Phase:
    """A named group of steps, with its time budget and downtime marker."""

    id: str
    steps: tuple[Step, ...]
    title: str = ""
    description: str = ""
    budget: float | None = None
    downtime: str | None = None
    span: Span | None = None

    @property
    def label(self) -> str:
        return self.title or self.id


@dataclass(frozen=True)
class Decision:
    """One row of the decision matrix: when its predicate holds, take its action."""

    condition: str
    when: str
    action: str
    severity: str = "high"
    after: float | None = None
    description: str = ""
    span: Span | None = None
    key_spans: Mapping[str, Span] = field(default_factory=dict)
    pointer: str = ""
    #: ``after: "{{ name }}"``: the window is the duration var ``name`` (short in tests)
    after_var: str | None = None

    def window(self, values: Mapping[str, Any]) -> float | None:
        """Seconds the condition must keep holding: ``after``, or its var's value."""
        if self.after_var is None:
            return self.after
        value = values.get(self.after_var)
        return None if value is None else parse_duration(value)


@dataclass(frozen=True)
class Runbook:
    """A whole runbook after the schema and the model checks."""

    path: str
    name: str
    phases: tuple[Phase, ...]
    title: str = ""
    description: str = ""
    owners: tuple[str, ...] = ()
    frequency: str = ""
    window: Window = field(default_factory=Window)
    vars: Mapping[str, VarSpec] = field(default_factory=dict)
    inventory: str | None = None
    prerequisites: tuple[Prerequisite, ...] = ()
    rollback: tuple[Step, ...] = ()
    rollback_title: str = ""
    rollback_undo: bool = True
    decisions: tuple[Decision, ...] = ()
    notify: Mapping[str, Any] = field(default_factory=dict)
    success: Mapping[str, str] = field(default_factory=dict)
    source_sha256: str = ""

    def all_steps(self) -> Iterator[Step]:
        """Phase steps in written order, then rollback steps."""
        for phase in self.phases:
            yield from phase.steps
        yield from self.rollback

    def every_step(self) -> Iterator[Step]:
        """Every step a run may execute: phase and rollback steps, prerequisite
        checks, and each one's ``undo``."""
        checks = [item.step for item in self.prerequisites if item.step is not None]
        for step in [*self.all_steps(), *checks]:
            yield step
            if step.undo is not None:
                yield step.undo

    def step(self, step_id: str) -> Step:
        for step in self.all_steps():
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def phase_of(self, step_id: str) -> Phase | None:
        for phase in self.phases:
            if any(step.id == step_id for step in phase.steps):
                return phase
        return None

    @property
    def label(self) -> str:
        return self.title or self.name


_VAR_REFERENCE = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")


def _window(
    doc: Document, ptr: str, value: Any, declared: Mapping[str, Any]
) -> tuple[float | None, str | None]:
    """A decision's ``after``: a duration, or ``{{ name }}`` of a declared duration var."""
    match = _VAR_REFERENCE.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        return _duration(doc, ptr, value), None
    name = match.group(1)
    spec = declared.get(name)
    if not isinstance(spec, Mapping) or spec.get("type") != "duration":
        raise ValidationError(
            f"after: {name!r} is not a declared var of type duration",
            span=doc.span(ptr),
            hint=f"declare it under vars: with type: duration, e.g. {name}: {{type: duration, default: 20m}}",
            rule="RB101",
        )
    return None, name


def _decision(doc: Document, i: int, raw: Mapping[str, Any], declared: Mapping[str, Any]) -> Decision:
    after, after_var = _window(doc, f"/decisions/{i}/after", raw.get("after"), declared)
    return Decision(
        condition=raw["condition"],
        when=raw["when"],
        action=raw["action"],
        severity=raw.get("severity", "high"),
        after=after,
        after_var=after_var,
        description=raw.get("description", ""),
        span=doc.span(f"/decisions/{i}"),
        key_spans={key: doc.span(f"/decisions/{i}/{key}") for key in raw},
        pointer=f"/decisions/{i}",
    )


def _duration(doc: Document, ptr: str, value: Any) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ValidationError(str(exc), span=doc.span(ptr), rule="RB101") from None


def executor_keys(raw: Mapping[str, Any]) -> list[str]:
    """The keys of a step mapping that name an executor."""
    return [key for key in raw if key not in COMMON_STEP_KEYS]


def build_step(doc: Document, raw: Mapping[str, Any], ptr: str, phase: str) -> Step:
    keys = executor_keys(raw)
    if len(keys) != 1:
        where = raw.get("id", "this step")
        message = (
            f"step {where!r} has no executor key"
            if not keys
            else f"step {where!r} has more than one executor key: {', '.join(keys)}"
        )
        raise ValidationError(
            message,
            span=doc.span(ptr),
            hint="a step has exactly one of shell, ssh, ansible, sql, http, notify, wait, monitor, manual or a plugin key",
            rule="RB103",
        )
    executor = keys[0]
    on_failure = raw.get("on_failure", "abort")
    goto = None
    if isinstance(on_failure, dict):
        goto, on_failure = on_failure["goto"], "goto"
    key_spans = {key: doc.span(f"{ptr}/{escape(key)}") for key in raw}
    undo = None
    if "undo" in raw:
        undo_raw = dict(raw["undo"])
        undo_raw.setdefault("id", f"{raw.get('id', 'step')}-undo")
        undo = build_step(doc, undo_raw, f"{ptr}/undo", phase)
    return Step(
        id=str(raw.get("id", "")),
        phase=phase,
        executor=executor,
        spec=raw[executor],
        title=raw.get("title", ""),
        description=raw.get("description", ""),
        when=raw.get("when"),
        needs=tuple(raw["needs"]) if "needs" in raw else None,
        hosts=raw.get("hosts"),
        expect=raw.get("expect"),
        capture=dict(raw.get("capture", {})),
        timeout=_duration(doc, f"{ptr}/timeout", raw.get("timeout")),
        retries=int(raw.get("retries", 0)),
        delay=_duration(doc, f"{ptr}/delay", raw.get("delay")) or 0.0,
        backoff=float(raw.get("backoff", 1.0)),
        until=raw.get("until"),
        on_failure=on_failure,
        goto=goto,
        critical=bool(raw.get("critical", False)),
        undo=undo,
        idempotent=bool(raw.get("idempotent", False)),
        tags=tuple(raw.get("tags", ())),
        secret_output=bool(raw.get("secret_output", False)),
        changes=raw.get("changes") if isinstance(raw.get("changes"), bool) else None,
        options={key: raw[key] for key in FANOUT_KEYS if key in raw},
        span=doc.span(ptr),
        key_spans=key_spans,
        pointer=ptr,
    )


def _var(doc: Document, name: str, raw: Mapping[str, Any]) -> VarSpec:
    return VarSpec(
        name=name,
        type=raw.get("type", "string"),
        required=bool(raw.get("required", False)),
        default=raw.get("default"),
        pattern=raw.get("pattern"),
        choices=tuple(raw["choices"]) if "choices" in raw else None,
        env=raw.get("env"),
        secret=bool(raw.get("secret", False)),
        description=raw.get("description", ""),
        span=doc.span(f"/vars/{escape(name)}"),
    )


def build_runbook(doc: Document) -> Runbook:
    """A ``Runbook`` from a document that already passed schema validation."""
    data: Mapping[str, Any] = doc.data
    window_raw = data.get("window", {})
    window = Window(
        max_duration=_duration(doc, "/window/max_duration", window_raw.get("max_duration")),
        downtime_budget=_duration(doc, "/window/downtime_budget", window_raw.get("downtime_budget")),
        not_before=window_raw.get("not_before"),
        not_after=window_raw.get("not_after"),
        timezone=window_raw.get("timezone", "UTC"),
        schedule=window_raw.get("schedule"),
    )
    prerequisites = []
    for i, item in enumerate(data.get("prerequisites", [])):
        ptr = f"/prerequisites/{i}"
        if isinstance(item, str):
            prerequisites.append(Prerequisite(text=item, span=doc.span(ptr)))
        else:
            raw = {key: value for key, value in item.items() if key != "check"}
            raw.setdefault("id", f"prerequisite-{i + 1}")
            step = build_step(doc, raw, ptr, "prerequisites")
            prerequisites.append(Prerequisite(text=item["check"], step=step, span=doc.span(ptr)))
    phases = []
    for i, raw_phase in enumerate(data["phases"]):
        ptr = f"/phases/{i}"
        phase_id = raw_phase["id"]
        steps = tuple(
            build_step(doc, raw_step, f"{ptr}/steps/{j}", phase_id) for j, raw_step in enumerate(raw_phase["steps"])
        )
        phases.append(
            Phase(
                id=phase_id,
                steps=steps,
                title=raw_phase.get("title", ""),
                description=raw_phase.get("description", ""),
                budget=_duration(doc, f"{ptr}/budget", raw_phase.get("budget")),
                downtime=raw_phase.get("downtime"),
                span=doc.span(ptr),
            )
        )
    rollback_raw = data.get("rollback", {})
    rollback = tuple(
        build_step(doc, raw_step, f"/rollback/steps/{j}", "rollback")
        for j, raw_step in enumerate(rollback_raw.get("steps", []))
    )
    decisions = tuple(
        _decision(doc, i, raw, data.get("vars", {}))
        for i, raw in enumerate(data.get("decisions", []))
    )
    return Runbook(
        path=doc.path,
        name=data["name"],
        phases=tuple(phases),
        title=data.get("title", ""),
        description=data.get("description", ""),
        owners=tuple(data.get("owners", ())),
        frequency=data.get("frequency", ""),
        window=window,
        vars={name: _var(doc, name, raw) for name, raw in data.get("vars", {}).items()},
        inventory=data.get("inventory"),
        prerequisites=tuple(prerequisites),
        rollback=rollback,
        rollback_title=rollback_raw.get("title", ""),
        rollback_undo=bool(rollback_raw.get("undo", True)),
        decisions=decisions,
        notify=dict(data.get("notify", {})),
        success=dict(data.get("success", {})),
        source_sha256=doc.sha256,
    )

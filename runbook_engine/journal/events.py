"""Every event a run journals, as one frozen dataclass each, and the one serializer.

A class declares its event name once (``name``) and whether the line is fsynced on the
spot (``durable``: the run's boundaries and the operator's and the decision matrix's
acts; step boundaries are made durable per step by `RunContext.durable`). `encode`
turns an event into the data of its journal line (the keys written today, so old
journals, the hash chain and `runbook verify` are unchanged); `decode` reads a line
back. A line whose event no class declares decodes to `UnknownEvent`, so older
readers survive newer writers. Writers construct these classes; no module names an
event by a bare string (tests/unit/journal/test_events.py checks).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar, Union, get_args, get_origin

from runbook_engine.vocabulary import RunStatus, StepStatus

__all__ = [
    "EVENTS",
    "Decision",
    "DecisionUnevaluable",
    "Event",
    "GateAnnounced",
    "JournalRepaired",
    "Operator",
    "OperatorAction",
    "OperatorActions",
    "Paused",
    "PhaseFinished",
    "PhaseStarted",
    "Recorded",
    "Resumed",
    "RollbackFinished",
    "RollbackStarted",
    "RunFinished",
    "RunStarted",
    "StepFinished",
    "StepOutput",
    "StepPid",
    "StepStarted",
    "UnknownEvent",
    "decode",
    "decode_all",
    "encode",
    "rebuilt",
]

#: Keys of every journal line that belong to the chain, not to the event.
CHAIN_KEYS = frozenset({"seq", "ts", "event", "prev", "hash", "mac"})

EventT = TypeVar("EventT", bound="Event")

#: Name → class of every declared event (filled as the classes are defined).
EVENTS: dict[str, type[Event]] = {}

_OMIT = "omit"  # metadata: the key is left out of the line while the value is its absent one
_ABSENT = "absent"  # metadata: the value a line written without this key reads as


def optional() -> Any:
    """A key written only when it has a value (None leaves it out of the line)."""
    return field(default=None, metadata={_OMIT: True, _ABSENT: None})


def unless_empty(empty: Any) -> Any:
    """A key left out of the line while it is ``empty`` (``{}``, ``False``)."""
    if isinstance(empty, dict):
        return field(default_factory=dict, metadata={_OMIT: True, _ABSENT: empty})
    return field(default=empty, metadata={_OMIT: True, _ABSENT: empty})


def absent_as(value: Any) -> dict[str, Any]:
    """Field metadata of a key every writer sets (no default: mypy makes writers give
    it) that an older line may lack: it then reads as ``value``."""
    return {_ABSENT: value}


@dataclass(frozen=True, kw_only=True)
class Event:
    """One journaled event. Subclasses set ``name`` (unique) and ``durable``."""

    name: ClassVar[str] = ""
    durable: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        clash = CHAIN_KEYS.intersection(cls.__dict__.get("__annotations__", {}))
        if clash:
            raise TypeError(f"journal event {cls.name!r} may not have a field {sorted(clash)}")
        if cls.name and cls.name in EVENTS:
            raise TypeError(f"journal event {cls.name!r} declared twice")
        if cls.name:
            EVENTS[cls.name] = cls


@dataclass(frozen=True)
class OperatorAction:
    """One checked operator action of a transaction: ``action`` is confirm, approve,
    reject, rerun or skip. ``late``: a gate answered after its deadline (it takes its
    ``on_timeout``); ``signature``: the SSH signature of a vote (engine/votes.py)."""

    action: str = field(metadata=absent_as(""))
    step: str = field(metadata=absent_as(""))
    inputs: Mapping[str, Any] = unless_empty({})
    late: bool = unless_empty(False)
    signature: Mapping[str, Any] | None = optional()


# -- the run ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    """The run began: what it runs, with which (redacted) vars, started by whom."""

    name: ClassVar[str] = "run_started"
    durable: ClassVar[bool] = True
    runbook: str = field(metadata=absent_as(""))
    vars: Mapping[str, Any] = field(metadata=absent_as({}))
    inventory: str | None = field(metadata=absent_as(None))
    initiator: str = field(metadata=absent_as(""))
    run_id: str | None = field(metadata=absent_as(None))
    title: str | None = field(metadata=absent_as(None))
    path: str | None = field(metadata=absent_as(None))
    initiator_identity: Mapping[str, Any] | None = optional()
    #: Why the change window was closed when the run started anyway (older
    #: journals: ``true``).
    outside_window: str | bool | None = field(metadata=absent_as(None))
    #: `runbook test`: the case this run plays.
    test_case: str | None = optional()
    #: Older journals: success metric → target, and the budgets (id → duration).
    success: Mapping[str, Any] | None = optional()
    budgets: Mapping[str, Any] | None = optional()


@dataclass(frozen=True, kw_only=True)
class Resumed(Event):
    name: ClassVar[str] = "resumed"
    durable: ClassVar[bool] = True
    by: str = field(metadata=absent_as(""))
    run_id: str | None = field(metadata=absent_as(None))
    allow_changed: bool | None = field(metadata=absent_as(None))
    outside_window: str | None = field(metadata=absent_as(None))


@dataclass(frozen=True, kw_only=True)
class RunFinished(Event):
    name: ClassVar[str] = "run_finished"
    durable: ClassVar[bool] = True
    status: RunStatus = field(metadata=absent_as("failed"))
    exit_code: int | None = field(metadata=absent_as(None))
    elapsed: float | None = field(metadata=absent_as(None))


@dataclass(frozen=True, kw_only=True)
class JournalRepaired(Event):
    """Written by the journal itself: a torn last line was discarded on reopening."""

    name: ClassVar[str] = "journal_repaired"
    durable: ClassVar[bool] = True
    discarded_bytes: int = field(metadata=absent_as(0))


# -- phases and steps -------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PhaseStarted(Event):
    name: ClassVar[str] = "phase_started"
    phase: str = field(metadata=absent_as(""))
    title: str | None = field(metadata=absent_as(None))
    #: ``begins`` or ``ends`` when the phase opens or closes the downtime.
    downtime: str | None = field(metadata=absent_as(None))
    budget: float | None = field(metadata=absent_as(None))


@dataclass(frozen=True, kw_only=True)
class PhaseFinished(Event):
    name: ClassVar[str] = "phase_finished"
    phase: str = field(metadata=absent_as(""))
    elapsed: float | None = field(metadata=absent_as(None))
    budget: float | None = field(metadata=absent_as(None))
    downtime: str | None = field(metadata=absent_as(None))


@dataclass(frozen=True, kw_only=True)
class StepStarted(Event):
    """An attempt of a step begins (made durable before the step acts)."""

    name: ClassVar[str] = "step_started"
    step: str = field(metadata=absent_as(""))
    phase: str | None = field(metadata=absent_as(None))
    attempt: int = field(metadata=absent_as(1))
    title: str | None = field(metadata=absent_as(None))
    executor: str | None = field(metadata=absent_as(None))
    #: ``resume --retry-failed-hosts``: the hosts this attempt runs on.
    retry_hosts: tuple[str, ...] | None = optional()
    #: Older journals: the host of a per-host start.
    host: str | None = optional()


@dataclass(frozen=True, kw_only=True)
class StepPid(Event):
    """A process a step started, so resume never runs a retry beside an orphan."""

    name: ClassVar[str] = "step_pid"
    step: str = field(metadata=absent_as(""))
    pid: int = field(metadata=absent_as(0))
    #: Start time in clock ticks, to tell the pid from a new process that reused it.
    proc_start: int | None = field(metadata=absent_as(None))


@dataclass(frozen=True, kw_only=True)
class StepOutput(Event):
    name: ClassVar[str] = "step_output"
    step: str = field(metadata=absent_as(""))
    host: str | None = field(metadata=absent_as(None))
    line: str = field(metadata=absent_as(""))


@dataclass(frozen=True, kw_only=True)
class StepFinished(Event):
    """How a step ended. ``result`` is `engine.outcome.result_to_journal`'s shape."""

    name: ClassVar[str] = "step_finished"
    step: str = field(metadata=absent_as(""))
    phase: str | None = field(metadata=absent_as(None))
    status: StepStatus = field(metadata=absent_as("succeeded"))
    result: Mapping[str, Any] | None = field(metadata=absent_as(None))
    attempt: int = field(metadata=absent_as(0))
    captures: Mapping[str, Any] = field(metadata=absent_as({}))
    error: str | None = field(metadata=absent_as(None))
    duration: float | None = field(metadata=absent_as(None))


@dataclass(frozen=True, kw_only=True)
class Paused(Event):
    """A step waits for an operator; the run exits 5."""

    name: ClassVar[str] = "paused"
    durable: ClassVar[bool] = True
    step: str = field(metadata=absent_as(""))
    phase: str | None = field(metadata=absent_as(None))
    reason: str = field(metadata=absent_as("waiting"))
    #: Epoch seconds, when the gate has a ``timeout``.
    deadline: float | None = field(metadata=absent_as(None))


@dataclass(frozen=True, kw_only=True)
class GateAnnounced(Event):
    """A waiting gate was announced on a channel (Slack, webhook), or failed to be."""

    name: ClassVar[str] = "gate_announced"
    step: str = field(metadata=absent_as(""))
    channel: str = field(metadata=absent_as(""))
    delivered: bool = field(metadata=absent_as(False))
    error: str | None = field(metadata=absent_as(None))


# -- decisions and rollback -------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Decision(Event):
    """A decision of the matrix fired."""

    name: ClassVar[str] = "decision"
    durable: ClassVar[bool] = True
    condition: str = field(metadata=absent_as(""))
    severity: str = field(metadata=absent_as("high"))
    action: str = field(metadata=absent_as(""))
    evidence: Mapping[str, Any] = field(metadata=absent_as({}))
    step: str | None = field(metadata=absent_as(None))


@dataclass(frozen=True, kw_only=True)
class DecisionUnevaluable(Event):
    """A decision whose condition could not be evaluated: never silently false."""

    name: ClassVar[str] = "decision_unevaluable"
    condition: str = field(metadata=absent_as(""))
    when: str = field(metadata=absent_as(""))
    severity: str = field(metadata=absent_as("high"))
    action: str = field(metadata=absent_as(""))
    error: str = field(metadata=absent_as(""))
    step: str | None = field(metadata=absent_as(None))


@dataclass(frozen=True, kw_only=True)
class RollbackStarted(Event):
    name: ClassVar[str] = "rollback_started"
    durable: ClassVar[bool] = True
    reason: str | None = field(metadata=absent_as(None))


@dataclass(frozen=True, kw_only=True)
class RollbackFinished(Event):
    name: ClassVar[str] = "rollback_finished"
    durable: ClassVar[bool] = True
    status: RunStatus | None = field(metadata=absent_as(None))


# -- the operator -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Operator(Event):
    """An answer given while the run runs (prompt, ``--yes``), or a resume's
    ``rerun_from``/``retry_failed_hosts`` with its plan (``how``, ``rerun``, ``hosts``)."""

    name: ClassVar[str] = "operator"
    durable: ClassVar[bool] = True
    action: str = field(metadata=absent_as(""))
    step: str | None = field(metadata=absent_as(None))
    by: str = field(metadata=absent_as(""))
    identity: Mapping[str, Any] | None = optional()
    inputs: Mapping[str, Any] | None = optional()
    auto: bool | None = optional()
    source: str | None = optional()
    how: str | None = optional()
    rerun: tuple[str, ...] | None = optional()
    hosts: Mapping[str, Any] | None = optional()


@dataclass(frozen=True, kw_only=True)
class OperatorActions(Event):
    """One operator transaction (a resume, the console, a Slack button): all of it
    checked first, then recorded as this one event (engine/operator_actions.py)."""

    name: ClassVar[str] = "operator_actions"
    durable: ClassVar[bool] = True
    by: str = field(metadata=absent_as(""))
    source: str = field(metadata=absent_as(""))
    actions: tuple[OperatorAction, ...] = field(metadata=absent_as(()))
    identity: Mapping[str, Any] | None = optional()


@dataclass(frozen=True)
class UnknownEvent:
    """A line whose event no class declares (a newer writer's): kept, ignored."""

    name: str
    data: Mapping[str, Any]
    durable: ClassVar[bool] = False


@dataclass(frozen=True)
class Recorded:
    """A decoded journal line: its place in the chain and its event."""

    seq: int
    ts: str | None
    event: Event | UnknownEvent
    #: The line's hash: what names this very line (a signed vote names its pause).
    hash: str | None = None


# -- the serializer ---------------------------------------------------------------------


def encode(event: Event | OperatorAction) -> dict[str, Any]:
    """The data of ``event``'s journal line, without ``event`` and the chain keys."""
    plan = _PLANS.get(type(event))
    if plan is None:
        plan = _PLANS[type(event)] = tuple(
            (f.name, bool(f.metadata.get(_OMIT)), f.metadata.get(_ABSENT))
            for f in _fields(type(event))
        )
    data: dict[str, Any] = {}
    for name, omit, absent in plan:
        value = getattr(event, name)
        if omit and (value is None or value == absent):
            continue
        data[name] = _plain(value) if isinstance(value, tuple | OperatorAction) else value
    return data


def decode(record: Mapping[str, Any]) -> Event | UnknownEvent:
    """The event of one journal line (chain keys ignored); unknown names are kept."""
    name = record.get("event")
    cls = EVENTS.get(name) if isinstance(name, str) else None
    if cls is None:
        data = {k: v for k, v in record.items() if k not in CHAIN_KEYS}
        return UnknownEvent(name=str(name), data=data)
    event: Event = _build(cls, record)
    return event


def rebuilt(event: EventT, data: Mapping[str, Any]) -> EventT:
    """``event`` with the data of its line replaced by ``data`` (the same keys, e.g.
    redacted): what `RunContext.emit` journals."""
    new: EventT = _build(type(event), data)
    return new


def decode_all(records: Iterable[Mapping[str, Any]], *kinds: type[Event]) -> list[Recorded]:
    """Every line decoded, with its ``seq``, ``ts`` and ``hash``; given ``kinds``, only
    the lines of those event classes (the others are not decoded at all: a reader
    that needs three kinds skips a long run's output lines cheaply)."""
    names = {kind.name for kind in kinds}
    out: list[Recorded] = []
    for record in records:
        if names and record.get("event") not in names:
            continue
        seq, ts, digest = record.get("seq"), record.get("ts"), record.get("hash")
        out.append(
            Recorded(
                seq=seq if isinstance(seq, int) else 0,
                ts=ts if isinstance(ts, str) else None,
                event=decode(record),
                hash=digest if isinstance(digest, str) else None,
            )
        )
    return out


def _build(cls: type[Any], record: Mapping[str, Any]) -> Any:
    hints = _hints(cls)
    values: dict[str, Any] = {}
    for f in _fields(cls):
        if f.name in record:
            values[f.name] = _typed(hints[f.name], record[f.name])
        else:
            absent = f.metadata.get(_ABSENT)
            values[f.name] = dict(absent) if isinstance(absent, dict) else absent
    return cls(**values)


def _typed(hint: Any, value: Any) -> Any:
    """``value`` as read from JSON, shaped as ``hint`` says: lists become tuples and
    nested records their dataclass; anything else is left as it is."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        if value is None:
            return None
        (inner, *_rest) = [a for a in get_args(hint) if a is not type(None)]
        return _typed(inner, value)
    if origin is tuple and isinstance(value, list | tuple):
        (item, *_rest) = get_args(hint)
        return tuple(_typed(item, v) for v in value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint) and isinstance(value, Mapping):
        return _build(hint, value)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, OperatorAction):
        return encode(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


_FIELDS: dict[type[Any], tuple[dataclasses.Field[Any], ...]] = {}
#: Per class, how `encode` writes each field: (name, left out when absent, absent value).
_PLANS: dict[type[Any], tuple[tuple[str, bool, Any], ...]] = {}
_HINTS: dict[type[Any], dict[str, Any]] = {}


def _fields(cls: type[Any]) -> tuple[dataclasses.Field[Any], ...]:
    cached = _FIELDS.get(cls)
    if cached is None:
        cached = _FIELDS[cls] = dataclasses.fields(cls)
    return cached


def _hints(cls: type[Any]) -> dict[str, Any]:
    cached = _HINTS.get(cls)
    if cached is None:
        cached = _HINTS[cls] = typing.get_type_hints(cls)
    return cached


def field_hints(cls: type[Any]) -> dict[str, Any]:
    """Field name → type of an event class (for docs and the property test)."""
    return {f.name: _hints(cls)[f.name] for f in _fields(cls)}


def reference_table() -> str:
    """The Markdown table of every event and its keys that docs/journal.md shows
    (a test keeps the two equal, so the docs cannot drift from the classes)."""
    rows = ["| event | fsync | keys |", "|---|---|---|"]
    for name, cls in sorted(EVENTS.items()):
        keys = ", ".join(_key_text(f, _hints(cls)[f.name]) for f in _fields(cls))
        rows.append(f"| `{name}` | {'yes' if cls.durable else ''} | {keys} |")
    return "\n".join(rows) + "\n"


def _key_text(f: dataclasses.Field[Any], hint: Any) -> str:
    """``name type``; a key left out of the line while it has no value is ``name?``."""
    if not f.metadata.get(_OMIT):
        return f"`{f.name}` {_type_text(hint)}"
    inner = [a for a in get_args(hint) if a is not type(None)] or [hint]
    return f"`{f.name}?` " + " or ".join(_type_text(a) for a in inner)


def _type_text(hint: Any) -> str:
    if hint == StepStatus:
        return "step status"
    if hint == RunStatus:
        return "run status"
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(hint) if a is not type(None)]
        text = " or ".join(_type_text(a) for a in inner)
        return text + " or null" if len(inner) < len(get_args(hint)) else text
    if origin is tuple:
        return f"list of {_type_text(get_args(hint)[0])}"
    if origin is not None and issubclass(origin, Mapping):
        return "map"
    if hint is OperatorAction:
        return (
            "`{"
            + ", ".join(
                f"{f.name}{'?' if f.metadata.get(_OMIT) else ''}" for f in _fields(OperatorAction)
            )
            + "}`"
        )
    return getattr(hint, "__name__", str(hint))

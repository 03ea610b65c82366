"""The typed journal events: every class round-trips through its journal line, unknown
events stay readable, and no module names an event by a bare string."""

from __future__ import annotations

import ast
import dataclasses
import json
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import runbook_engine
from runbook_engine.journal import replay
from runbook_engine.journal.chain import canonical
from runbook_engine.journal.events import (
    CHAIN_KEYS,
    EVENTS,
    Event,
    OperatorAction,
    RunStarted,
    StepFinished,
    UnknownEvent,
    decode,
    decode_all,
    encode,
    field_hints,
    rebuilt,
    reference_table,
)

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)


def strategy(hint: Any) -> st.SearchStrategy[Any]:
    """Values of a field's type, read from the dataclass's own annotations."""
    origin = get_origin(hint)
    if hint is Any:
        return JSON
    if origin in (Union, types.UnionType):
        return st.one_of(*(strategy(a) for a in get_args(hint)))
    if origin is Literal:
        return st.sampled_from(get_args(hint))
    if origin is tuple:
        return st.lists(strategy(get_args(hint)[0]), max_size=3).map(tuple)
    if origin is not None and issubclass(origin, Mapping):
        return st.dictionaries(st.text(max_size=6), JSON, max_size=3)
    if hint is type(None):
        return st.none()
    if hint is bool:
        return st.booleans()
    if hint is int:
        return st.integers(min_value=-(2**53), max_value=2**53)
    if hint is float:
        return st.floats(allow_nan=False, allow_infinity=False)
    if hint is str:
        return st.text(max_size=12)
    if dataclasses.is_dataclass(hint):
        return instances(hint)
    raise AssertionError(f"no strategy for {hint!r}: teach the test the new field type")


def instances(cls: Any) -> st.SearchStrategy[Any]:
    return st.builds(cls, **{name: strategy(hint) for name, hint in field_hints(cls).items()})


EVERY_EVENT = st.sampled_from(sorted(EVENTS.values(), key=lambda c: c.name)).flatmap(instances)


@settings(max_examples=400, deadline=None)
@given(event=EVERY_EVENT)
def test_every_event_class_round_trips_through_its_journal_line(event: Event) -> None:
    line = json.loads(canonical({"event": event.name, **encode(event)}))
    assert decode(line) == event
    assert not CHAIN_KEYS & set(encode(event))


def test_every_event_class_is_generated() -> None:
    """The round trip above covers every declared event (each field's type has a
    strategy); names are unique per class."""
    assert len({cls.name for cls in EVENTS.values()}) == len(EVENTS)
    for name, cls in EVENTS.items():
        assert cls.name == name and issubclass(cls, Event)
        for hint in field_hints(cls).values():
            strategy(hint)


def test_optional_keys_are_left_out_and_read_back_as_absent() -> None:
    action = OperatorAction("confirm", "backup")
    assert encode(action) == {"action": "confirm", "step": "backup"}
    assert encode(OperatorAction("approve", "go", {"ticket": "CHG-1"}, late=True)) == {
        "action": "approve",
        "step": "go",
        "inputs": {"ticket": "CHG-1"},
        "late": True,
    }
    older = decode({"event": "step_finished", "step": "extract", "status": "failed"})
    assert older == StepFinished(
        step="extract", phase=None, status="failed", result=None, attempt=0, captures={},
        error=None, duration=None,
    )  # fmt: skip


def test_an_unknown_event_stays_readable_and_replay_ignores_it() -> None:
    lines = [
        {"seq": 1, "ts": "2026-12-06T02:00:00.000Z", "event": "run_started", "runbook": "r"},
        {"seq": 2, "ts": "2026-12-06T02:00:01.000Z", "event": "from_the_future", "x": [1]},
    ]
    unknown = decode(lines[1])
    assert unknown == UnknownEvent(name="from_the_future", data={"x": [1]})
    assert [line.seq for line in decode_all(lines)] == [1, 2]
    state = replay(lines)
    assert state.runbook == "r" and state.last_seq == 2


def test_rebuilt_keeps_the_class_with_new_data() -> None:
    started = decode({"event": "run_started", "runbook": "r", "vars": {"token": "s3cret"}})
    assert isinstance(started, RunStarted)
    masked = rebuilt(started, {**encode(started), "vars": {"token": "***"}})
    assert isinstance(masked, RunStarted) and masked.vars == {"token": "***"}


def test_the_docs_list_every_event_with_its_keys() -> None:
    """docs/journal.md shows `reference_table()`; regenerate it with
    ``python -c "from runbook_engine.journal.events import reference_table as t; print(t())"``."""
    docs = (PACKAGE.parent / "docs" / "journal.md").read_text(encoding="utf-8")
    shown = docs.split("<!-- events:begin -->\n", 1)[1].split("<!-- events:end -->", 1)[0]
    assert shown == reference_table()


def test_durable_events_are_the_boundaries_and_the_acts() -> None:
    durable = {name for name, cls in EVENTS.items() if cls.durable}
    assert durable == {
        "run_started", "decision", "paused", "operator", "operator_actions", "resumed",
        "rollback_started", "rollback_finished", "run_finished", "journal_repaired",
    }  # fmt: skip


# -- no event by a bare string ---------------------------------------------------------

PACKAGE = Path(runbook_engine.__file__).parent
EVENTS_MODULE = PACKAGE / "journal" / "events.py"


def _bare_event_names(path: Path) -> list[str]:
    """Where ``path`` writes or reads a journal event by a string name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    for node in ast.walk(tree):
        where = f"{path.relative_to(PACKAGE.parent)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            first = node.args[0] if node.args else None
            named = isinstance(first, ast.Constant) and first.value in EVENTS
            if node.func.attr in ("emit", "append") and named:
                found.append(f"{where}: {node.func.attr}({first.value!r}, ...)")  # type: ignore[union-attr]
            if (
                node.func.attr == "get"
                and isinstance(first, ast.Constant)
                and first.value == "event"
            ):
                found.append(f"{where}: .get('event')")
        elif isinstance(node, ast.Subscript):
            key = node.slice
            if isinstance(key, ast.Constant) and key.value == "event":
                found.append(f"{where}: ['event']")
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                named = isinstance(key, ast.Constant) and key.value == "event"
                if named and isinstance(value, ast.Constant):
                    found.append(f"{where}: {{'event': {value.value!r}}}")
        elif isinstance(node, ast.Compare):
            for side in (node.left, *node.comparators):
                if isinstance(side, ast.Constant) and side.value in _NAMES_ONLY_EVENTS:
                    found.append(f"{where}: compares with {side.value!r}")
    return found


#: Event names no status or action shares: comparing with one of them is reading an
#: event by its name (``paused``, ``operator``, ``decision`` are other words too).
_NAMES_ONLY_EVENTS = frozenset(name for name in EVENTS if "_" in name)


def test_no_module_names_a_journal_event_by_a_bare_string() -> None:
    """A new event must be declared in journal/events.py: writers construct its class,
    readers decode and match on classes."""
    found = [
        hit
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != EVENTS_MODULE and "ansible_callback" not in path.parts
        for hit in _bare_event_names(path)
    ]
    assert found == []


@pytest.mark.parametrize(
    "source",
    [
        'ctx.emit("step_pid", step="s", pid=1)',
        'journal.append("resumed", by="bob")',
        'if e.get("event") == "x": pass',
        'e["event"]',
        'record = {"event": "run_started"}',
        'if kind == "step_finished": pass',
    ],
)
def test_the_guard_sees_each_way_of_naming_an_event(source: str, tmp_path: Path) -> None:
    module = PACKAGE / "_probe_for_the_guard.py"
    try:
        module.write_text(source + "\n", encoding="utf-8")
        assert _bare_event_names(module)
    finally:
        module.unlink()

"""The executor protocol: the one narrow interface between the engine and the world.

Every executor, built-in or third-party, is a class registered under the entry-point
group ``runbook_engine.executors``. The class declares, without importing anything
heavy (lint and explain load every executor class): its step key, the JSON-Schema
fragment for the value under that key, the result fields predicates may use, and its
named checks. Heavy backends (asyncssh, httpx, psycopg, ansible) are imported inside
``run``. The engine makes one instance per run and calls ``close`` at the end, so an
executor may keep connections across the steps of a run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from runbook_engine.shell_values import ShellCommand

#: Types a result field may declare; lint type-checks predicates against them.
FIELD_TYPES = frozenset({"int", "float", "number", "str", "bool", "duration", "json", "list", "map", "any"})


@dataclass(frozen=True, slots=True)
class Host:
    """One inventory host as executors see it."""

    name: str
    address: str = ""
    port: int | None = None
    user: str | None = None
    connection: str = "ssh"  # "ssh" or "local" (ansible_connection)
    vars: Mapping[str, Any] = field(default_factory=dict)
    groups: tuple[str, ...] = ()

    @property
    def target(self) -> str:
        return self.address or self.name


@dataclass(frozen=True, slots=True)
class Result:
    """What one step produced.

    ``fields`` are the top-level result fields (for a fan-out executor: aggregated,
    e.g. ``rc`` is the worst rc). ``hosts`` maps host name to that host's fields; it is
    empty for executors that do not fan out. ``ok`` is the executor's own verdict,
    used when the step has no ``expect``; ``error`` says why it is not ok.
    """

    ok: bool
    fields: Mapping[str, Any] = field(default_factory=dict)
    hosts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    error: str | None = None
    duration: float = 0.0


@dataclass(frozen=True, slots=True)
class NamedCheck:
    """A phrase such as ``checksum matches`` that an executor gives meaning to.

    ``test`` receives the step's top-level fields and per-host fields and says whether
    the check holds; ``words`` is how ``runbook explain`` says it.
    """

    phrase: str
    words: str
    test: Callable[[Mapping[str, Any], Mapping[str, Mapping[str, Any]]], bool]


@dataclass(frozen=True)
class StepCall:
    """Everything an executor needs to run one step, prepared by the engine.

    ``spec`` is the value under the executor's key exactly as written (templates not
    yet rendered). ``render`` renders templates in any value (recursively) for a host
    (or ``None``); ``render_command`` renders a shell command into a ``ShellCommand``
    whose script refers to every interpolated value through an environment variable
    (``command.env``) unless marked ``| raw`` (docs/format.md, "Values are data"). ``log`` streams one output line to
    the progress view and the journal (already redacted by the engine). ``redact``
    removes secret values from any text the executor reports.
    """

    step_id: str
    spec: Any
    hosts: tuple[Host, ...] = ()
    timeout: float | None = None
    workdir: Path = Path(".")
    options: Mapping[str, Any] = field(default_factory=dict)
    render: Callable[[Any, Host | None], Any] = field(default=lambda value, host=None: value)
    render_command: Callable[[str, Host | None], ShellCommand] = field(
        default=lambda text, host=None: ShellCommand.plain(text)
    )
    log: Callable[[str, str | None], None] = field(default=lambda line, host=None: None)
    redact: Callable[[str], str] = field(default=lambda text: text)


@runtime_checkable
class Executor(Protocol):
    """What every executor class provides. See the module docstring."""

    key: ClassVar[str]
    schema: ClassVar[Mapping[str, Any]]
    fields: ClassVar[Mapping[str, str]]
    host_fields: ClassVar[Mapping[str, str]]
    checks: ClassVar[Mapping[str, NamedCheck]]

    async def run(self, call: StepCall) -> Result:
        """Run the step; raise nothing for failures the step itself had (return a
        Result with ok=False); honour asyncio cancellation."""
        ...

    def describe(self, call: StepCall) -> list[str]:
        """The rendered commands this step would run, for `runbook plan`."""
        ...

    async def close(self) -> None:
        """Release connections kept across the steps of a run."""
        ...


class ExecutorBase:
    """Convenient defaults for executor classes; subclassing it is optional."""

    key: ClassVar[str] = ""
    schema: ClassVar[Mapping[str, Any]] = {}
    fields: ClassVar[Mapping[str, str]] = {}
    host_fields: ClassVar[Mapping[str, str]] = {}
    checks: ClassVar[Mapping[str, NamedCheck]] = {}
    supplies_roots: ClassVar[frozenset[str]] = frozenset()

    async def run(self, call: StepCall) -> Result:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self, call: StepCall) -> list[str]:
        from runbook_engine.display import value_text

        rendered = call.render(call.spec, None)
        return [rendered if isinstance(rendered, str) else f"{self.key}: {value_text(rendered)}"]

    async def close(self) -> None:
        return None

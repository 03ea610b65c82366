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

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, get_args, runtime_checkable

if TYPE_CHECKING:
    from runbook_engine.gates import Operator

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


#: How a step's work stands when the executor returns: ``done`` (judge it by ``ok`` or
#: ``expect``), ``timed_out`` (failed by its timeout, whatever ``expect`` says), or
#: ``awaiting_operator`` (nobody could answer now: the engine pauses the run durably).
ResultState = Literal["done", "timed_out", "awaiting_operator"]
RESULT_STATES: frozenset[str] = frozenset(get_args(ResultState))


@dataclass(frozen=True, slots=True)
class Result:
    """What one step produced.

    ``fields`` are the top-level result fields (for a fan-out executor: aggregated,
    e.g. ``rc`` is the worst rc). ``hosts`` maps host name to that host's fields; it is
    empty for executors that do not fan out. ``ok`` is the executor's own verdict,
    used when the step has no ``expect``; ``error`` says why it is not ok. ``state``
    is one of `ResultState`; ``on_failure`` overrides the step's failure policy for
    this failure (a gate's ``on_timeout``).
    """

    ok: bool
    fields: Mapping[str, Any] = field(default_factory=dict)
    hosts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    error: str | None = None
    duration: float = 0.0
    state: ResultState = "done"
    on_failure: str | None = None


@dataclass(frozen=True, slots=True)
class NamedCheck:
    """A phrase such as ``checksum matches`` that an executor gives meaning to.

    ``test`` receives the step's top-level fields and per-host fields and says whether
    the check holds; ``words`` is how ``runbook explain`` says it.
    """

    phrase: str
    words: str
    test: Callable[[Mapping[str, Any], Mapping[str, Mapping[str, Any]]], bool]


def _ignore_pid(pid: int) -> None:
    return None


async def _at_once() -> None:
    return None


@dataclass(frozen=True, slots=True)
class RunIdentity:
    """Which run a step belongs to and who started it."""

    run_id: str = ""
    initiator: str = ""


@dataclass(frozen=True)
class StepServices:
    """What the engine lends an executor for one step, each typed (docs/plugins.md).

    ``on_pid``: call it with the pid of every local process the step starts, before
    the process may act; the engine journals it with its start time (``step_pid``) so
    resume can see a survivor. ``before_start``: await it before the step's work may
    act; it returns once the step's start is durable in the journal (an executor that
    awaits it declares ``awaits_before_start``). ``operator`` answers gates. ``probe``
    runs a step mapping through the engine (a monitor's probe); ``on_sample`` hands a
    monitor sample, the baseline and all samples to the decision matrix and says
    whether to stop. ``inventory_path`` and ``channels`` are the run's inventory file
    and notify channels.
    """

    run: RunIdentity = field(default_factory=RunIdentity)
    on_pid: Callable[[int], None] = _ignore_pid
    before_start: Callable[[], Awaitable[None]] = _at_once
    operator: Operator | None = None
    probe: Callable[[Mapping[str, Any]], Awaitable[Result]] | None = None
    on_sample: Callable[[Mapping[str, Any], Mapping[str, Any], list[Any]], bool] | None = None
    inventory_path: str | None = None
    channels: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepCall:
    """Everything an executor needs to run one step, prepared by the engine.

    ``spec`` is the value under the executor's key exactly as written (templates not
    yet rendered). ``options`` are the step's rollout keys (``forks``, ``serial``, …;
    see `executors.fanout`). ``services`` are the engine's typed hooks. ``render``
    renders templates in any value (recursively) for a host (or ``None``);
    ``render_command`` renders a shell command into a ``ShellCommand`` whose script
    refers to every interpolated value through an environment variable
    (``command.env``) unless marked ``| raw`` (docs/format.md, "Values are data").
    ``log`` streams one output line to the progress view and the journal (already
    redacted by the engine). ``redact`` removes secret values from any text the
    executor reports.
    """

    step_id: str
    spec: Any
    hosts: tuple[Host, ...] = ()
    timeout: float | None = None
    workdir: Path = Path(".")
    options: Mapping[str, Any] = field(default_factory=dict)
    services: StepServices = field(default_factory=StepServices)
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
    """Convenient defaults for executor classes; subclassing it is optional.

    Optional class attributes (the engine and lint read them with these defaults):
    ``supplies_roots`` — predicate roots the executor makes exist (the monitor:
    ``probe``); ``rollout_keys`` — the rollout keys it honours when the step has hosts
    (lint rejects the others); ``awaits_before_start`` — it awaits
    ``services.before_start`` itself, at the last moment before acting (otherwise the
    engine awaits it before calling ``run``); ``opens_gate`` — its spec is a gate
    (`runbook_engine.gates.parse_gate`) answered by the run's operator, so
    ``resume --confirm``/``--reject``/``--input`` and the pause hint apply to it;
    ``probed_by_plan`` — False when ``plan --probe`` must not run it (it waits,
    watches or asks a person); ``routine_output`` — a compiled pattern of output
    lines that only say things went as planned: the live log shows them with ``-v``
    only and a recap line per host (the step's host fields) when the step ends.
    """

    key: ClassVar[str] = ""
    schema: ClassVar[Mapping[str, Any]] = {}
    fields: ClassVar[Mapping[str, str]] = {}
    host_fields: ClassVar[Mapping[str, str]] = {}
    checks: ClassVar[Mapping[str, NamedCheck]] = {}
    supplies_roots: ClassVar[frozenset[str]] = frozenset()
    rollout_keys: ClassVar[frozenset[str]] = frozenset()
    awaits_before_start: ClassVar[bool] = False
    opens_gate: ClassVar[bool] = False
    probed_by_plan: ClassVar[bool] = True
    routine_output: ClassVar[re.Pattern[str] | None] = None

    async def run(self, call: StepCall) -> Result:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self, call: StepCall) -> list[str]:
        from runbook_engine.display import value_text

        rendered = call.render(call.spec, None)
        return [rendered if isinstance(rendered, str) else f"{self.key}: {value_text(rendered)}"]

    async def close(self) -> None:
        return None

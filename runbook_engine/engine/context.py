"""Everything one run shares: the runbook, resolved values, the journal, the view,
the executors. Every event the run records passes through `RunContext.emit`, which
redacts it once and sends the same data to the journal and to the progress view."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook_engine.engine.evaluation import Evaluator, RunView
from runbook_engine.engine.progress import Progress
from runbook_engine.executors.base import Host
from runbook_engine.journal.events import Event, StepFinished, encode, rebuilt
from runbook_engine.model import Runbook, Step
from runbook_engine.redaction import MASK, Redactor
from runbook_engine.templating import Renderer

#: Which events are fsynced on the spot is declared on their class
#: (`journal.events.Event.durable`). Step boundaries are made durable by
#: `RunContext.durable` instead, one fsync per step: ``step_started`` (and the
#: ``step_finished`` before it) must be on disk before the step's work begins — the
#: shell executor overlaps that fsync with starting the process and sends the command
#: its go line only then — and a ``step_finished`` no step start follows within
#: `FLUSH_DELAY` is synced in the background. ``step_pid`` needs no fsync of its own:
#: it only matters while the runner's commands could still be alive, and a SIGKILLed
#: runner's writes survive in the page cache (a power loss leaves no orphans).
#: Seconds a ``step_finished`` may wait for the next step's fsync to cover it.
FLUSH_DELAY = 0.05


@dataclass
class RunContext:
    runbook: Runbook
    values: Mapping[str, Any]
    secrets: frozenset[str]
    journal: Any
    progress: Progress
    evaluator: Evaluator
    view: RunView
    initiator: str
    inventory: Any = None
    inventory_path: str | None = None
    workdir: Path = Path(".")
    channels: Mapping[str, Any] = field(default_factory=dict)
    concurrency: int = 4
    started: float = field(default_factory=time.monotonic)
    stubs: Mapping[str, Any] = field(default_factory=dict)
    #: The run's time: decision windows (``after:``) read ``clock``, retry delays
    #: wait with ``sleep``. `runbook test` gives both a simulated clock.
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    #: Step key → executor instance; None means the installed plugin (the registry).
    #: `runbook test` puts its stubs here, so no real executor can run.
    executor_factory: Callable[[str], Any] | None = None
    #: Fan-out steps that run again on some hosts only (``resume --retry-failed-hosts``),
    #: step id → `engine.rerun.HostRetry`.
    retry_hosts: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._sync_lock = asyncio.Lock()
        self._flushes: set[asyncio.Task[None]] = set()
        self.redactor = Redactor(self.secrets)
        self.renderer = Renderer(dict(self.values), {"run": {"id": self.journal.run_id}})
        self.host_captures: dict[str, dict[str, Mapping[str, Any]]] = {}  # step → host → captures

    @property
    def run_id(self) -> str:
        return str(self.journal.run_id)

    def add_secrets(self, values: list[str]) -> None:
        """Values captured from a ``secret_output`` step become secrets too."""
        fresh = {v for v in values if isinstance(v, str) and v and v != MASK} - set(self.secrets)
        if fresh:
            self.secrets = frozenset(self.secrets | fresh)
            self.redactor = Redactor(self.secrets)

    def keep_secret_captures(
        self, step_id: str, captures: Mapping[str, Any], host_captures: Mapping[str, Any]
    ) -> None:
        """A ``secret_output`` step's captures, kept (encrypted, never journaled) so a
        resumed run has the real values, not the mask. Journal stand-ins that never
        resume (plan, `runbook test`) have no ``seal`` and keep nothing."""
        seal = getattr(self.journal, "seal", None)
        if seal is not None and (captures or host_captures):
            seal(step_id, {"captures": captures, "host_captures": host_captures})

    def emit(self, event: Event) -> Event:
        """Record one event in the journal and show it, redacted once: the journal and
        the view get the same data. Returns the redacted event."""
        raw = encode(event)
        data = self.redactor.redact_obj(raw)
        clean = event if data is raw or data == raw else rebuilt(event, data)
        self.journal.append(clean)
        if isinstance(clean, StepFinished):
            self._flush_later(self.journal.seq)
        self.progress.event(event.name, **data)
        return clean

    async def durable(self) -> None:
        """Wait until every journal line written so far is on disk (one fsync in a
        worker thread, so the event loop keeps going; nothing to wait for if the last
        boundary already synced)."""
        if not self.journal.pending():
            return
        async with self._sync_lock:
            if self.journal.pending():
                await asyncio.to_thread(self.journal.sync)

    def _flush_later(self, seq: int) -> None:
        """Sync journal line ``seq`` (a finished step) soon, unless a step start has
        synced it by then."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # outside the event loop (resume bookkeeping): now
            self.journal.sync()
            return

        def flush() -> None:
            if self.journal.pending(seq):
                task = loop.create_task(self.durable())
                self._flushes.add(task)
                task.add_done_callback(self._flushes.discard)

        loop.call_later(FLUSH_DELAY, flush)

    def show(self, kind: str, **data: Any) -> None:
        """Show something without journaling it."""
        self.progress.event(kind, **(self.redactor.redact_obj(data) if self.redactor else data))

    def hosts_for(self, step: Step) -> tuple[Host, ...]:
        if not step.hosts:
            return ()
        pattern = step.hosts
        if "{{" in pattern:
            pattern = str(self.renderer.render(pattern, self.template_extra(None)))
        return tuple(self.inventory.select(pattern))

    def template_extra(self, host: Host | None) -> dict[str, Any]:
        """Names a template sees besides the vars: ``steps`` (status fields and captures,
        this host's own capture values when rendering for a host) and ``host``."""
        steps = self.view.steps_root()
        if host is not None and self.host_captures:
            steps = dict(steps)
            for step_id, by_host in self.host_captures.items():
                if host.name in by_host and step_id in steps:
                    steps[step_id] = {**steps[step_id], **by_host[host.name]}
        return {"steps": steps, "host": host}

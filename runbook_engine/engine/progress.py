"""What the operator sees while a run goes: a rich live view on a terminal, plain
timestamped lines in CI, JSON lines for machines. Everything shown has already been
redacted by the engine."""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, TextIO

from runbook_engine.durations import format_duration
from runbook_engine.journal.events import (
    EVENTS,
    Decision,
    DecisionUnevaluable,
    Event,
    PhaseFinished,
    PhaseStarted,
    RunFinished,
    RunStarted,
    StepFinished,
    StepOutput,
    StepStarted,
    UnknownEvent,
    decode,
)
from runbook_engine.recap import recap_text

_MARKS = {
    "succeeded": "✓",
    "failed": "✗",
    "skipped": "-",
    "cancelled": "⊘",
    "rolled_back": "↶",
    "paused": "⏸",
    "running": "…",
}


class Progress(Protocol):
    def event(self, kind: str, **data: Any) -> None:
        """One thing happened (see `Run` for the kinds and their data)."""
        ...

    def suspend(self) -> contextlib.AbstractContextManager[None]:
        """Stop drawing while the operator is asked something."""
        ...

    def close(self) -> None: ...


class NullProgress:
    """Shows nothing (benchmarks, library use)."""

    def event(self, kind: str, **data: Any) -> None:
        return None

    @contextlib.contextmanager
    def suspend(self) -> Iterator[None]:
        yield

    def close(self) -> None:
        return None


def _clock() -> str:
    return datetime.now(UTC).strftime("%H:%M:%S")


def shown_event(kind: str, data: Mapping[str, Any]) -> Event | UnknownEvent | None:
    """The typed journal event a progress event carries (`RunContext.emit` sends the
    encoded event), or None for what is only shown (``message``, ``warning``)."""
    return decode({**data, "event": kind}) if kind in EVENTS else None


def describe(kind: str, data: Mapping[str, Any]) -> str | None:
    """The plain-text line for one progress event, or None for events not shown."""
    if kind in ("message", "warning"):
        return ("warning: " if kind == "warning" else "") + str(data["text"])
    event = shown_event(kind, data)
    return describe_event(event) if event is not None else None


def describe_event(event: Event | UnknownEvent) -> str | None:
    match event:
        case RunStarted():
            return f"run {event.run_id}: {event.title} (by {event.initiator})"
        case PhaseStarted():
            downtime = f" — downtime {event.downtime}" if event.downtime else ""
            budget = f" (budget {format_duration(event.budget)})" if event.budget else ""
            return f"== {event.title}{budget}{downtime}"
        case PhaseFinished(elapsed=float() | int() as elapsed):
            over = ""
            if event.budget and elapsed > event.budget:
                over = f", over budget {format_duration(event.budget)}"
            return f"== {event.phase} done in {format_duration(elapsed)}{over}"
        case StepStarted():
            attempt = f" (attempt {event.attempt})" if event.attempt > 1 else ""
            return f"→ {event.step}: {event.title}{attempt}"
        case StepOutput():
            host = f" [{event.host}]" if event.host else ""
            return f"  {event.step}{host} | {event.line}"
        case StepFinished():
            mark = _MARKS.get(event.status, "?")
            why = f" — {event.error}" if event.error else ""
            took = f" in {format_duration(event.duration)}" if event.duration else ""
            return f"{mark} {event.step} {event.status}{took}{why}"
        case Decision():
            return f"! decision [{event.severity}] {event.condition} → {event.action}"
        case DecisionUnevaluable():
            return f"! decision {event.condition!r} cannot be evaluated: {event.error}"
        case RunFinished(elapsed=float() | int() as elapsed):
            return f"run {event.status} (exit {event.exit_code}) in {format_duration(elapsed)}"
    return None


class LineFilter:
    """Which events are worth a line for a person. By default a step whose executor
    declares ``routine_output`` (a playbook) shows one recap line per host (the
    routine lines only with ``-v``), failures always."""

    def __init__(self, verbose: bool = False) -> None:
        self.verbose = verbose
        self.routine: dict[str, re.Pattern[str]] = {}

    def lines(self, kind: str, data: Mapping[str, Any]) -> list[str]:
        event = shown_event(kind, data)
        if event is None:
            line = describe(kind, data)
            return [] if line is None else [line]
        if isinstance(event, StepStarted) and event.executor:
            routine = _routine_output(event.executor)
            if routine is not None:
                self.routine[event.step] = routine
        step = getattr(event, "step", None)
        routine = None if self.verbose or not isinstance(step, str) else self.routine.get(step)
        if isinstance(event, StepOutput) and routine is not None and routine.match(event.line):
            return []
        line = describe_event(event)
        shown = [] if line is None else [line]
        if isinstance(event, StepFinished) and routine is not None:
            shown = [*_recap_lines(event.step, event.result), *shown]
        return shown


def _routine_output(executor: str) -> re.Pattern[str] | None:
    """The executor class's ``routine_output`` (lines that only say things went as
    planned), asked of the class so the live log names no executor."""
    from runbook_engine.executors.registry import executor_classes

    routine = getattr(executor_classes().get(executor), "routine_output", None)
    return routine if isinstance(routine, re.Pattern) else None


def _recap_lines(step: str, result: Any) -> list[str]:
    """``  stop-services [app-01] ok=3 changed=1 failed=0 skipped=1``, one per host."""
    hosts = result.get("hosts") if isinstance(result, Mapping) else None
    if not isinstance(hosts, dict):
        return []
    lines = []
    for host, fields in hosts.items():
        if not isinstance(fields, dict):
            continue
        counts = recap_text(fields)
        if counts:
            lines.append(f"  {step} [{host}] {counts}")
    return lines


class _LineProgress:
    """Views that write whole lines to a stream: nothing to suspend for a prompt."""

    def __init__(self, stream: TextIO | None = None, verbose: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.filter = LineFilter(verbose)

    def write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()

    @contextlib.contextmanager
    def suspend(self) -> Iterator[None]:
        yield

    def close(self) -> None:
        self.stream.flush()


class PlainProgress(_LineProgress):
    """Timestamped lines, one per event: readable in CI logs and greppable."""

    def event(self, kind: str, **data: Any) -> None:
        for line in self.filter.lines(kind, data):
            self.write(f"{_clock()} {line}")


class JsonProgress(_LineProgress):
    """One JSON object per line with ``ts`` and ``kind``: for log shippers."""

    def event(self, kind: str, **data: Any) -> None:
        record = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds"), "kind": kind, **data}
        self.write(json.dumps(record, default=str, ensure_ascii=False))


class LiveProgress:
    """A rich live view: phases, steps with spinners, elapsed vs budget, host ticks.
    Finished lines scroll above the live area, so the terminal keeps a record."""

    def __init__(self, verbose: bool = False) -> None:
        from rich.console import Console

        self.filter = LineFilter(verbose)
        self.console = Console(stderr=False, no_color=bool(os.environ.get("NO_COLOR")))
        self._running: dict[str, dict[str, Any]] = {}
        self._phase: dict[str, Any] | None = None
        self._live = self._new_live()
        self._live.start()

    def _new_live(self) -> Any:
        from rich.live import Live

        return Live(_Redrawn(self._render), console=self.console, refresh_per_second=8, transient=True)

    def _render(self) -> Any:
        from rich.spinner import Spinner
        from rich.table import Table

        table = Table.grid(padding=(0, 1))
        if self._phase is not None:
            elapsed = time.monotonic() - self._phase["started"]
            budget = self._phase.get("budget")
            over = budget is not None and elapsed > budget
            limit = f" / {format_duration(budget)}" if budget else ""
            style = "bold red" if over else "bold"
            table.add_row(
                "", f"[{style}]{self._phase['title']}[/] {format_duration(elapsed)}{limit}"
            )
        for step, info in self._running.items():
            elapsed = format_duration(time.monotonic() - info["started"])
            table.add_row(Spinner("dots"), f"{step} {info['title']} [dim]{elapsed}[/]")
        return table

    def event(self, kind: str, **data: Any) -> None:
        event = shown_event(kind, data)
        if isinstance(event, PhaseStarted):
            self._phase = {
                "title": event.title,
                "budget": event.budget,
                "started": time.monotonic(),
            }
        elif isinstance(event, StepStarted):
            self._running[event.step] = {"title": event.title, "started": time.monotonic()}
        elif isinstance(event, StepFinished):
            self._running.pop(event.step, None)
        if not isinstance(event, StepOutput) or len(self._running) <= 1:
            from rich.text import Text

            for line in self.filter.lines(kind, data):
                self.console.print(
                    Text.assemble((_clock(), "dim"), " ", line), highlight=False, soft_wrap=True
                )
        self._live.refresh()

    @contextlib.contextmanager
    def suspend(self) -> Iterator[None]:
        self._live.stop()
        try:
            yield
        finally:
            self._live = self._new_live()  # a stopped Live does not redraw new content
            self._live.start()

    def close(self) -> None:
        self._live.stop()


class _Redrawn:
    """A renderable built afresh at every refresh, so elapsed times keep moving and a
    finished step leaves the live area with the very line that reports it."""

    def __init__(self, build: Any) -> None:
        self.build = build

    def __rich__(self) -> Any:
        return self.build()


def make_progress(
    log_format: str, stream: TextIO | None = None, *, verbose: bool = False
) -> Progress:
    """The view that suits where output goes: JSON if asked, live on a TTY, else plain.
    ``verbose`` shows every line of playbook steps, not one recap line per host."""
    stream = stream or sys.stdout
    if log_format == "json":
        return JsonProgress(stream)
    if stream is sys.stdout and stream.isatty() and os.environ.get("TERM") != "dumb":
        return LiveProgress(verbose)
    return PlainProgress(stream, verbose)

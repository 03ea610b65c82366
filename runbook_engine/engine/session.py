"""Starting and resuming runs: everything between "the CLI has a checked runbook and
the operator's options" and "the scheduler runs" — vars, window, inventory, lock,
journal, what a resume may and may not do, the report at the end."""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook_engine.engine.approvals import RunOperator, recorded_answers
from runbook_engine.engine.context import RunContext
from runbook_engine.engine.evaluation import Evaluator, RunView
from runbook_engine.engine.outcome import (
    EXIT_CODES,
    SKIPPED,
    StepOutcome,
    result_from_journal,
)
from runbook_engine.engine.progress import Progress
from runbook_engine.engine.scheduler import Restored, Run
from runbook_engine.engine.window import outside_window
from runbook_engine.errors import InventoryError, RunbookError, RunError
from runbook_engine.executors.base import NamedCheck
from runbook_engine.executors.manual import OperatorAnswer, check_answer, parse_gate
from runbook_engine.executors.registry import executor_classes
from runbook_engine.graph import build_graph
from runbook_engine.model import Runbook, Step
from runbook_engine.redaction import MASK
from runbook_engine.templating import Renderer
from runbook_engine.variables import ResolvedVars, resolve_vars

#: Copy of the runbook text kept in the run directory, to show what changed on resume.
RUNBOOK_COPY = "runbook.yaml"
#: Seconds resume waits for a killed runner's commands to die before refusing.
ORPHAN_GRACE = 10.0


@dataclass(frozen=True)
class RunOptions:
    """What the operator asked for on the command line."""

    runs_dir: Path
    initiator: str
    yes: bool = False
    interactive: bool = False
    inventory: str | None = None
    outside_window: bool = False
    report_dir: Path | None = None
    concurrency: int = 4
    workdir: Path = field(default_factory=Path.cwd)


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    status: str
    exit_code: int
    dir: Path


@dataclass(frozen=True)
class ResumeOptions:
    confirm: Sequence[str] = ()
    inputs: Mapping[str, str] = field(default_factory=dict)
    rerun: Sequence[str] = ()
    skip: Sequence[str] = ()
    allow_changed: bool = False
    cli_vars: Mapping[str, str] = field(default_factory=dict)


def all_checks() -> dict[str, NamedCheck]:
    checks: dict[str, NamedCheck] = {}
    for cls in executor_classes().values():
        checks.update(getattr(cls, "checks", {}) or {})
    return checks


def lock_key(runbook: Runbook, inventory: str | None) -> str:
    return f"{Path(runbook.path).resolve()}|{Path(inventory).resolve() if inventory else '-'}"


def inventory_path(runbook: Runbook, given: str | None) -> str | None:
    """``--inventory`` wins; the runbook's ``inventory:`` is relative to its file."""
    if given:
        return given
    if runbook.inventory:
        path = Path(runbook.inventory)
        return str(path if path.is_absolute() else Path(runbook.path).parent / path)
    return None


def load_hosts(runbook: Runbook, path: str | None) -> Any:
    """The inventory, with every step's ``hosts:`` pattern checked before anything runs."""
    targeted = [s for s in runbook.all_steps() if s.hosts] + [
        p.step for p in runbook.prerequisites if p.step and p.step.hosts
    ]
    if not targeted and path is None:
        return None
    if path is None:
        raise RunError(
            f"step {targeted[0].id!r} targets hosts {targeted[0].hosts!r} but no inventory was given",
            span=targeted[0].span,
            hint="pass --inventory PATH or set inventory: in the runbook",
        )
    from runbook_engine.inventory import load_inventory

    inventory = load_inventory(path)
    for step in targeted:
        if step.hosts and "{{" not in step.hosts:
            try:
                inventory.select(step.hosts)
            except InventoryError as exc:
                raise InventoryError(
                    f"step {step.id!r}: {exc.message}",
                    span=step.key_spans.get("hosts", step.span),
                    hint=exc.hint,
                ) from None
    return inventory


def journaled_vars(runbook: Runbook, values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: MASK if runbook.vars[name].secret else value for name, value in values.items()}


def _channels(runbook: Runbook, renderer: Renderer, warn: Callable[[str], None]) -> dict[str, Any]:
    channels: dict[str, Any] = {}
    for name, spec in runbook.notify.items():
        try:
            channels[name] = renderer.render(spec)
        except RunbookError as exc:
            warn(f"notify channel {name!r} left out: {exc}")
    return channels


def _context(
    runbook: Runbook,
    resolved: ResolvedVars,
    journal: Any,
    progress: Progress,
    options: RunOptions,
    initiator: str,
    inventory: Any,
    inv_path: str | None,
) -> RunContext:
    qualified = {s.id: s.qualified_id for s in runbook.all_steps()}
    checks = all_checks()
    ctx = RunContext(
        runbook=runbook,
        values=resolved.values,
        secrets=resolved.secrets,
        journal=journal,
        progress=progress,
        evaluator=Evaluator(checks),
        view=RunView(resolved.values, qualified, checks),
        initiator=initiator,
        inventory=inventory,
        inventory_path=inv_path,
        workdir=options.workdir,
        concurrency=options.concurrency,
    )
    ctx.channels = _channels(runbook, ctx.renderer, lambda text: ctx.show("warning", text=text))
    return ctx


def _drive(run: Run, progress: Progress) -> str:
    """Run the scheduler with Ctrl-C and SIGTERM turned into a graceful stop."""

    async def main() -> str:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, run.interrupt)
        try:
            return await run.execute()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)

    try:
        return asyncio.run(main())
    finally:
        progress.close()


def _offer_rollback(options: RunOptions, progress: Progress) -> Callable[[str], bool]:
    def offer(reason: str) -> bool:
        if not options.interactive:
            return False
        with progress.suspend():
            sys.stderr.write(f"\n{reason}. Roll back what ran? [y/N] ")
            sys.stderr.flush()
            try:
                return sys.stdin.readline().strip().lower() in ("y", "yes")
            except (OSError, KeyboardInterrupt):
                return False

    return offer


def _finish(journal: Any, status: str, runbook: Runbook, options: RunOptions) -> RunSummary:
    code = EXIT_CODES[status]
    journal.close(status, code)
    _write_reports(journal, runbook, options.report_dir)
    return RunSummary(journal.run_id, status, code, journal.dir)


def _write_reports(journal: Any, runbook: Runbook, report_dir: Path | None) -> None:
    """Markdown and JSON reports in the run directory (and ``--report-dir``), both
    rendered from one summary of the journal."""
    from runbook_engine.report import build_report
    from runbook_engine.report.inputs import planned_steps
    from runbook_engine.report.jsonfmt import render_json
    from runbook_engine.report.markdown import render_markdown

    budgets = {
        "total_duration": runbook.window.max_duration,
        "downtime": runbook.window.downtime_budget,
    }
    report = build_report(
        journal.events(), success=runbook.success, budgets=budgets, planned=planned_steps(runbook)
    )
    targets = [journal.dir] + ([report_dir] if report_dir is not None else [])
    for render, suffix in ((render_markdown, "md"), (render_json, "json")):
        text = render(report)
        for target in targets:
            target.mkdir(parents=True, exist_ok=True)
            name = "report" if target == journal.dir else journal.run_id
            (target / f"{name}.{suffix}").write_text(text, encoding="utf-8")


# -- a new run ----------------------------------------------------------------------


def start_run(
    runbook: Runbook,
    resolved: ResolvedVars,
    options: RunOptions,
    progress: Progress,
    *,
    now: datetime | None = None,
) -> RunSummary:
    """Run ``runbook`` from the start. Raises `RunbookError` for anything refused
    before the first step (window, inventory, lock)."""
    from runbook_engine.journal import Journal, RunLock

    graph = build_graph(runbook)
    why_outside = outside_window(runbook.window, now or datetime.now(UTC))
    if why_outside and not options.outside_window:
        raise RunError(
            f"outside the change window: {why_outside}",
            hint="pass --outside-window to run anyway (recorded in the journal)",
        )
    inv_path = inventory_path(runbook, options.inventory)
    inventory = load_hosts(runbook, inv_path)
    lock = RunLock(options.runs_dir, lock_key(runbook, inv_path)).acquire()
    try:
        journal = Journal.create(
            options.runs_dir,
            runbook_name=runbook.name,
            runbook_path=str(Path(runbook.path).resolve()),
            runbook_sha256=runbook.source_sha256,
            vars_sha256=resolved.sha256,
            inventory=inv_path,
            initiator=options.initiator,
        )
        lock.record_run(journal.run_id)
        with contextlib.suppress(OSError):
            (journal.dir / RUNBOOK_COPY).write_text(
                Path(runbook.path).read_text(encoding="utf-8"), encoding="utf-8"
            )
        ctx = _context(
            runbook, resolved, journal, progress, options, options.initiator, inventory, inv_path
        )
        operator = _operator(ctx, options, progress)
        ctx.emit(
            "run_started",
            run_id=journal.run_id,
            runbook=runbook.name,
            title=runbook.label,
            path=str(runbook.path),
            vars=journaled_vars(runbook, resolved.values),
            inventory=inv_path,
            initiator=options.initiator,
            outside_window=why_outside if why_outside else None,
        )
        if why_outside:
            ctx.show("warning", text=f"running outside the change window: {why_outside}")
        run = Run(ctx, graph, operator, offer_rollback=_offer_rollback(options, progress))
        status = _drive(run, progress)
        return _finish(journal, status, runbook, options)
    finally:
        lock.release()


def _operator(ctx: RunContext, options: RunOptions, progress: Progress) -> RunOperator:
    def record(action: str, step: str, answer: OperatorAnswer) -> None:
        ctx.emit(
            "operator",
            action=action,
            step=step,
            by=answer.by,
            inputs=dict(answer.inputs),
            auto=answer.auto,
        )

    return RunOperator(
        initiator=ctx.initiator,
        acting_as=options.initiator,
        yes=options.yes,
        interactive=options.interactive,
        suspend=progress.suspend,
        record=record,
    )


# -- resuming -----------------------------------------------------------------------


def changed_runbook(journal: Any, runbook: Runbook) -> str | None:
    """A unified diff between the runbook the run started with and the one now, or
    None when they are the same."""
    if runbook.source_sha256 == journal.meta.get("runbook_sha256"):
        return None
    copy = journal.dir / RUNBOOK_COPY
    before = copy.read_text(encoding="utf-8").splitlines(keepends=True) if copy.exists() else []
    after = Path(runbook.path).read_text(encoding="utf-8").splitlines(keepends=True)
    diff = "".join(difflib.unified_diff(before, after, "runbook at start", "runbook now"))
    return diff or "(the original text is not kept in the run directory)"


def resume_vars(
    runbook: Runbook, journaled: Mapping[str, Any], cli_vars: Mapping[str, str]
) -> ResolvedVars:
    """The run's var values again: journaled ones (secrets were not journaled and come
    from their env var or ``--var`` again), overridden by ``--var``."""
    given: dict[str, Any] = {k: v for k, v in journaled.items() if v != MASK and k in runbook.vars}
    given.update(cli_vars)
    return resolve_vars(runbook, given, (), os.environ)


def _alive(pid: int, start: int | None) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if start is None:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[19]) == start and fields[0] != "Z"
    except (OSError, ValueError, IndexError):
        return True  # the leader is gone but its group lives on


def check_orphans(
    events: Sequence[Mapping[str, Any]], steps: Sequence[str], grace: float = ORPHAN_GRACE
) -> None:
    """Refuse to go on while a recorded command of an interrupted step still runs."""
    recorded = [
        (e["step"], int(e["pid"]), e.get("proc_start"))
        for e in events
        if e.get("event") == "step_pid" and e.get("step") in steps and isinstance(e.get("pid"), int)
    ]
    deadline = time.monotonic() + grace
    while True:
        living = [(s, p) for s, p, start in recorded if _alive(p, start)]
        if not living or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    if living:
        step, pid = living[0]
        raise RunError(
            f"step {step!r} still has a running command (process group {pid}) from the interrupted run",
            hint=f"wait for it or stop it (kill -TERM -{pid}), then resume",
        )


def restore(runbook: Runbook, events: Sequence[Mapping[str, Any]], state: Any) -> Restored:
    """The outcomes a resumed run starts from."""
    outcomes: dict[str, StepOutcome] = {}
    order: list[str] = []
    for event in events:
        if event.get("event") == "step_finished" and isinstance(event.get("step"), str):
            if event["step"] in order:
                order.remove(event["step"])
            order.append(event["step"])
    for step_id, st in state.steps.items():
        if st.status in ("succeeded", "failed", "skipped", "rolled_back", "cancelled"):
            result = result_from_journal(st.result)
            by_host = (st.result or {}).get("captures_by_host") or {}
            outcomes[step_id] = StepOutcome(
                status=st.status,
                result=result,
                captures=dict(st.captures),
                host_captures={str(h): dict(c) for h, c in by_host.items()},
                attempts=st.attempts,
                error=(st.result or {}).get("error"),
            )
    rollback_reason = None
    if state.rollback is not None and state.rollback.status is None:
        rollback_reason = state.rollback.reason or "rollback interrupted"
    attempts = {sid: st.attempts for sid, st in state.steps.items()}
    return Restored(
        outcomes=outcomes,
        completion_order=[sid for sid in order if sid in outcomes],
        rollback_reason=rollback_reason,
        attempts=attempts,
    )


def _find_step(runbook: Runbook, step_id: str) -> Step | None:
    for step in runbook.all_steps():
        if step.id == step_id:
            return step
        if step.undo is not None and step.undo.id == step_id:
            return step.undo
    for index, item in enumerate(runbook.prerequisites):
        sid = item.step.id if item.step else f"prerequisite-{index + 1}"
        if sid == step_id:
            return item.step or Step(
                id=sid, phase="prerequisites", executor="manual", spec=item.text
            )
    return None


def resume_run(
    journal: Any,
    runbook: Runbook,
    options: RunOptions,
    resume: ResumeOptions,
    progress: Progress,
) -> RunSummary:
    """Continue a paused or interrupted run. Refuses (RunError) what would be unsafe:
    a finished run, a changed runbook or vars, a live orphan, an interrupted
    non-idempotent step the operator has not decided about."""
    from runbook_engine.journal import RunLock, replay
    from runbook_engine.journal.replay import FINAL_STATUSES

    events = journal.events()
    state = replay(events)
    if state.status in FINAL_STATUSES:
        raise RunError(
            f"run {journal.run_id} already finished ({state.status})",
            hint="start a new run with `runbook run`",
        )
    diff = changed_runbook(journal, runbook)
    if diff is not None and not resume.allow_changed:
        raise RunError(
            f"the runbook changed since run {journal.run_id} started:\n{diff}",
            hint="resume with --allow-changed to continue with the new text (recorded)",
        )
    resolved = resume_vars(runbook, state.vars, resume.cli_vars)
    if resolved.sha256 != journal.meta.get("vars_sha256") and not resume.allow_changed:
        now = journaled_vars(runbook, resolved.values)
        changed = sorted(k for k in set(now) | set(state.vars) if now.get(k) != state.vars.get(k))
        what = (
            ", ".join(changed)
            if changed
            else "a secret var (give it again with --var or its env var)"
        )
        raise RunError(
            f"the vars differ from those run {journal.run_id} started with: {what}",
            hint="pass the same values, or --allow-changed",
        )
    graph = build_graph(runbook)
    inv_path = journal.meta.get("inventory") or inventory_path(runbook, options.inventory)
    inventory = load_hosts(runbook, inv_path)
    lock = RunLock(options.runs_dir, lock_key(runbook, inv_path), run_id=journal.run_id).acquire()
    try:
        initiator = state.initiator or str(journal.meta.get("initiator") or options.initiator)
        ctx = _context(
            runbook, resolved, journal, progress, options, initiator, inventory, inv_path
        )
        ctx.started -= _seconds_since(state.started_at)  # the run's whole duration
        restored = restore(runbook, events, state)
        ask = _ask_terminal if options.interactive else None
        _decide_interrupted(ctx, runbook, events, state, resume, restored, options.initiator, ask)
        operator = _operator(ctx, options, progress)
        operator.initiator = initiator
        _record_confirmations(ctx, runbook, state, resume, options.initiator, initiator)
        operator.recorded = recorded_answers(
            [e for e in journal.events() if e.get("event") == "operator"]
        )
        for event in events:
            if event.get("event") == "paused" and isinstance(event.get("deadline"), int | float):
                operator.deadlines[event["step"]] = float(event["deadline"])
        ctx.emit(
            "resumed",
            by=options.initiator,
            run_id=journal.run_id,
            allow_changed=bool(diff) or None,
        )
        run = Run(ctx, graph, operator, restored, offer_rollback=_offer_rollback(options, progress))
        status = _drive(run, progress)
        return _finish(journal, status, runbook, options)
    finally:
        lock.release()


def _seconds_since(ts: str | None) -> float:
    """Seconds since the run started (0 when the journal has no start time), so the
    final line of a resumed run gives its whole duration, not the last session's."""
    if not ts:
        return 0.0
    try:
        began = datetime.fromisoformat(ts)
    except ValueError:
        return 0.0
    return max((datetime.now(UTC) - began).total_seconds(), 0.0)


def _decide_interrupted(
    ctx: RunContext,
    runbook: Runbook,
    events: Sequence[Mapping[str, Any]],
    state: Any,
    resume: ResumeOptions,
    restored: Restored,
    by: str,
    ask: Callable[[str], str] | None,
) -> None:
    """An interrupted step runs again only if idempotent or ``--rerun``; ``--skip``
    records it skipped; otherwise the operator is asked at a terminal, and without
    one resume refuses."""
    check_orphans(events, state.interrupted)
    for step_id in resume.rerun:
        if step_id not in state.interrupted:
            raise RunError(
                f"--rerun {step_id}: that step was not interrupted",
                hint=f"interrupted: {', '.join(state.interrupted) or 'none'}",
            )
    for step_id in state.interrupted:
        step = _find_step(runbook, step_id)
        if step is None:
            raise RunError(f"interrupted step {step_id!r} is not in the runbook any more")
        choice = "skip" if step_id in resume.skip else "rerun" if step_id in resume.rerun else None
        if choice is None and not step.idempotent:
            question = f"step {step_id!r} was interrupted while running and is not idempotent; it may have done part of its work"
            if ask is None:
                raise RunError(
                    question,
                    hint=f"check what it did, then resume with --rerun {step_id} or --skip {step_id}",
                )
            answer = ask(f"{question}. [r]erun, [s]kip or [a]bort? ").strip().lower()[:1]
            choice = {"r": "rerun", "s": "skip"}.get(answer)
            if choice is None:
                raise RunError(f"resume abandoned at interrupted step {step_id!r}")
        if choice == "skip":
            ctx.emit("operator", action="skip", step=step_id, by=by, source="resume")
            outcome = StepOutcome(
                status=SKIPPED, error="skipped by the operator after an interruption"
            )
            ctx.emit(
                "step_finished",
                step=step_id,
                phase=step.phase,
                status=SKIPPED,
                result=None,
                attempt=0,
                captures={},
                error=outcome.error,
                duration=0.0,
            )
            restored.outcomes[step_id] = outcome
            restored.completion_order.append(step_id)
        elif choice == "rerun":
            ctx.emit("operator", action="rerun", step=step_id, by=by, source="resume")


def _ask_terminal(question: str) -> str:
    sys.stderr.write(question)
    sys.stderr.flush()
    return sys.stdin.readline()


def _record_confirmations(
    ctx: RunContext,
    runbook: Runbook,
    state: Any,
    resume: ResumeOptions,
    by: str,
    initiator: str,
) -> None:
    for step_id in resume.confirm:
        if step_id not in state.pending_confirmations:
            waiting = ", ".join(state.pending_confirmations) or "none"
            raise RunError(
                f"--confirm {step_id}: that step is not waiting for an operator",
                hint=f"waiting: {waiting}",
            )
        step = _find_step(runbook, step_id)
        gate = parse_gate(ctx.renderer.render(step.spec if step else ""))
        answer = OperatorAnswer(by=by, at="", inputs=dict(resume.inputs))
        _, refused = check_answer(gate, answer, initiator)
        if refused:
            raise RunError(
                f"--confirm {step_id}: {refused}",
                hint="--as NAME says who confirms; --input NAME=VALUE gives inputs",
            )
        ctx.emit(
            "operator",
            action="approve" if gate.approval else "confirm",
            step=step_id,
            by=by,
            inputs=dict(resume.inputs),
            source="resume",
        )

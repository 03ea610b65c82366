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
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook_engine.engine.approvals import RunOperator, announce_gate, open_votes
from runbook_engine.engine.context import RunContext
from runbook_engine.engine.evaluation import Evaluator, RunView
from runbook_engine.engine.operator_actions import (
    ActionRequest,
    RunStanding,
    Transaction,
    commit,
    find_step,
    plan_actions,
    split_inputs,
)
from runbook_engine.engine.outcome import (
    EXIT_CODES,
    SKIPPED,
    SUCCEEDED,
    StepOutcome,
    result_from_journal,
)
from runbook_engine.engine.progress import Progress
from runbook_engine.engine.rerun import RerunPlan, apply_rerun, check_resumable, plan_rerun
from runbook_engine.engine.run_reports import write_run_reports
from runbook_engine.engine.scheduler import Restored, Run
from runbook_engine.engine.votes import gate_for, signed_identity, standing_of
from runbook_engine.engine.window import outside_window
from runbook_engine.errors import InventoryError, RunbookError, RunError
from runbook_engine.executors.base import NamedCheck
from runbook_engine.executors.registry import executor_classes
from runbook_engine.gates import OperatorAnswer
from runbook_engine.graph import build_graph
from runbook_engine.identity import Identity
from runbook_engine.journal.events import (
    Operator,
    OperatorAction,
    Resumed,
    RunStarted,
    StepFinished,
    StepPid,
    decode_all,
)
from runbook_engine.journal.state import state_dir
from runbook_engine.model import Runbook
from runbook_engine.redaction import MASK
from runbook_engine.templating import Renderer
from runbook_engine.variables import ResolvedVars, resolve_vars
from runbook_engine.vocabulary import RunStatus

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
    #: ``--input STEP.NAME=VALUE``: inputs of gates, given up front.
    inputs: Mapping[str, str] = field(default_factory=dict)
    #: Where locks and the installation key live (journal/state.py).
    state_dir: Path = field(default_factory=state_dir)
    #: Who acts, as verified (the CLI: the OS user, see identity.py); None means the
    #: library caller vouches for ``initiator``.
    identity: Identity | None = None

    @property
    def acting(self) -> Identity:
        return self.identity or Identity(name=self.initiator, method="api")


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    status: str
    exit_code: int
    dir: Path


@dataclass(frozen=True)
class ResumeOptions:
    confirm: Sequence[str] = ()
    reject: Sequence[str] = ()
    inputs: Mapping[str, str] = field(default_factory=dict)
    #: Sign the votes with this SSH key (verified against the gate's allowed_signers).
    sign_key: Path | None = None
    rerun: Sequence[str] = ()
    skip: Sequence[str] = ()
    allow_changed: bool = False
    cli_vars: Mapping[str, str] = field(default_factory=dict)
    #: Surgical resume (engine/rerun.py): run again from this step on …
    from_step: str | None = None
    #: … or run this fan-out step again on its failed hosts only.
    retry_failed_hosts: str | None = None
    #: Shown the plan under the run lock; False abandons the resume (nothing runs).
    approve: Callable[[RerunPlan], bool] | None = None


def all_checks() -> dict[str, NamedCheck]:
    checks: dict[str, NamedCheck] = {}
    for cls in executor_classes().values():
        checks.update(getattr(cls, "checks", {}) or {})
    return checks


def lock_key(runbook_path: str | Path, inventory: str | None) -> str:
    """The identity one lock guards: the runbook file and the inventory, as real
    paths, so the same pair named two ways is still one lock."""
    return f"{Path(runbook_path).resolve()}|{Path(inventory).resolve() if inventory else '-'}"


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


def _drive(run: Run, progress: Progress) -> RunStatus:
    """Run the scheduler with Ctrl-C and SIGTERM turned into a graceful stop."""

    async def main() -> RunStatus:
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


def _finish(journal: Any, status: RunStatus, runbook: Runbook, options: RunOptions) -> RunSummary:
    code = EXIT_CODES[status]
    journal.close(status, code)
    _write_reports(journal, runbook, options.report_dir)
    return RunSummary(journal.run_id, status, code, journal.dir)


def _write_reports(journal: Any, runbook: Runbook, report_dir: Path | None) -> None:
    """Markdown and JSON reports in the run directory (and ``--report-dir``)."""
    from runbook_engine.report.inputs import inputs_of

    inputs = inputs_of(runbook)
    write_run_reports(
        journal.dir,
        journal.run_id,
        journal.events(),
        success=inputs.success,
        budgets=inputs.budgets,
        report_dir=report_dir,
        planned=inputs.steps,
        durations=inputs.durations,
    )


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
    preset = plan_actions(
        ActionRequest(by=options.initiator, inputs=options.inputs, source="run"),
        runbook,
        RunStanding(waiting=(), interrupted=(), finished=()),
        Renderer(dict(resolved.values), {"run": {"id": ""}}).render,
        options.initiator,
    ).preset
    inv_path = inventory_path(runbook, options.inventory)
    if inv_path is not None:
        inv_path = str(Path(inv_path).resolve())  # a resume from elsewhere finds it again
    lock = RunLock(options.state_dir, lock_key(runbook.path, inv_path)).acquire()
    try:
        inventory = load_hosts(runbook, inv_path)
        journal = Journal.create(
            options.runs_dir,
            runbook_name=runbook.name,
            runbook_path=str(Path(runbook.path).resolve()),
            runbook_sha256=runbook.source_sha256,
            vars_sha256=resolved.sha256,
            inventory=inv_path,
            initiator=options.initiator,
            state_dir=options.state_dir,
        )
        lock.record_run(journal.run_id)
        with contextlib.suppress(OSError):
            (journal.dir / RUNBOOK_COPY).write_text(
                Path(runbook.path).read_text(encoding="utf-8"), encoding="utf-8"
            )
        ctx = _context(
            runbook, resolved, journal, progress, options, options.initiator, inventory, inv_path
        )
        operator = _operator(ctx, options, progress, preset)
        ctx.emit(
            RunStarted(
                run_id=journal.run_id,
                runbook=runbook.name,
                title=runbook.label,
                path=str(runbook.path),
                vars=journaled_vars(runbook, resolved.values),
                inventory=inv_path,
                initiator=options.initiator,
                initiator_identity=options.acting.record(),
                outside_window=why_outside if why_outside else None,
            )
        )
        if why_outside:
            ctx.show("warning", text=f"running outside the change window: {why_outside}")
        run = Run(ctx, graph, operator, offer_rollback=_offer_rollback(options, progress))
        status = _drive(run, progress)
        return _finish(journal, status, runbook, options)
    finally:
        lock.release()


def _operator(
    ctx: RunContext,
    options: RunOptions,
    progress: Progress,
    preset: Mapping[str, Mapping[str, Any]],
) -> RunOperator:
    identity = options.acting

    def record(action: str, step: str, answer: OperatorAnswer) -> None:
        ctx.emit(
            Operator(
                action=action,
                step=step,
                by=answer.by,
                identity=identity.record(),
                inputs=dict(answer.inputs),
                auto=answer.auto,
            )
        )

    def record_vote(action: str, step: str, answer: OperatorAnswer) -> None:
        """A vote at the terminal: one operator transaction, like a resume's."""
        vote = OperatorAction(action, step, dict(answer.inputs))
        commit(ctx.emit, Transaction(answer.by, "terminal", (vote,), identity=identity))

    return RunOperator(
        initiator=ctx.initiator,
        acting_as=identity.name,
        identity=identity,
        yes=options.yes,
        interactive=options.interactive,
        suspend=progress.suspend,
        record=record,
        record_vote=record_vote,
        announce=lambda request, votes: announce_gate(ctx, request, votes),
        preset={step: dict(values) for step, values in preset.items()},
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
        (line.event.step, line.event.pid, line.event.proc_start)
        for line in decode_all(events, StepPid)
        if isinstance(line.event, StepPid) and line.event.step in steps
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
    """The outcomes a resumed run starts from. ``attempts`` counts the attempts that
    reached a verdict, so the retry budget spans every resume; an attempt cut short
    (interrupted, paused, cancelled) is made again under the same number."""
    outcomes: dict[str, StepOutcome] = {}
    order: list[str] = []
    for line in decode_all(events, StepFinished):
        assert isinstance(line.event, StepFinished)
        if line.event.step in order:
            order.remove(line.event.step)
        order.append(line.event.step)
    for step_id, st in state.steps.items():
        if st.status in ("succeeded", "failed", "skipped", "rolled_back"):
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
    judged = {
        sid: st.attempts - (0 if sid in outcomes else 1) for sid, st in state.steps.items()
    }
    return Restored(
        outcomes=outcomes,
        completion_order=[sid for sid in order if sid in outcomes],
        rollback_reason=rollback_reason,
        attempts={sid: max(0, n) for sid, n in judged.items()},
    )


def _restore_secret_captures(
    ctx: RunContext, runbook: Runbook, journal: Any, restored: Restored
) -> None:
    """Put the real captures of finished ``secret_output`` steps back in place of
    the journal's mask (and keep redacting them)."""
    secret_steps = [
        sid
        for sid, outcome in restored.outcomes.items()
        if outcome.status == SUCCEEDED
        and (step := find_step(runbook, sid)) is not None
        and step.secret_output
        and step.capture
    ]
    if not secret_steps:
        return
    sealed = journal.unsealed()
    for sid in secret_steps:
        if sid not in sealed:
            raise RunError(
                f"secret captures of step {sid!r} cannot be restored: they are not in"
                f" {journal.dir / 'secrets.sealed'}",
                hint="later steps would get the mask instead of the value; start a new run",
            )
        kept = sealed[sid]
        outcome = restored.outcomes[sid]
        restored.outcomes[sid] = replace(
            outcome,
            captures=dict(kept.get("captures") or {}),
            host_captures={str(h): dict(c) for h, c in (kept.get("host_captures") or {}).items()},
        )
        values = [v for v in (kept.get("captures") or {}).values() if isinstance(v, str)]
        values += [
            v
            for by_host in (kept.get("host_captures") or {}).values()
            for v in by_host.values()
            if isinstance(v, str)
        ]
        ctx.add_secrets(values)


def _refuse_unless_resumable(journal: Any, state: Any) -> None:
    from runbook_engine.journal.replay import FINAL_STATUSES

    if state.status in FINAL_STATUSES and state.status != "cancelled":
        raise RunError(
            f"run {journal.run_id} already finished ({state.status})",
            hint="start a new run with `runbook run`",
        )


def _verified_events(journal: Any) -> list[dict[str, Any]]:
    """The journal's events, only if `verify` accepts the journal."""
    from runbook_engine.journal import verify_run

    problems = verify_run(journal)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise RunError(
            f"run {journal.run_id}: the journal does not verify: {problems[0]}{more}",
            hint=f"`runbook verify {journal.run_id}` lists every problem; a journal that does"
            " not verify is never resumed",
        )
    events: list[dict[str, Any]] = journal.events()
    return events


def resume_run(
    journal: Any,
    load_runbook: Callable[[], Runbook],
    options: RunOptions,
    resume: ResumeOptions,
    progress: Progress,
    *,
    now: datetime | None = None,
) -> RunSummary:
    """Continue a paused, interrupted or cancelled run.

    The run's lock comes first, before the journal or the runbook is read; then the
    journal must verify. Refuses (RunError, nothing written) what would be unsafe: a
    finished run, a changed runbook or vars, a live orphan, an interrupted
    non-idempotent step the operator has not decided about, operator actions that
    do not all hold, a closed change window without ``--outside-window``.
    """
    from runbook_engine.journal import RunLock, replay

    key = lock_key(str(journal.meta.get("runbook_path")), journal.meta.get("inventory"))
    lock = RunLock(options.state_dir, key, run_id=journal.run_id).acquire()
    try:
        events = _verified_events(journal)
        state = replay(events)
        surgical = bool(resume.from_step or resume.retry_failed_hosts)
        if surgical:
            check_resumable(journal.run_id, state.status, state.rollback)
        else:
            _refuse_unless_resumable(journal, state)
        runbook = load_runbook()
        diff = changed_runbook(journal, runbook)
        if diff is not None and not resume.allow_changed:
            raise RunError(
                f"the runbook changed since run {journal.run_id} started:\n{diff}",
                hint="resume with --allow-changed to continue with the new text (recorded)",
            )
        why_outside = outside_window(runbook.window, now or datetime.now(UTC))
        if why_outside and not options.outside_window:
            raise RunError(
                f"outside the change window: {why_outside}",
                hint="pass --outside-window to resume anyway (recorded in the journal)",
            )
        resolved = resume_vars(runbook, state.vars, resume.cli_vars)
        _refuse_changed_vars(journal, runbook, resolved, state, resume)
        graph = build_graph(runbook)
        inv_path = journal.meta.get("inventory") or inventory_path(runbook, options.inventory)
        inventory = load_hosts(runbook, inv_path)
        initiator = state.initiator or str(journal.meta.get("initiator") or options.initiator)
        ctx = _context(
            runbook, resolved, journal, progress, options, initiator, inventory, inv_path
        )
        ctx.started -= _seconds_since(state.started_at)  # the run's whole duration
        restored = restore(runbook, events, state)
        _restore_secret_captures(ctx, runbook, journal, restored)
        plan = None
        if surgical:
            plan = _surgical_plan(journal.run_id, state, graph, restored, resume)
            if resume.approve is not None and not resume.approve(plan):
                raise RunError("resume abandoned: nothing was run")
            apply_rerun(plan, restored)
            ctx.retry_hosts = dict(plan.retry)
            again = tuple(s for s in state.interrupted if s in plan.targets and s not in resume.rerun)
            resume = replace(resume, rerun=(*resume.rerun, *again))
        check_orphans(events, state.interrupted)
        request = _with_terminal_choices(
            runbook, state, resume, _ask_terminal if options.interactive else None
        )
        standing = standing_of(events, state)
        identity = options.acting
        signatures: dict[str, dict[str, Any]] = {}
        if resume.sign_key is not None:
            identity, signatures = _signed(ctx, runbook, events, request, resume.sign_key, identity)
        transaction = plan_actions(
            ActionRequest(
                by=identity.name,
                identity=identity,
                confirm=request.confirm,
                reject=resume.reject,
                inputs=request.inputs,
                rerun=request.rerun,
                skip=request.skip,
                signatures=signatures,
            ),
            runbook,
            standing,
            ctx.renderer.render,
            initiator,
        )
        commit(ctx.emit, transaction)
        for action in transaction.actions:
            if action.late:
                ctx.show(
                    "warning",
                    text=f"{action.step}: answered after its deadline; it takes its on_timeout",
                )
            if action.action == "skip":
                _record_skipped(ctx, runbook, action.step, restored)
        for step_id in [*request.confirm, *resume.reject]:
            votes = operator_votes(journal.events(), step_id)
            gate = gate_for(runbook, step_id, ctx.renderer)
            if gate.required > 1 and votes < gate.required:
                ctx.show("message", text=f"{step_id}: {votes} of {gate.required} approvals recorded")
        operator = _operator(ctx, options, progress, transaction.preset)
        operator.initiator = initiator
        operator.votes = open_votes(journal.events())
        operator.deadlines.update(standing.deadlines)
        if plan is not None:
            ctx.emit(
                Operator(
                    action="retry_failed_hosts" if resume.retry_failed_hosts else "rerun_from",
                    step=resume.retry_failed_hosts or resume.from_step,
                    by=options.initiator,
                    source="resume",
                    how=plan.how,
                    rerun=tuple(plan.rerun),
                    hosts=plan.hosts(),
                )
            )
        ctx.emit(
            Resumed(
                by=options.initiator,
                run_id=journal.run_id,
                allow_changed=bool(diff) or None,
                outside_window=why_outside or None,
            )
        )
        if why_outside:
            ctx.show("warning", text=f"resuming outside the change window: {why_outside}")
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


def operator_votes(events: Sequence[Mapping[str, Any]], step_id: str) -> int:
    """How many distinct people approved ``step_id``'s current wait."""
    votes = open_votes(events).get(step_id, [])
    return len({v.by for v in votes if v.action != "reject" and not v.late})


def _signed(
    ctx: RunContext,
    runbook: Runbook,
    events: Sequence[Mapping[str, Any]],
    request: ResumeOptions,
    key: Path,
    claimed: Identity,
) -> tuple[Identity, dict[str, dict[str, Any]]]:
    """``--sign-key``: each vote of this resume signed and verified (engine/votes.py)."""
    by_step, _ = split_inputs(request.inputs, runbook, request.confirm)
    votes = [(step, "approve", by_step.get(step, {})) for step in request.confirm]
    votes += [(step, "reject", {}) for step in request.reject]
    return signed_identity(ctx.run_id, runbook, ctx.renderer, events, votes, key, claimed)


def _surgical_plan(
    run_id: str, state: Any, graph: Any, restored: Restored, resume: ResumeOptions
) -> RerunPlan:
    if resume.from_step and resume.retry_failed_hosts:
        raise RunError("give --from or --retry-failed-hosts, not both")
    return plan_rerun(
        run_id,
        state.status,
        graph,
        restored.outcomes,
        from_step=resume.from_step,
        retry_hosts_of=resume.retry_failed_hosts,
    )


def preview_resume(journal: Any, runbook: Runbook, resume: ResumeOptions) -> RerunPlan:
    """What a surgical resume would run again (``--dry-run``); reads the journal
    only. The resume itself decides again under the run lock."""
    from runbook_engine.journal import replay

    events = journal.events()
    state = replay(events)
    check_resumable(journal.run_id, state.status, state.rollback)
    restored = restore(runbook, events, state)
    return _surgical_plan(journal.run_id, state, build_graph(runbook), restored, resume)


def _refuse_changed_vars(
    journal: Any, runbook: Runbook, resolved: ResolvedVars, state: Any, resume: ResumeOptions
) -> None:
    if resolved.sha256 == journal.meta.get("vars_sha256") or resume.allow_changed:
        return
    now = journaled_vars(runbook, resolved.values)
    changed = sorted(k for k in set(now) | set(state.vars) if now.get(k) != state.vars.get(k))
    what = (
        ", ".join(changed) if changed else "a secret var (give it again with --var or its env var)"
    )
    raise RunError(
        f"the vars differ from those run {journal.run_id} started with: {what}",
        hint="pass the same values, or --allow-changed",
    )


def _with_terminal_choices(
    runbook: Runbook, state: Any, resume: ResumeOptions, ask: Callable[[str], str] | None
) -> ResumeOptions:
    """The request completed with the operator's choice for every interrupted
    non-idempotent step it does not decide: asked at a terminal, else refused. An
    interrupted idempotent step simply runs again."""
    rerun, skip = list(resume.rerun), list(resume.skip)
    for step_id in state.interrupted:
        step = find_step(runbook, step_id)
        if step is None:
            raise RunError(f"interrupted step {step_id!r} is not in the runbook any more")
        if step_id in rerun or step_id in skip or step.idempotent:
            continue
        question = f"step {step_id!r} was interrupted while running and is not idempotent; it may have done part of its work"
        if ask is None:
            raise RunError(
                question,
                hint=f"check what it did, then resume with --rerun {step_id} or --skip {step_id}",
            )
        answer = ask(f"{question}. [r]erun, [s]kip or [a]bort? ").strip().lower()[:1]
        if answer == "r":
            rerun.append(step_id)
        elif answer == "s":
            skip.append(step_id)
        else:
            raise RunError(f"resume abandoned at interrupted step {step_id!r}")
    return replace(resume, rerun=tuple(rerun), skip=tuple(skip))


def _record_skipped(ctx: RunContext, runbook: Runbook, step_id: str, restored: Restored) -> None:
    step = find_step(runbook, step_id)
    outcome = StepOutcome(status=SKIPPED, error="skipped by the operator after an interruption")
    ctx.emit(
        StepFinished(
            step=step_id,
            phase=step.phase if step else None,
            status=SKIPPED,
            result=None,
            attempt=0,
            captures={},
            error=outcome.error,
            duration=0.0,
        )
    )
    restored.outcomes[step_id] = outcome
    restored.completion_order.append(step_id)


def _ask_terminal(question: str) -> str:
    sys.stderr.write(question)
    sys.stderr.flush()
    return sys.stdin.readline()

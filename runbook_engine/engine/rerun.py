"""Surgical resume: what ``runbook resume RUN --from STEP`` and
``--retry-failed-hosts STEP`` run again, and what they leave alone.

``--from STEP`` forgets the outcome of STEP and of every step that depends on it
(later phases, later steps of its phase, ``needs:`` chains), so they run again; steps
that ran before it keep their results. ``--retry-failed-hosts STEP`` runs a fan-out
step again on the hosts that failed only, and the step's result is the hosts that had
succeeded (their recorded fields) together with the retried ones. Either way the
earlier attempts stay in the journal and the report; the new attempts are numbered
after them.

A run may be resumed this way when it failed, was cancelled or was interrupted — never
while it is alive (the run lock decides) and never once a rollback started: the hosts
are no longer in the state the recorded results describe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runbook_engine.engine.outcome import FAILED, SKIPPED, SUCCEEDED, StepOutcome
from runbook_engine.errors import RunError
from runbook_engine.executors.base import Result
from runbook_engine.graph import StepGraph
from runbook_engine.vocabulary import host_failed

#: Run statuses a surgical resume accepts ("running" with no live runner: interrupted).
RESUMABLE = frozenset({"failed", "cancelled", "running", "paused"})


@dataclass(frozen=True)
class HostRetry:
    """A fan-out step re-run on some hosts: which ones, and the result it had."""

    hosts: frozenset[str]
    previous: Result

    def merged(self, new: Result) -> Result:
        """The retried hosts' new fields over the hosts that had succeeded, in the
        step's host order. Top-level fields are the retry's (the kept hosts had
        succeeded, so the worst rc and the failure counts are the retry's)."""
        hosts = {
            name: dict(new.hosts[name]) if name in new.hosts else dict(fields)
            for name, fields in self.previous.hosts.items()
        }
        for name, fields in new.hosts.items():
            hosts.setdefault(name, dict(fields))
        return Result(ok=new.ok, fields=new.fields, hosts=hosts, error=new.error, duration=new.duration)


@dataclass(frozen=True)
class RerunPlan:
    """What the surgical resume will do, for the preview and for the engine."""

    run_id: str
    status: str
    how: str  # "--from STEP" or "--retry-failed-hosts STEP"
    rerun: tuple[str, ...]
    keep: tuple[str, ...]
    first_time: tuple[str, ...]
    retry: Mapping[str, HostRetry] = field(default_factory=dict)
    #: Every step whose recorded outcome is set aside (it runs again if it ran).
    targets: frozenset[str] = frozenset()

    def preview(self) -> list[str]:
        status = "interrupted" if self.status == "running" else self.status  # no live runner
        lines = [f"run {self.run_id} ({status}), resume {self.how}:"]
        for step_id, retry in self.retry.items():
            kept = [h for h in retry.previous.hosts if h not in retry.hosts]
            lines.append(f"  {step_id} runs again on {', '.join(sorted(retry.hosts))} only")
            lines.append(f"    keeps its result on {', '.join(kept) or 'no host'}")
        if not self.retry:
            lines.append(f"  runs again ({len(self.rerun)}): {', '.join(self.rerun) or 'nothing'}")
        lines.append(f"  runs for the first time ({len(self.first_time)}): {', '.join(self.first_time) or 'nothing'}")
        lines.append(f"  keeps its result, not run again ({len(self.keep)}): {', '.join(self.keep) or 'nothing'}")
        lines.append("  the earlier attempts stay in the journal and the report")
        return lines

    def hosts(self) -> dict[str, list[str]]:
        """Step → the hosts it runs again on (``--retry-failed-hosts``)."""
        return {s: sorted(r.hosts) for s, r in self.retry.items()}


def _released(graph: StepGraph, outcome: StepOutcome | None, step_id: str) -> bool:
    if outcome is None:
        return False
    if outcome.status in (SUCCEEDED, SKIPPED):
        return True
    step = graph.steps[step_id]
    return outcome.status == FAILED and step.on_failure in ("continue", "goto") and not step.critical


def check_resumable(run_id: str, status: str, rollback: Any) -> None:
    if rollback is not None:
        raise RunError(
            f"run {run_id} started a rollback: its hosts are no longer where its results say",
            hint="start a new run with `runbook run`",
        )
    if status not in RESUMABLE:
        raise RunError(
            f"run {run_id} {status}: only a failed, cancelled or interrupted run can be resumed from a step",
            hint="start a new run with `runbook run`",
        )


def plan_rerun(
    run_id: str,
    status: str,
    graph: StepGraph,
    outcomes: Mapping[str, StepOutcome],
    *,
    from_step: str | None = None,
    retry_hosts_of: str | None = None,
) -> RerunPlan:
    """The plan for ``--from`` or ``--retry-failed-hosts`` over the recorded outcomes."""
    target = from_step or retry_hosts_of
    assert target is not None
    option = "--from" if from_step else "--retry-failed-hosts"
    if target not in graph.steps:
        raise RunError(
            f"{option} {target}: no such step in the runbook's phases",
            hint="give the id of a phase step (prerequisites and rollback steps cannot be resumed from)",
        )
    order = [s.id for s in graph.order()]
    for ancestor in sorted(graph.ancestors(target), key=graph.position.__getitem__):
        if not _released(graph, outcomes.get(ancestor), ancestor):
            shown = outcomes[ancestor].status if ancestor in outcomes else "not run"
            raise RunError(
                f"{option} {target}: step {ancestor!r}, which runs before it, is {shown}",
                hint=f"resume --from {ancestor}",
            )
    retry: dict[str, HostRetry] = {}
    if retry_hosts_of:
        outcome = outcomes.get(target)
        if outcome is None or outcome.result is None or not outcome.result.hosts:
            raise RunError(
                f"--retry-failed-hosts {target}: the step has no per-host result to retry",
                hint=f"resume --from {target} runs it again on every host",
            )
        failed = frozenset(h for h, f in outcome.result.hosts.items() if host_failed(f))
        if outcome.status != FAILED or not failed:
            raise RunError(
                f"--retry-failed-hosts {target}: no host of that step failed (it {outcome.status})",
                hint=f"resume --from {target} runs it again on every host",
            )
        retry[target] = HostRetry(failed, outcome.result)
        rerun_set = {target}
    else:
        rerun_set = {target} | {s for s in order if target in graph.ancestors(s)}
    rerun = tuple(s for s in order if s in rerun_set and s in outcomes)
    first_time = tuple(s for s in order if s not in outcomes or (s in rerun_set and s not in rerun))
    first_time = tuple(s for s in first_time if s not in rerun)
    keep = tuple(s for s in order if s in outcomes and s not in rerun_set)
    return RerunPlan(
        run_id=run_id,
        status=status,
        how=f"{option} {target}",
        rerun=rerun,
        keep=keep,
        first_time=first_time,
        retry=retry,
        targets=frozenset(rerun_set),
    )


def apply_rerun(plan: RerunPlan, restored: Any) -> None:
    """Set aside the recorded outcomes the plan runs again (a `Restored`)."""
    for step_id in plan.targets:
        restored.outcomes.pop(step_id, None)
    restored.completion_order[:] = [s for s in restored.completion_order if s not in plan.targets]

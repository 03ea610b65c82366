"""A runbook as the checklist a human would follow: the shape of the hand-written seed
(overview, window, prerequisites, phases with budgets, commands, expected outcomes,
rollback, decision matrix, success metrics), generated from the YAML so the two never
drift apart. Values given with ``--var`` are filled in; the others stay readable
placeholders such as ``{{ version }}``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml
from jinja2 import Undefined
from jinja2.sandbox import SandboxedEnvironment

from runbook_engine.durations import format_duration
from runbook_engine.errors import PredicateError
from runbook_engine.executors.base import StepCall
from runbook_engine.executors.registry import executor_classes
from runbook_engine.explain.evidence import RunEvidence, StepEvidence
from runbook_engine.model import Runbook, Step
from runbook_engine.shell_values import ShellCommand
from runbook_engine.templating import has_template


class Placeholder(Undefined):
    """Renders an unknown name back as ``{{ name }}``, keeping attribute chains."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return Placeholder(name=f"{self._undefined_name}.{name}")

    def __getitem__(self, key: Any) -> Any:
        return Placeholder(name=f"{self._undefined_name}[{key!r}]")

    def __str__(self) -> str:
        return "{{ " + str(self._undefined_name) + " }}"

    def __iter__(self) -> Any:
        return iter(())


_ENV = SandboxedEnvironment(undefined=Placeholder, autoescape=False, keep_trailing_newline=False)
_ENV.filters["raw"] = lambda value: value
_ENV.filters["quote"] = lambda value: value


def _render(value: Any, context: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        if not has_template(value):
            return value
        try:
            return _ENV.from_string(value).render(context)
        except Exception:  # explain shows the template as written rather than failing
            return value
    if isinstance(value, list):
        return [_render(v, context) for v in value]
    if isinstance(value, dict):
        return {k: _render(v, context) for k, v in value.items()}
    return value


def _command_as_written(text: str, host: Any = None) -> ShellCommand:
    return ShellCommand.plain(text)


def _as_written(value: Any, host: Any = None) -> Any:
    """Explain has rendered the spec already (with placeholders); executors describe it as is."""
    return value


def predicate_words(text: str, checks: Mapping[str, Any] | None = None) -> str:
    """A predicate in plain words, or as written if it does not parse."""
    from runbook_engine import predicates

    try:
        return str(predicates.to_words(predicates.parse(text, checks=checks or {}), checks=checks or {}))
    except PredicateError:
        return f"`{text}`"


#: The code fence language of each executor's command, for syntax highlighting.
_FENCE = {"shell": "bash", "ssh": "bash", "ansible": "bash", "http": "http"}


def fence_language(executor: str, spec: Any) -> str:
    """``bash`` for commands, ``sql`` for queries, ``http`` for requests, else ``text``."""
    if executor == "sql":
        return "sql" if isinstance(spec, Mapping) and ("query" in spec or "script" in spec) else "text"
    return _FENCE.get(executor, "text")


class Checklist:
    def __init__(
        self, runbook: Runbook, values: Mapping[str, Any], evidence: RunEvidence | None = None
    ) -> None:
        self.runbook = runbook
        self.evidence = evidence
        self.context = {**values, "vars": dict(values)}
        self.secret_names = {name for name, spec in runbook.vars.items() if spec.secret}
        for name in self.secret_names:
            if name in values:
                self.context[name] = "***"
                self.context["vars"][name] = "***"
        self.classes = executor_classes()
        self.lines: list[str] = []

    def out(self, text: str = "") -> None:
        self.lines.append(text)

    def render(self) -> str:
        rb = self.runbook
        self.out(f"# {rb.label}")
        self.out()
        if self.evidence is not None:
            self.run_summary()
        self.overview()
        self.variables()
        self.prerequisites()
        self.out("## Procedure")
        self.out()
        for number, phase in enumerate(rb.phases, 1):
            heading = f"### Phase {number}: {phase.label}"
            if phase.budget:
                heading += f" ({format_duration(phase.budget)})"
            self.out(heading)
            self.out()
            if phase.downtime == "begins":
                self.out("⏱️ **Application downtime begins with this phase.**")
                self.out()
            if phase.downtime == "ends":
                self.out("⏱️ **Application downtime ends when this phase completes.**")
                self.out()
            if phase.description:
                self.out(phase.description.strip())
                self.out()
            for index, step in enumerate(phase.steps, 1):
                self.step(f"{number}.{index}", step)
        self.rollback()
        self.decisions()
        self.success()
        return "\n".join(self.lines).rstrip() + "\n"

    def overview(self) -> None:
        rb = self.runbook
        self.out("## Overview")
        self.out()
        if rb.description:
            self.out(f"- **Purpose**: {rb.description.strip()}")
        if rb.frequency:
            self.out(f"- **Frequency**: {rb.frequency}")
        if rb.owners:
            self.out(f"- **Performed by**: {', '.join(rb.owners)}")
        window = rb.window
        if window.max_duration:
            self.out(f"- **Maximum duration**: {format_duration(window.max_duration)}")
        if window.downtime_budget:
            self.out(f"- **Downtime budget**: {format_duration(window.downtime_budget)}")
        if window.schedule:
            self.out(f"- **Window**: {window.schedule}")
        if window.not_before or window.not_after:
            self.out(f"- **Allowed between**: {window.not_before or '…'} and {window.not_after or '…'} ({window.timezone})")
        declared = _render(rb.inventory, self.context) if rb.inventory else None
        used = self.evidence.report.inventory if self.evidence else None
        if used:  # the fleet this run changed, which --inventory may have chosen
            named = f"; the runbook names `{declared}`" if declared and declared != used else ""
            self.out(f"- **Inventory**: `{used}` (this run's{named})")
        elif declared:
            self.out(f"- **Inventory**: `{declared}`")
        self.out()

    def variables(self) -> None:
        if not self.runbook.vars:
            return
        self.out("## Inputs")
        self.out()
        self.out("| Variable | Type | Value | Description |")
        self.out("|---|---|---|---|")
        for name, spec in self.runbook.vars.items():
            if spec.secret:
                value = "(secret" + (f", from ${spec.env}" if spec.env else "") + ")"
            elif name in self.context["vars"]:
                shown = self.context["vars"][name]
                if spec.type == "duration" and isinstance(shown, int | float):
                    shown = format_duration(shown)
                value = f"`{shown}`"
            elif spec.required:
                value = "**required**"
            else:
                value = "(none)"
            self.out(f"| `{name}` | {spec.type} | {value} | {_cell(spec.description)} |")
        self.out()

    def prerequisites(self) -> None:
        items = self.runbook.prerequisites
        if not items:
            return
        self.out("## Prerequisites")
        self.out()
        for index, item in enumerate(items):
            sid = item.step.id if item.step else f"prerequisite-{index + 1}"
            box = self.box(sid)
            if item.step is None:
                line = f"- {box} {item.text}"
            else:
                command = self.command(item.step)
                line = f"- {box} {item.text} — checked by running `{command.splitlines()[0] if command else item.step.executor}`"
            if self.evidence is not None:
                line += " — " + _prerequisite_evidence(self.evidence.steps.get(sid))
            self.out(line)
        self.out()

    def command(self, step: Step) -> str:
        return self.describe(step.executor, step.spec, step.id)

    def describe(self, executor: str, raw: Any, step_id: str) -> str:
        cls = self.classes.get(executor)
        spec = _render(raw, {**self.context, "host": Placeholder(name="host")})
        if cls is not None:
            call = StepCall(
                step_id=step_id,
                spec=spec,
                render=_as_written,
                render_command=_command_as_written,
            )
            try:
                lines = cls().describe(call)
            except Exception:  # an executor's describe must never break explain
                lines = []
            if lines:
                return "\n".join(str(line) for line in lines)
        if isinstance(spec, str):
            return spec
        return yaml.safe_dump(spec, sort_keys=False, allow_unicode=True).strip()

    def step(self, number: str, step: Step) -> None:
        self.out(f"#### {number} {step.label}")
        self.out()
        if step.description:
            self.out(step.description.strip())
            self.out()
        facts = [f"executor: `{step.executor}`"]
        if step.hosts:
            facts.append(f"on hosts `{step.hosts}`")
        if step.needs is not None:
            facts.append("after " + (", ".join(f"`{n}`" for n in step.needs) or "the start of the phase"))
        self.out("*" + "; ".join(facts) + "*")
        self.out()
        if step.when:
            self.out(f"Only if {predicate_words(step.when, self._checks(step))}.")
            self.out()
        if step.executor == "manual":
            self.gate(step)
        elif step.executor == "monitor":
            self.monitor(step)
        else:
            self.fence(step.executor, step.spec, self.command(step))
        if step.expect:
            self.out(f"✅ **Expected**: {predicate_words(step.expect, self._checks(step))}")
        if step.until:
            self.out(f"🔁 **Repeat until**: {predicate_words(step.until, self._checks(step))}")
        if step.retries:
            self.out(f"🔁 Retried up to {step.retries} time(s), {format_duration(step.delay)} apart")
        if step.timeout:
            self.out(f"⏲️ Times out after {format_duration(step.timeout)}")
        for name, source in step.capture.items():
            self.out(f"💡 **Save** `{name}` (from `{source}`) — later steps use it")
        if step.critical:
            self.out("⚠️ **Critical**: a failure here triggers the rollback")
        if step.on_failure == "rollback":
            self.out("❌ **On failure**: roll back (see Rollback)")
        elif step.on_failure == "continue":
            self.out("❌ **On failure**: note it and continue")
        elif step.on_failure == "goto":
            self.out(f"❌ **On failure**: go to `{step.goto}`")
        if step.undo is not None:
            self.out(f"↩️ **Undo during rollback**: `{self.command(step.undo).splitlines()[0]}`")
        if self.lines[-1]:  # a step with no outcome lines already ends with a blank line
            self.out()
        if self.evidence is not None:
            self.step_evidence(step)

    def fence(self, executor: str, spec: Any, command: str) -> None:
        if not command:
            return
        self.out(f"```{fence_language(executor, spec)}")
        self.out(command)
        self.out("```")
        self.out()

    def box(self, step_id: str) -> str:
        """A checklist box, ticked where the run's evidence says the item succeeded."""
        seen = self.evidence.steps.get(step_id) if self.evidence else None
        return "[x]" if seen is not None and seen.row.status == "succeeded" else "[ ]"

    def gate(self, step: Step) -> None:
        """A manual gate as the operator meets it: what to confirm, who may, the inputs
        to give, and what happens when nobody answers in time."""
        from runbook_engine.errors import ExecutorError
        from runbook_engine.gates import parse_gate

        try:
            gate = parse_gate(_render(step.spec, self.context))
        except ExecutorError:
            self.fence("manual", step.spec, self.command(step))
            return
        kind = "Approval" if gate.approval else "Confirm"
        self.out(f"- {self.box(step.id)} **{kind}**: {gate.prompt.strip()}")
        if gate.approvers:
            self.out(f"  - Approvers: {', '.join(gate.approvers)}")
        if gate.distinct:
            self.out("  - The approver must not be the person who started the run")
        for spec in gate.inputs:
            detail = [spec.type] if spec.type != "string" else []
            if spec.pattern:
                detail.append(f"matching `{spec.pattern}`")
            if spec.choices:
                detail.append("one of " + ", ".join(f"`{c}`" for c in spec.choices))
            if not spec.required:
                detail.append("optional")
            what = f" ({', '.join(detail)})" if detail else ""
            about = f": {spec.description}" if spec.description else ""
            self.out(f"  - Input `{spec.name}`{what}{about}")
        if step.timeout:
            self.out(f"  - Timeout: {format_duration(step.timeout)}, then {_ON_TIMEOUT[gate.on_timeout]}")
        else:
            self.out("  - No timeout: the run waits until someone answers")
        if not gate.allow_yes:
            self.out("  - `--yes` does not answer it: a person must")
        self.out()

    def monitor(self, step: Step) -> None:
        """A monitor as prose (window, interval) and its probe as the probe's command."""
        spec = _render(step.spec, self.context)
        if not isinstance(spec, Mapping) or not isinstance(spec.get("probe"), Mapping):
            self.fence("monitor", step.spec, self.command(step))
            return
        probe = dict(spec["probe"])
        key = next((k for k in probe if k in self.classes), None)
        window, every = spec.get("for"), spec.get("every")
        hosts = f" on hosts `{probe['hosts']}`" if probe.get("hosts") else ""
        self.out(
            f"Watch for {_duration_words(window)}, one sample every {_duration_words(every)}{hosts}; "
            "the decision matrix is checked on every sample."
        )
        self.out()
        if key is not None:
            self.fence(key, probe[key], self.describe(key, probe[key], step.id))

    def run_summary(self) -> None:
        assert self.evidence is not None
        report = self.evidence.report
        from runbook_engine.report.text import duration_text, timestamp

        self.out(
            f"> **Evidence from run `{report.run_id or '?'}`**: {report.status}"
            + (f" (exit {report.exit_code})" if report.exit_code is not None else "")
            + f", started {timestamp(report.started_at)} by {report.initiator or '?'}, "
            f"took {duration_text(report.total_duration)}. Each step below shows what ran."
        )
        self.out()

    def step_evidence(self, step: Step) -> None:
        assert self.evidence is not None
        from runbook_engine.report.text import duration_text, timestamp

        seen = self.evidence.steps.get(step.id)
        if seen is None:
            self.out("> **In this run**: not run")
            self.out()
            return
        row = seen.row
        mark = {"succeeded": "PASS", "failed": "FAIL", "skipped": "SKIPPED"}.get(row.status, row.status.upper())
        attempts = f", {row.attempts} attempts" if row.attempts > 1 else ""
        who = f", confirmed by {seen.confirmed_by}" if seen.confirmed_by else ""
        self.out(
            f"> **In this run**: **{mark}** ({row.status}) at {timestamp(row.started_at)}, "
            f"took {duration_text(row.duration)}{attempts}{who}"
            + (f" — {row.error}" if row.error and row.status != "succeeded" else "")
        )
        for host in seen.hosts:
            verdict = {True: "ok", False: "failed", None: "—"}[host.ok]
            detail = f", {host.detail}" if host.detail else ""
            self.out(f"> - `{host.host}`: {verdict}{detail}")
        if seen.output:
            self.out(">")
            self.out("> ```text")
            cut = len(seen.output) - 3 if seen.omitted else len(seen.output)
            for index, line in enumerate(seen.output):
                if seen.omitted and index == cut:
                    self.out(f"> … {seen.omitted} more lines …")
                self.out(f"> {line}")
            self.out("> ```")
        self.out()

    def _checks(self, step: Step) -> Mapping[str, Any]:
        cls = self.classes.get(step.executor)
        return dict(getattr(cls, "checks", {}) or {}) if cls else {}

    def rollback(self) -> None:
        rb = self.runbook
        if not rb.rollback:
            return
        self.out(f"### Phase {len(rb.phases) + 1}: {rb.rollback_title or 'Rollback'} (if required)")
        self.out()
        triggers = [d.condition for d in rb.decisions if d.action == "rollback"]
        if triggers:
            self.out("⚠️ **Execute rollback if**:")
            for condition in triggers:
                self.out(f"- {condition}")
            self.out()
        if rb.rollback_undo:
            self.out("Completed steps that declare an `undo` are reversed first, newest first.")
            self.out()
        for index, step in enumerate(rb.rollback, 1):
            self.step(f"{len(rb.phases) + 1}.{index}", step)

    def decisions(self) -> None:
        if not self.runbook.decisions:
            return
        self.out("## Rollback Decision Matrix")
        self.out()
        taken: dict[str, str] = {}
        if self.evidence is not None:
            from runbook_engine.report.text import timestamp

            for d in self.evidence.report.decisions:
                where = f" after step {d['step']}" if d.get("step") else ""
                taken.setdefault(str(d.get("condition")), f"taken at {timestamp(d.get('ts'))}{where}")
        extra = " In this run |" if self.evidence is not None else ""
        self.out("| Condition | Severity | Action | Triggered when |" + extra)
        self.out("|---|---|---|---|" + ("---|" if extra else ""))
        for decision in self.runbook.decisions:
            words = predicate_words(decision.when)
            window = decision.window(self.context["vars"])
            row = f"| {_cell(decision.condition)} | {decision.severity.upper()} | {_cell(decision_action(decision, window))} | {_cell(words)} |"
            if extra:
                row += f" {taken.get(decision.condition, 'not taken')} |"
            self.out(row)
        self.out()

    def success(self) -> None:
        if not self.runbook.success:
            return
        self.out("## Success Metrics")
        self.out()
        verdicts = {v.metric: v for v in self.evidence.report.verdicts} if self.evidence else {}
        for metric, target in self.runbook.success.items():
            line = f"- {metric.replace('_', ' ').capitalize()}: `{target}`"
            verdict = verdicts.get(metric)
            if verdict is not None:
                from runbook_engine.report.text import metric_text

                line += f" — this run: {metric_text(metric, verdict.value)}, **{verdict.outcome.upper()}**"
            self.out(line)
        self.out()


_ON_TIMEOUT = {"abort": "the run aborts", "rollback": "the run rolls back", "continue": "the run goes on"}


def decision_action(decision: Any, window: float | None) -> str:
    """The action as the seed's matrix words it: ``Immediate rollback``, ``Rollback
    after 10 min monitoring``, ``Investigate``, plus the decision's description;
    ``window`` is its ``after`` in seconds (which may come from a var)."""
    if decision.action == "rollback":
        action = f"Rollback after {_minutes(window)} monitoring" if window else "Immediate rollback"
    elif decision.action == "abort":
        action = f"Abort after {_minutes(window)}" if window else "Abort the run"
    else:
        action = decision.action.capitalize()
    description = (decision.description or "").strip()
    if not description:
        return action
    if description.lower().startswith(action.split()[0].lower()):
        return description  # it says the action in its own words already
    return f"{action}. {description}"


def _minutes(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return format_duration(seconds)


def _duration_words(value: Any) -> str:
    from runbook_engine.durations import parse_duration

    try:
        return format_duration(parse_duration(value))
    except ValueError:
        return str(value)


def _prerequisite_evidence(seen: StepEvidence | None) -> str:
    if seen is None:
        return "not checked in this run"
    who = f" by {seen.confirmed_by}" if seen.confirmed_by else ""
    from runbook_engine.report.text import timestamp

    return f"{seen.row.status}{who} at {timestamp(seen.row.started_at)}"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def render_checklist(
    runbook: Runbook, values: Mapping[str, Any], evidence: RunEvidence | None = None
) -> str:
    """The Markdown checklist for ``runbook`` with ``values`` filled in; with
    ``evidence``, what a real run did next to each item."""
    return Checklist(runbook, values, evidence).render()

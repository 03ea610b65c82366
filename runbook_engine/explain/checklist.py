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


class Checklist:
    def __init__(self, runbook: Runbook, values: Mapping[str, Any]) -> None:
        self.runbook = runbook
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
        if rb.inventory:
            self.out(f"- **Inventory**: `{_render(rb.inventory, self.context)}`")
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
        for item in items:
            if item.step is None:
                self.out(f"- [ ] {item.text}")
            else:
                command = self.command(item.step)
                self.out(f"- [ ] {item.text} — checked by running `{command.splitlines()[0] if command else item.step.executor}`")
        self.out()

    def command(self, step: Step) -> str:
        cls = self.classes.get(step.executor)
        spec = _render(step.spec, {**self.context, "host": Placeholder(name="host")})
        if cls is not None:
            call = StepCall(
                step_id=step.id,
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
        command = self.command(step)
        if command:
            lang = "bash" if step.executor in ("shell", "ssh") else "sql" if step.executor == "sql" else "yaml"
            self.out(f"```{lang}")
            self.out(command)
            self.out("```")
            self.out()
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
        self.out("| Condition | Severity | Action | Triggered when |")
        self.out("|---|---|---|---|")
        for decision in self.runbook.decisions:
            action = {"rollback": "Roll back", "abort": "Abort", "warn": "Warn", "investigate": "Investigate"}[decision.action]
            if decision.after:
                action += f" after {format_duration(decision.after)} of monitoring"
            elif decision.action == "rollback":
                action = "Immediate rollback"
            words = predicate_words(decision.when)
            self.out(f"| {_cell(decision.condition)} | {decision.severity.upper()} | {action} | {_cell(words)} |")
        self.out()

    def success(self) -> None:
        if not self.runbook.success:
            return
        self.out("## Success Metrics")
        self.out()
        for metric, target in self.runbook.success.items():
            self.out(f"- {metric.replace('_', ' ').capitalize()}: `{target}`")
        self.out()


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def render_checklist(runbook: Runbook, values: Mapping[str, Any]) -> str:
    """The Markdown checklist for ``runbook`` with ``values`` filled in."""
    return Checklist(runbook, values).render()

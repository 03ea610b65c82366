"""Every check lint runs on one runbook file, in data-flow order: load, schema, model,
graph, vars, templates, predicates. Each stage reports all it finds; a stage that
cannot run because an earlier one failed is skipped, never guessed at."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runbook_engine.errors import (
    LoadError,
    PredicateError,
    RunbookError,
    TemplateError,
    ValidationError,
)
from runbook_engine.executors.registry import executor_classes
from runbook_engine.graph import StepGraph, graph_findings
from runbook_engine.lint.effect_rules import changes_contradicted, changes_implausible
from runbook_engine.lint.gates import gate_findings
from runbook_engine.lint.step_rules import (
    bounds_findings,
    capture_findings,
    goto_findings,
    timezone_findings,
)
from runbook_engine.lint.template_rules import (
    raw_findings,
    shell_context_findings,
    sql_text_findings,
)
from runbook_engine.loader import MAX_BYTES, Document, escape, load_file
from runbook_engine.model import Runbook, Step, build_runbook, executor_keys
from runbook_engine.regex import HINT, RegexError, compile_pattern
from runbook_engine.schema import validate
from runbook_engine.templating import BUILTIN_NAMES, check_template, has_template, strings_in
from runbook_engine.variables import convert
from runbook_engine.vocabulary import PREDICATE_ROOTS, roots_supplied, step_names_supplied


@dataclass
class Analysis:
    """What lint learned about one file: its findings and how far it got."""

    path: str
    document: Document | None = None
    runbook: Runbook | None = None
    graph: StepGraph | None = None
    findings: list[RunbookError] = field(default_factory=list)
    unusable: bool = False
    #: The file's text when it could not be loaded, so a reporter can still show the
    #: offending line (undecodable bytes replaced).
    raw_text: str = ""

    @property
    def errors(self) -> list[RunbookError]:
        """The findings that make the runbook wrong (not the warnings)."""
        return [f for f in self.findings if f.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def line(self, number: int) -> str:
        """Source line ``number`` (1-based), or "" when there is none."""
        if self.document is not None:
            return self.document.line(number)
        lines = self.raw_text.splitlines()
        return lines[number - 1] if 0 < number <= len(lines) else ""


def analyze(path: str) -> Analysis:
    """Run every check on the runbook at ``path``."""
    result = Analysis(path=path)
    try:
        doc = load_file(path)
    except LoadError as exc:
        result.findings.append(exc)
        result.unusable = True
        if exc.span is not None:
            result.raw_text = _readable_text(path)
        return result
    return analyze_document(doc, result)


def _readable_text(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return ""


def analyze_document(doc: Document, result: Analysis | None = None) -> Analysis:
    """Every check on a loaded document, then the lint settings that apply to its file
    (config file and ``# runbook-lint: disable=…`` comments, lint/config.py)."""
    from runbook_engine.lint.config import apply, config_for

    result = _checked(doc, result)
    result.findings[:] = apply(result.findings, config_for(doc.path), doc)
    result.findings.sort(key=lambda f: (f.span.line, f.span.col) if f.span else (0, 0))
    return result


def _checked(doc: Document, result: Analysis | None) -> Analysis:
    result = result or Analysis(path=doc.path)
    result.document = doc
    findings = result.findings
    findings.extend(_executor_key_findings(doc))
    findings.extend(validate(doc))
    if findings:
        return result
    try:
        runbook = build_runbook(doc)
    except ValidationError as exc:
        findings.append(exc)
        return result
    result.runbook = runbook
    graph, problems = graph_findings(runbook)
    findings.extend(problems)
    result.graph = graph
    findings.extend(_var_findings(doc, runbook))
    findings.extend(gate_findings(doc, runbook))
    findings.extend(_rollout_findings(doc, runbook))
    findings.extend(bounds_findings(doc, runbook))
    findings.extend(timezone_findings(doc, runbook))
    findings.extend(capture_findings(doc, runbook, _executor_fields(), runbook_roots(runbook)))
    from runbook_engine.lint.rules import checks

    for rule in checks():  # the rules whose check lives in their own module
        assert rule.check is not None
        findings.extend(rule.check(doc, runbook, graph))
    if not problems:
        findings.extend(goto_findings(doc, runbook, graph))
        findings.extend(_template_findings(doc, runbook, graph))
        findings.extend(_predicate_findings(doc, runbook, graph))
        findings.extend(shell_context_findings(doc, runbook))
        findings.extend(sql_text_findings(doc, runbook))
        findings.extend(raw_findings(doc, runbook))
        findings.extend(changes_contradicted(doc, runbook))
        findings.extend(changes_implausible(doc, runbook))
    findings.sort(key=lambda f: (f.span.line, f.span.col) if f.span else (0, 0))
    return result


def _executor_fields() -> dict[str, tuple[Mapping[str, str], Mapping[str, str]]]:
    """(fields, host fields) of every installed executor, by step key."""
    return {
        key: (dict(getattr(cls, "fields", {}) or {}), dict(getattr(cls, "host_fields", {}) or {}))
        for key, cls in executor_classes().items()
    }


def _list(value: Any) -> list[Any]:
    """``value`` if it is a list; this runs before the schema, on any shape of data."""
    return value if isinstance(value, list) else []


def _steps_raw(doc: Document) -> Iterable[tuple[str, Mapping[str, Any]]]:
    data = doc.data if isinstance(doc.data, dict) else {}
    for i, phase in enumerate(_list(data.get("phases"))):
        if isinstance(phase, dict):
            for j, step in enumerate(_list(phase.get("steps"))):
                if isinstance(step, dict):
                    yield f"/phases/{i}/steps/{j}", step
    rollback = data.get("rollback")
    if isinstance(rollback, dict):
        for j, step in enumerate(_list(rollback.get("steps"))):
            if isinstance(step, dict):
                yield f"/rollback/steps/{j}", step
    for i, item in enumerate(_list(data.get("prerequisites"))):
        if isinstance(item, dict):
            yield f"/prerequisites/{i}", item


def _executor_key_findings(doc: Document) -> list[RunbookError]:
    known = set(executor_classes())
    findings: list[RunbookError] = []
    for ptr, raw in _steps_raw(doc):
        keys = executor_keys(raw)
        installed = [k for k in keys if k in known]
        if not keys:
            name = raw.get("id", "this step")
            findings.append(
                ValidationError(
                    f"step {name!r} has no executor key",
                    span=doc.span(ptr),
                    hint=f"add exactly one of: {', '.join(sorted(known))}",
                    rule="RB103",
                )
            )
        elif len(installed) > 1:
            findings.append(
                ValidationError(
                    f"step {raw.get('id', '?')!r} has more than one executor key: {', '.join(installed)}",
                    span=doc.key_span(f"{ptr}/{escape(installed[1])}"),
                    hint="split it into two steps",
                    rule="RB103",
                )
            )
    return findings


def _var_findings(doc: Document, runbook: Runbook) -> list[RunbookError]:
    findings: list[RunbookError] = []
    for spec in runbook.vars.values():
        ptr = f"/vars/{escape(spec.name)}"
        if spec.pattern is not None:
            try:
                compile_pattern(spec.pattern)
            except RegexError as exc:
                span = doc.inner_span(f"{ptr}/pattern", exc.pos) if exc.pos is not None else doc.span(f"{ptr}/pattern")
                findings.append(ValidationError(f"var {spec.name!r}: invalid pattern: {exc.msg}", span=span, hint=HINT, rule="RB110"))
                continue
        if spec.default is not None:
            try:
                convert(spec, spec.default, "its default")
            except RunbookError as exc:
                findings.append(ValidationError(exc.message.split(" (declared")[0], span=doc.span(f"{ptr}/default"), rule="RB110"))
        if spec.required and spec.default is not None:
            findings.append(
                ValidationError(
                    f"var {spec.name!r} is required but has a default",
                    span=doc.key_span(f"{ptr}/required"),
                    hint="drop one of them",
                    rule="RB111",
                )
            )
    return findings


def _rollout_findings(doc: Document, runbook: Runbook) -> list[RunbookError]:
    """Rollout keys (``serial``, ``forks``, …) only where they take effect: on a step
    with ``hosts:`` whose executor honours them (its ``rollout_keys``)."""
    classes = executor_classes()
    findings: list[RunbookError] = []
    for step in _with_undo(runbook.all_steps()):
        cls = classes.get(step.executor)
        honoured = frozenset(getattr(cls, "rollout_keys", ()) or ())
        for key in step.options:
            if not honoured:
                message = f"step {step.id!r}: the {step.executor} executor does not fan out over hosts, so {key!r} has no effect"
            elif key not in honoured:
                message = f"step {step.id!r}: the {step.executor} executor cannot honour {key!r} (it honours: {', '.join(sorted(honoured))})"
            elif not step.hosts:
                message = f"step {step.id!r} has no hosts:, so {key!r} has no effect"
            else:
                continue
            span = step.key_spans.get(key) or doc.span(f"{step.pointer}/{key}")
            findings.append(ValidationError(message, span=span, hint=f"remove {key}:", rule="RB114"))
    return findings


def _with_undo(steps: Iterable[Step]) -> Iterable[Step]:
    for step in steps:
        yield step
        if step.undo is not None:
            yield step.undo


def _template_findings(doc: Document, runbook: Runbook, graph: StepGraph) -> list[RunbookError]:
    known = set(runbook.vars) | BUILTIN_NAMES
    findings: list[RunbookError] = []
    prereq_steps = [p.step for p in runbook.prerequisites if p.step is not None]
    for step in _with_undo([*runbook.all_steps(), *prereq_steps]):
        for ptr, text in strings_in(step.spec, f"{step.pointer}/{escape(step.executor)}"):
            chains = _check_names(doc, ptr, text, known, findings)
            if chains:
                findings.extend(_step_refs(doc, runbook, graph, step, ptr, text, chains))
    for name, channel in runbook.notify.items():
        for ptr, text in strings_in(channel, f"/notify/{escape(name)}"):
            _check_names(doc, ptr, text, known, findings)
    return findings


def _check_names(
    doc: Document, ptr: str, text: str, known: set[str], findings: list[RunbookError]
) -> list[tuple[str, ...]]:
    """Report template syntax errors and undefined names in one string; return its
    ``steps.…`` chains for the reference checks."""
    if not has_template(text):
        return []
    try:
        names, chains = check_template(text)
    except TemplateError as exc:
        exc.span = doc.span(ptr)
        findings.append(exc)
        return []
    for name in sorted(names - known):
        offset = max(text.find(name), 0)
        findings.append(
            TemplateError(
                f"undefined template variable {name!r}",
                span=doc.inner_span(ptr, offset, len(name)),
                hint=_suggest(name, known) or "declare it under vars:",
                rule="RB202",
            )
        )
    return chains


def _step_refs(
    doc: Document, runbook: Runbook, graph: StepGraph, step: Step, ptr: str, text: str, chains: list[tuple[str, ...]]
) -> list[RunbookError]:
    """``steps.X.name`` in a template: X must exist, have finished before this step,
    and ``name`` must be one of its captures or status fields."""
    findings: list[RunbookError] = []
    all_ids = {s.id: s for s in runbook.all_steps()}
    for chain in chains:
        target_id = chain[0]
        offset = max(text.find(target_id), 0)
        span = doc.inner_span(ptr, offset, len(target_id))
        target = all_ids.get(target_id)
        if target is None:
            findings.append(TemplateError(f"unknown step {target_id!r} in steps.{'.'.join(chain)}", span=span, hint=_suggest(target_id, all_ids), rule="RB105"))
            continue
        if step.phase not in ("rollback",) and step.id in graph.steps and target_id not in graph.ancestors(step.id):
            findings.append(
                TemplateError(
                    f"steps.{target_id} is used before step {target_id!r} can have run",
                    span=span,
                    hint="add it to needs: or move this step after it",
                    rule="RB108",
                )
            )
        supplied = supplied_step_names(target)
        if len(chain) > 1 and chain[1] not in supplied:
            findings.append(
                TemplateError(
                    f"step {target_id!r} supplies no {chain[1]!r}",
                    span=span,
                    hint=_supplied_hint(chain[1], target, supplied),
                    rule="RB108",
                )
            )
    return findings


def supplied_step_names(step: Step) -> dict[str, str]:
    """What ``steps.<id>.<name>`` can name for ``step`` at run time (the vocabulary's
    rule, applied to the step's executor class and captures)."""
    cls = executor_classes().get(step.executor)
    fields = dict(getattr(cls, "fields", {}) or {}) if cls is not None else {}
    return step_names_supplied(step.capture, fields)


def _supplied_hint(name: str, step: Step, supplied: Mapping[str, str]) -> str:
    close = _suggest(name, supplied)
    listed = f"captures: {', '.join(sorted(step.capture)) or 'none'}; fields: " + ", ".join(
        n for n in supplied if n not in step.capture
    )
    return f"{close} ({listed})" if close else listed


def runbook_roots(runbook: Runbook) -> frozenset[str]:
    """The predicate roots a run of ``runbook`` supplies: the executors of its steps
    say which optional roots they bring (``supplies_roots``)."""
    classes = executor_classes()
    capabilities: set[str] = set()
    for step in _with_undo(runbook.all_steps()):
        cls = classes.get(step.executor)
        capabilities.update(getattr(cls, "supplies_roots", ()) or ())
    return roots_supplied(capabilities)


def _predicate_sources(runbook: Runbook) -> Iterable[tuple[Step | None, str, str, str]]:
    """(step, key, pointer, text) for every predicate in the runbook."""
    prereq_steps = [p.step for p in runbook.prerequisites if p.step is not None]
    for step in _with_undo([*runbook.all_steps(), *prereq_steps]):
        for key in ("expect", "when", "until"):
            text = getattr(step, key)
            if text is not None:
                yield step, key, f"{step.pointer}/{key}", text
    for decision in runbook.decisions:
        yield None, "when", f"{decision.pointer}/when", decision.when


def _predicate_findings(doc: Document, runbook: Runbook, graph: StepGraph) -> list[RunbookError]:
    from runbook_engine import predicates

    classes = executor_classes()
    supplied = runbook_roots(runbook)
    findings: list[RunbookError] = []
    for step, key, ptr, text in _predicate_sources(runbook):
        cls = classes.get(step.executor) if step is not None else None
        checks = dict(getattr(cls, "checks", {}) or {}) if cls else {}
        try:
            expr = predicates.parse(text, checks=checks)
        except PredicateError as exc:
            exc.span = doc.inner_span(ptr, exc.offset, exc.length)
            findings.append(exc)
            continue
        fields: dict[str, str] = {}
        host_fields: dict[str, str] = {}
        if step is not None and key in ("expect", "until") and cls is not None:
            fields = dict(getattr(cls, "fields", {}) or {})
            host_fields = dict(getattr(cls, "host_fields", {}) or {})
        problems, missing = _unsupplied_roots(expr, text, fields, supplied)
        problems += predicates.check_names(expr, fields, host_fields, supplied | missing)
        for problem in problems:
            problem.span = doc.inner_span(ptr, problem.offset, problem.length)
            findings.append(problem)
        for problem in _step_ref_findings(expr, text, runbook):
            problem.span = doc.inner_span(ptr, problem.offset, problem.length)
            findings.append(problem)
    return findings


def _unsupplied_roots(
    expr: Any, text: str, fields: Mapping[str, str], supplied: frozenset[str]
) -> tuple[list[PredicateError], set[str]]:
    """Known roots (``probe``) that no step of this runbook supplies, and their names."""
    from runbook_engine import predicates

    problems: list[PredicateError] = []
    names: set[str] = set()
    for node in predicates.walk(expr):
        if not isinstance(node, predicates.Path):
            continue
        name = node.root
        if name in fields or name in supplied or name not in PREDICATE_ROOTS:
            continue
        root = PREDICATE_ROOTS[name]
        givers = sorted(
            key for key, cls in executor_classes().items() if root.needs in (getattr(cls, "supplies_roots", ()) or ())
        )
        names.add(name)
        problems.append(PredicateError(
            f"{name!r} is never supplied in this runbook: no step supplies {root.description}",
            offset=node.offset,
            length=len(name),
            source=text,
            hint=f"add a {' or '.join(givers) or 'monitor'} step, or drop the reference",
            rule="RB300",
        ))
    return problems, names


def _step_ref_findings(expr: Any, text: str, runbook: Runbook) -> list[PredicateError]:
    """Steps a predicate names must exist: ``steps.X.…`` / ``steps["X"].…`` name one, and
    the glob of ``failed(verify.smoke-*)`` must match at least one (``any_host_failed``
    a phase) — at run time a glob that matches nothing is an error, so say it now."""
    from fnmatch import fnmatchcase

    from runbook_engine import predicates

    steps = [(s.qualified_id, s.id) for s in runbook.all_steps()]
    ids = {bare for _, bare in steps}
    phases = [p.id for p in runbook.phases]
    problems: list[PredicateError] = []
    for node in predicates.walk(expr):
        if isinstance(node, predicates.Path) and node.root == "steps" and node.segments:
            ref = node.segments[0]
            if isinstance(ref, str) and ref not in ids:
                at = text.find(ref, node.offset, node.offset + node.length)  # point at the id
                problems.append(
                    PredicateError(f"unknown step {ref!r}", offset=max(at, node.offset), length=len(ref),
                                   source=text, hint=_suggest(ref, ids), rule="RB105")
                )
            elif isinstance(ref, str) and len(node.segments) > 1 and isinstance(node.segments[1], str):
                target = runbook.step(ref)
                supplied = supplied_step_names(target)
                name = node.segments[1]
                if name not in supplied:
                    at = text.find(name, node.offset, node.offset + node.length)
                    problems.append(
                        PredicateError(f"step {ref!r} supplies no {name!r}", offset=max(at, node.offset),
                                       length=len(name), source=text,
                                       hint=_supplied_hint(name, target, supplied), rule="RB108")
                    )
            continue
        if not isinstance(node, predicates.StepQuery):
            continue
        if node.function == "any_host_failed":
            matched = any(fnmatchcase(phase, node.glob) for phase in phases)
            what, known = "phase", phases
        else:
            matched = any(fnmatchcase(q, node.glob) or fnmatchcase(b, node.glob) for q, b in steps)
            what, known = "step", [q for q, _ in steps]
        if not matched:
            problems.append(
                PredicateError(
                    f'no {what} matches "{node.glob}"',
                    offset=node.offset,
                    length=node.length,
                    source=text,
                    hint=_suggest(node.glob, known) or f"{what}s are named like {known[0] if known else '?'}",
                    rule="RB105",
                )
            )
    return problems


def _suggest(name: str, known: Iterable[str]) -> str | None:
    import difflib

    match = difflib.get_close_matches(name, sorted(known), n=1)
    return f"did you mean {match[0]!r}?" if match else None


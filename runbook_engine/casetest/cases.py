"""Test cases for a runbook: YAML → frozen `Case` values that keep the position of
every key, so a failed assertion or a bad stub says ``file:line:col``.

The format is described by ``schemas/runbook-test.schema.json`` and in
docs/testing-runbooks.md; `lint_cases` adds what a schema cannot know (step ids,
decision conditions, vars and hosts of the runbook under test).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from runbook_engine.durations import parse_duration
from runbook_engine.errors import RunbookError, Span, ValidationError
from runbook_engine.loader import Document, load_file, pointer
from runbook_engine.model import Runbook, Step

#: Suffix of the cases file found beside a runbook, and of the cases folder.
CASES_SUFFIX = ".tests"

#: Lists of step ids under ``expect:``.
STEP_LISTS = ("ran", "not_ran", "succeeded", "failed", "skipped", "rolled_back")


@lru_cache(maxsize=1)
def case_schema() -> dict[str, Any]:
    text = resources.files("runbook_engine.schemas").joinpath("runbook-test.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


@dataclass(frozen=True)
class StubResult:
    """What a stubbed executor returns for one attempt."""

    ok: bool | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    all: Mapping[str, Any] | None = None
    hosts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    error: str | None = None
    duration: float = 0.0
    samples: tuple[Mapping[str, Any], ...] | None = None


@dataclass(frozen=True)
class StepStub:
    """A step's stubbed results, one per attempt; the last one repeats."""

    step: str
    attempts: tuple[StubResult, ...]
    span: Span

    def for_attempt(self, number: int) -> StubResult:
        return self.attempts[min(number, len(self.attempts)) - 1]


@dataclass(frozen=True)
class Case:
    """One test case: the run's inputs, its stubs, and what the run must do."""

    name: str
    path: str
    span: Span
    #: JSON pointer of the case in its file (``/cases/3``).
    pointer: str = ""
    vars: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    inventory: str | Mapping[str, Any] | None = None
    stubs: Mapping[str, StepStub] = field(default_factory=dict)
    expect: Mapping[str, Any] = field(default_factory=dict)
    #: Position of each ``expect`` key (``"status"``, ``"decisions"``, …).
    expect_spans: Mapping[str, Span] = field(default_factory=dict)
    doc: Document | None = field(default=None, compare=False, repr=False)
    description: str = ""
    #: Stubs the case takes from ``defaults:`` (a finding there is the defaults' own).
    default_stubs: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CaseFile:
    path: str
    runbook: str | None
    cases: tuple[Case, ...]
    runbook_span: Span | None = None

    def wrong_runbook(self, runbook: Runbook) -> RunbookError | None:
        """RT106: the file names another runbook than the one under test."""
        if self.runbook is None or Path(self.runbook).resolve() == Path(runbook.path).resolve():
            return None
        return ValidationError(
            f"these cases are for {self.runbook}, not {runbook.path}",
            span=self.runbook_span,
            hint="test the runbook they name, or fix runbook: in the cases file",
            rule="RT106",
        )


def find_cases(runbook_path: str | Path) -> list[Path]:
    """``<runbook>.tests.yaml`` (or ``.yml``) and every YAML file in ``<runbook>.tests/``."""
    path = Path(runbook_path)
    stem = path.with_suffix("")
    found = [
        p for p in (Path(f"{stem}{CASES_SUFFIX}.yaml"), Path(f"{stem}{CASES_SUFFIX}.yml")) if p.is_file()
    ]
    folder = Path(f"{stem}{CASES_SUFFIX}")
    if folder.is_dir():
        found += sorted(p for p in folder.rglob("*.y*ml") if p.suffix in (".yaml", ".yml"))
    return found


def is_case_file(path: Path) -> bool:
    """Whether a YAML file belongs to a runbook's tests (``runbook lint`` skips them)."""
    return path.name.endswith((f"{CASES_SUFFIX}.yaml", f"{CASES_SUFFIX}.yml")) or any(
        part.endswith(CASES_SUFFIX) for part in path.parent.parts
    )


def load_case_file(path: str | Path) -> tuple[CaseFile | None, list[RunbookError]]:
    """The cases in ``path``, or the findings that make it unusable (schema first)."""
    from runbook_engine.schema import validate_against

    try:
        doc = load_file(path)
    except RunbookError as exc:
        return None, [exc]
    findings: list[RunbookError] = []
    for finding in validate_against(doc, case_schema()):
        finding.rule = "RT100"
        findings.append(finding)
    if findings:
        return None, findings
    data = doc.data
    defaults = data.get("defaults") or {}
    cases = []
    for index, raw in enumerate(data["cases"]):
        try:
            cases.append(_case(doc, raw, index, defaults))
        except RunbookError as exc:
            findings.append(exc)
    runbook = data.get("runbook")
    if runbook is not None:
        runbook = str(Path(doc.path).parent / runbook)
    span = doc.span("/runbook") if runbook is not None else None
    return CaseFile(doc.path, runbook, tuple(cases), span), findings


def _case(doc: Document, raw: Mapping[str, Any], index: int, defaults: Mapping[str, Any]) -> Case:
    ptr = pointer("cases", index)
    stubs: dict[str, StepStub] = {}
    for source, base in ((defaults, pointer("defaults")), (raw, ptr)):
        for step_id, stub in (source.get("stubs") or {}).items():
            stubs[step_id] = _stub(doc, step_id, stub, f"{base}/stubs/{step_id}")
    own = set(raw.get("stubs") or {})
    inventory = raw.get("inventory", defaults.get("inventory"))
    if isinstance(inventory, str):
        inventory = str(Path(doc.path).parent / inventory)
    expect = raw.get("expect") or {}
    return Case(
        name=str(raw["name"]),
        description=str(raw.get("description", "")),
        path=doc.path,
        span=doc.span(ptr),
        pointer=ptr,
        vars={**(defaults.get("vars") or {}), **(raw.get("vars") or {})},
        env={**(defaults.get("env") or {}), **(raw.get("env") or {})},
        inventory=inventory,
        stubs=stubs,
        expect=expect,
        expect_spans={key: doc.key_span(f"{ptr}/expect/{key}") for key in expect},
        doc=doc,
        default_stubs=frozenset(stubs) - own,
    )


def _stub(doc: Document, step_id: str, raw: Mapping[str, Any], ptr: str) -> StepStub:
    attempts = raw.get("attempts", [raw])
    results = []
    for number, attempt in enumerate(attempts):
        where = f"{ptr}/attempts/{number}" if "attempts" in raw else ptr
        try:
            duration = parse_duration(attempt.get("duration", 0))
        except ValueError as exc:
            raise ValidationError(
                f"stub of {step_id!r}: {exc}", span=doc.span(f"{where}/duration"), rule="RT103"
            ) from None
        samples = attempt.get("samples")
        results.append(
            StubResult(
                ok=attempt.get("ok"),
                fields=dict(attempt.get("fields") or {}),
                all=dict(attempt["all"]) if attempt.get("all") is not None else None,
                hosts={str(h): dict(f or {}) for h, f in (attempt.get("hosts") or {}).items()},
                error=attempt.get("error"),
                duration=duration,
                samples=tuple(dict(s) for s in samples) if samples is not None else None,
            )
        )
    return StepStub(step_id, tuple(results), doc.key_span(ptr))


# -- lint against the runbook under test -------------------------------------------


def stubbable_steps(runbook: Runbook) -> dict[str, Step]:
    """Every step a run may execute: phases, rollback, undo steps, checks."""
    return {step.id: step for step in runbook.every_step()}


def lint_cases(case_file: CaseFile, runbook: Runbook, hosts: Sequence[str] | None = None) -> list[RunbookError]:
    """Findings the schema cannot see, for every case of a file."""
    findings: list[RunbookError] = []
    for case in case_file.cases:
        findings += lint_case(case, runbook, hosts)
    return findings


def lint_case(case: Case, runbook: Runbook, hosts: Sequence[str] | None = None) -> list[RunbookError]:
    """Unknown step ids, decisions, vars and hosts, and stubs that do not fit their
    step (samples for a step that is not a monitor)."""
    findings: list[RunbookError] = []
    steps = stubbable_steps(runbook)
    ids = sorted(steps)
    conditions = [d.condition for d in runbook.decisions]
    doc = case.doc
    assert doc is not None
    base = case.pointer

    def unknown(step_id: str, span: Span, what: str = "step") -> None:
        close = difflib.get_close_matches(step_id, ids, n=1)
        findings.append(
            ValidationError(
                f"case {case.name!r}: no {what} {step_id!r} in {runbook.name}",
                span=span,
                hint=f"did you mean {close[0]!r}?" if close else None,
                rule="RT101",
            )
        )

    for step_id, stub in case.stubs.items():
        who = "defaults" if step_id in case.default_stubs else f"case {case.name!r}"
        if step_id not in steps:
            close = difflib.get_close_matches(step_id, ids, n=1)
            findings.append(ValidationError(
                f"{who}: no step {step_id!r} in {runbook.name}", span=stub.span,
                hint=f"did you mean {close[0]!r}?" if close else None, rule="RT101",
            ))  # fmt: skip
            continue
        step = steps[step_id]
        for result in stub.attempts:
            if step.executor == "monitor" and result.samples is None:
                findings.append(ValidationError(
                    f"{who}: the stub of monitor step {step_id!r} needs samples:",
                    span=stub.span, rule="RT103",
                    hint="samples: [{status: 200, latency: 0.02}, …], one per `every`",
                ))  # fmt: skip
            if step.executor != "monitor" and result.samples is not None:
                findings.append(ValidationError(
                    f"{who}: samples: is for monitor steps; {step_id!r} is a {step.executor} step",
                    span=stub.span, rule="RT103",
                ))  # fmt: skip
            if hosts is not None:
                for host in result.hosts:
                    if host not in hosts:
                        findings.append(ValidationError(
                            f"{who}: stub of {step_id!r} names host {host!r}, which is not in the inventory",
                            span=stub.span, rule="RT105",
                            hint=f"hosts: {', '.join(hosts) or 'none'}",
                        ))  # fmt: skip
    for name in case.vars:
        if name not in runbook.vars:
            close = difflib.get_close_matches(name, sorted(runbook.vars), n=1)
            findings.append(ValidationError(
                f"case {case.name!r}: {runbook.name} declares no var {name!r}",
                span=doc.key_span(f"{base}/vars/{name}") if f"{base}/vars/{name}" in doc.key_spans else case.span,
                hint=f"did you mean {close[0]!r}?" if close else None, rule="RT104",
            ))  # fmt: skip
    expect = case.expect
    for key in STEP_LISTS:
        for number, step_id in enumerate(expect.get(key) or ()):
            if step_id not in steps:
                unknown(step_id, doc.span(f"{base}/expect/{key}/{number}"))
    for key in ("steps", "attempts", "commands", "captures"):
        for step_id in expect.get(key) or {}:
            if step_id not in steps:
                unknown(step_id, doc.key_span(f"{base}/expect/{key}/{step_id}"))
    for number, entry in enumerate(expect.get("path") or ()):
        step_id = str(entry).partition(":")[0].strip()
        if step_id not in steps:
            unknown(step_id, doc.span(f"{base}/expect/path/{number}"))
    for step_id, captures in (expect.get("captures") or {}).items():
        if step_id not in steps:
            continue
        captured = steps[step_id].capture
        for name in captures:
            if name not in captured:
                findings.append(ValidationError(
                    f"case {case.name!r}: step {step_id!r} captures no {name!r}",
                    span=doc.key_span(f"{base}/expect/captures/{step_id}/{name}"),
                    hint=f"it captures: {', '.join(captured) or 'nothing'}", rule="RT101",
                ))  # fmt: skip
    for number, entry in enumerate(expect.get("decisions") or ()):
        condition = entry if isinstance(entry, str) else entry["condition"]
        if condition not in conditions:
            close = difflib.get_close_matches(condition, conditions, n=1)
            findings.append(ValidationError(
                f"case {case.name!r}: {runbook.name} has no decision {condition!r}",
                span=doc.span(f"{base}/expect/decisions/{number}"),
                hint=f"did you mean {close[0]!r}?" if close else f"decisions: {', '.join(conditions) or 'none'}",
                rule="RT102",
            ))  # fmt: skip
        if isinstance(entry, Mapping) and entry.get("step") and entry["step"] not in steps:
            unknown(entry["step"], doc.span(f"{base}/expect/decisions/{number}/step"))
        if isinstance(entry, Mapping):
            for key in ("not_before", "not_after"):
                if key in entry:
                    try:
                        parse_duration(entry[key])
                    except ValueError as exc:
                        findings.append(ValidationError(
                            f"case {case.name!r}: {key}: {exc}",
                            span=doc.span(f"{base}/expect/decisions/{number}/{key}"), rule="RT103",
                        ))  # fmt: skip
    for number, entry in enumerate(expect.get("notifications") or ()):
        if entry.get("step") and entry["step"] not in steps:
            unknown(entry["step"], doc.span(f"{base}/expect/notifications/{number}/step"))
    findings.sort(key=lambda f: (f.span.path, f.span.line, f.span.col) if f.span else ("", 0, 0))
    return findings


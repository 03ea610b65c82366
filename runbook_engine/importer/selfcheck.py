"""The promise that a draft lints clean, kept by running the real linter on it.

The translators are built to emit only what lint accepts, and a property test feeds
them arbitrary Markdown. Should one still emit something lint refuses, the part it
made is demoted instead of shipped: a step becomes a ``manual`` step carrying what
the translation was, a decision keeps its row with ``when: "false"``, each with a
TODO quoting the finding. Lint costs a fraction of the import itself.
"""

from __future__ import annotations

import re

import yaml

from runbook_engine.importer.draft import Draft, DraftDecision, DraftStep
from runbook_engine.importer.emit import emit

ROUNDS = 3


def checked_yaml(draft: Draft) -> str:
    """The draft as YAML that lints clean, demoting what does not."""
    text = emit(draft)
    for _ in range(ROUNDS):
        findings = _findings(text)
        if not findings:
            return text
        unplaced = []
        for line, message in findings:
            owner = _owner(text, draft, line)
            if isinstance(owner, DraftStep):
                _demote_step(owner, message)
            elif isinstance(owner, DraftDecision):
                owner.when = "false"
                owner.todos.append(f"the importer's predicate did not lint ({message}): write it")
            else:
                unplaced.append(message)
        if unplaced:
            _reduce(draft, unplaced)
        text = emit(draft)
    if _findings(text):  # pragma: no cover - _reduce leaves nothing lint could refuse
        raise AssertionError("runbook import produced a draft that does not lint")
    return text


def _findings(text: str) -> list[tuple[int, str]]:
    from runbook_engine.errors import RunbookError
    from runbook_engine.lint import analyze_document
    from runbook_engine.loader import load_text

    try:
        analysis = analyze_document(load_text(text, "draft.yaml"))
    except RunbookError as exc:
        return [(exc.span.line if exc.span else 0, exc.message)]
    return [(f.span.line if f.span else 0, f"{f.rule}: {f.message}") for f in analysis.findings]


def _owner(text: str, draft: Draft, line: int) -> DraftStep | DraftDecision | None:
    """The step or decision whose YAML holds ``line`` (1-based)."""
    anchors: list[tuple[int, DraftStep | DraftDecision]] = []
    lines = text.split("\n")
    steps = {step.id: step for step in draft.all_steps()}
    decisions = iter(draft.decisions)
    in_decisions = False
    for number, content in enumerate(lines, 1):
        if content.startswith("decisions:"):
            in_decisions = True
        elif content and not content.startswith((" ", "#")):
            in_decisions = False
        step_match = re.match(r"^\s+- id: (\S+)$", content)
        if step_match and step_match.group(1) in steps and not in_decisions:
            anchors.append((number, steps[step_match.group(1)]))
        elif in_decisions and re.match(r"^  - condition: ", content):
            decision = next(decisions, None)
            if decision is not None:
                anchors.append((number, decision))
    owner = None
    for number, candidate in anchors:
        if number <= line:
            owner = candidate
    return owner


def _demote_step(step: DraftStep, message: str) -> None:
    was = yaml.safe_dump({step.executor: step.spec}, allow_unicode=True, sort_keys=False).strip()
    step.add_todo(f"the importer's translation did not lint ({message}); it was:\n{was}")
    step.executor, step.spec = "manual", {"prompt": f"{step.title}\n\n{was}"}
    step.hosts, step.expect, step.expect_sources, step.on_failure = None, [], [], None


def _reduce(draft: Draft, messages: list[str]) -> None:
    """Findings outside any step or decision (vars, channels, the window): keep the
    procedure as manual steps and drop what lint refused, saying so."""
    for step in draft.all_steps():
        if step.executor != "manual":
            _demote_step(step, "part of a draft whose top level did not lint")
    draft.vars.clear()
    draft.notify.clear()
    draft.window.clear()
    draft.inventory = None
    draft.success.clear()
    for decision in draft.decisions:
        decision.when = "false"
    draft.todos.extend(f"the importer's draft did not lint ({m}): vars, channels and the window were left out" for m in messages)

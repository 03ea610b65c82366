"""Lint accepts a name in a template or predicate exactly when the engine supplies it
at run time (issue 10): references generated from the vocabulary and beyond it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from runbook_engine.engine.evaluation import RunView, step_fields
from runbook_engine.engine.outcome import StepOutcome
from runbook_engine.executors.base import Result
from runbook_engine.executors.registry import executor_classes
from runbook_engine.lint import analyze_document
from runbook_engine.loader import load_text
from runbook_engine.vocabulary import PREDICATE_ROOTS, STEP_COPIED_RESULT_FIELDS, STEP_STATUS_FIELDS

#: Executors whose step is easy to write with one spec.
SPECS = {"shell": "echo hi", "wait": "1s", "http": "{url: 'http://127.0.0.1:1/'}"}
CAPTURE = st.sampled_from(["version", "previous_version", "count"])
NAMES = st.sampled_from(
    sorted({*STEP_STATUS_FIELDS, *STEP_COPIED_RESULT_FIELDS, "hosts", "error", "ok", "output", "version", "count", "latency"})
)


def _supplied(executor: str, captures: list[str]) -> set[str]:
    """What the engine gives `steps.<id>` once the step ran (its declared fields set)."""
    cls = executor_classes()[executor]
    result = Result(ok=True, fields=dict.fromkeys(cls.fields, 0))
    return set(step_fields(StepOutcome(status="succeeded", result=result, captures=dict.fromkeys(captures, 1))))


def _runbook(executor: str, captures: list[str], reference: str, extra: str = "") -> str:
    capture = "".join(f"\n          {c}: stdout" for c in captures) if captures else ""
    capture_block = f"\n        capture:{capture}" if captures else ""
    return (
        "runbook: 1\nname: props\nphases:\n  - id: p\n    steps:\n"
        f"      - id: x\n        {executor}: {SPECS[executor]}{capture_block}\n"
        f"      - id: y\n        needs: [x]\n        shell: {reference}\n{extra}"
    )


def _accepted(source: str) -> bool:
    return not analyze_document(load_text(source, "rb.yaml")).findings


@settings(max_examples=60, deadline=None)
@given(
    executor=st.sampled_from(sorted(SPECS)),
    captures=st.lists(CAPTURE, unique=True, max_size=2),
    name=NAMES,
)
def test_template_step_names(executor: str, captures: list[str], name: str) -> None:
    if executor != "shell" and captures:
        captures = []  # capture expressions name shell's stdout
    source = _runbook(executor, captures, f"'echo {{{{ steps.x.{name} }}}}'")
    assert _accepted(source) == (name in _supplied(executor, captures)), name


@settings(max_examples=60, deadline=None)
@given(executor=st.sampled_from(sorted(SPECS)), name=NAMES)
def test_predicate_step_names(executor: str, name: str) -> None:
    decision = f"decisions:\n  - condition: c\n    when: steps.x.{name} == 1\n    action: warn\n"
    source = _runbook(executor, [], "echo", decision)
    assert _accepted(source) == (name in _supplied(executor, [])), name


MONITOR = (
    "      - id: watch\n        monitor:\n          for: 1m\n          every: 10s\n"
    "          probe: {http: {url: 'http://127.0.0.1:1/'}}\n"
)


@settings(max_examples=40, deadline=None)
@given(root=st.sampled_from(sorted({*PREDICATE_ROOTS, "previous", "run", "env"})), monitor=st.booleans())
def test_decision_roots(root: str, monitor: bool) -> None:
    view = RunView({}, {}, {})
    if monitor:  # what the scheduler passes on a monitor sample
        context = view.context(Result(ok=True), probe={}, baseline={}, samples=[])
    else:
        context = view.context()
    supplied = set(context.roots) | {"hosts", "now"}  # the evaluator's own two
    reference = f"{root}.x == 1" if root not in ("now",) else "now > 1"
    source = (
        "runbook: 1\nname: props\nphases:\n  - id: p\n    steps:\n      - id: x\n        shell: echo\n"
        + (MONITOR if monitor else "")
        + f"decisions:\n  - condition: c\n    when: {reference}\n    action: warn\n"
    )
    assert _accepted(source) == (root in supplied), root

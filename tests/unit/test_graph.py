"""The step graph: phase barriers, written order, needs, cycles and ready sets."""

from __future__ import annotations

import pytest

from runbook_engine.errors import ValidationError
from runbook_engine.graph import build_graph, graph_findings
from runbook_engine.loader import load_text
from runbook_engine.model import Runbook, build_runbook


def runbook(phases: str, rollback: str = "") -> Runbook:
    text = (
        "runbook: 1\nname: g\nphases:\n"
        + phases
        + (("rollback:\n  steps:\n" + rollback) if rollback else "")
    )
    return build_runbook(load_text(text, "g.yaml"))


LINEAR = """\
  - id: one
    steps:
      - {id: a, shell: a}
      - {id: b, shell: b}
  - id: two
    steps:
      - {id: c, shell: c}
      - {id: d, shell: d}
"""

FAN_OUT = """\
  - id: prepare
    steps:
      - {id: start, shell: s}
  - id: checks
    steps:
      - {id: x, shell: x, needs: []}
      - {id: y, shell: y, needs: []}
      - {id: z, shell: z, needs: [x, y]}
      - {id: after-z, shell: w}
  - id: done
    steps:
      - {id: end, shell: e}
"""


def test_written_order_and_phase_barrier() -> None:
    graph = build_graph(runbook(LINEAR))
    assert [s.id for s in graph.order()] == ["a", "b", "c", "d"]
    assert graph.predecessors("a") == frozenset()
    assert graph.predecessors("b") == {"a"}
    assert graph.predecessors("c") == {"a", "b"}  # the whole previous phase
    assert graph.predecessors("d") == {"c"}
    assert graph.ancestors("d") == {"a", "b", "c"}


def test_needs_makes_steps_concurrent_within_the_phase_barrier() -> None:
    graph = build_graph(runbook(FAN_OUT))
    assert graph.predecessors("x") == {"start"} and graph.predecessors("y") == {"start"}
    assert graph.predecessors("z") == {"x", "y", "start"}
    assert graph.predecessors("after-z") == {"z"}
    assert graph.predecessors("end") == {"x", "y", "z", "after-z"}
    assert [s.id for s in graph.order()] == ["start", "x", "y", "z", "after-z", "end"]


def test_ready_sets_for_a_scheduler() -> None:
    graph = build_graph(runbook(FAN_OUT))
    assert [s.id for s in graph.ready(set())] == ["start"]
    assert [s.id for s in graph.ready({"start"})] == ["x", "y"]
    assert [s.id for s in graph.ready({"start"}, started={"x"})] == ["y"]
    assert [s.id for s in graph.ready({"start", "x"}, started={"y"})] == []
    assert [s.id for s in graph.ready({"start", "x", "y"})] == ["z"]
    done = {s.id for s in graph.order()}
    assert graph.ready(done) == []


def test_rollback_steps_are_not_in_the_forward_graph() -> None:
    rb = runbook(LINEAR, "    - {id: restore, shell: r}\n")
    graph = build_graph(rb)
    assert "restore" not in graph.steps
    assert [s.id for s in rb.all_steps()][-1] == "restore"


def rules(phases: str, rollback: str = "") -> list[tuple[str, int]]:
    _, findings = graph_findings(runbook(phases, rollback))
    return [(f.rule, f.span.line if f.span else 0) for f in findings]


def test_every_problem_is_reported_not_just_the_first() -> None:
    phases = """\
  - id: one
    steps:
      - {id: a, shell: a, needs: [nope]}
      - {id: a, shell: again}
      - {id: b, shell: b, needs: [later], on_failure: {goto: nowhere}}
  - id: one
    steps:
      - {id: later, shell: l}
"""
    found = rules(phases)
    assert ("RB105", 6) in found  # needs unknown
    assert ("RB104", 7) in found  # duplicate step id
    assert ("RB107", 8) in found  # needs a later phase
    assert ("RB105", 8) in found  # goto unknown
    assert ("RB109", 9) in found  # duplicate phase id


def test_cycle_names_its_steps() -> None:
    phases = """\
  - id: one
    steps:
      - {id: a, shell: a, needs: [b]}
      - {id: b, shell: b, needs: [a]}
      - {id: c, shell: c}
"""
    _, findings = graph_findings(runbook(phases))
    assert [f.rule for f in findings] == ["RB106"]
    assert (
        "a, b" in findings[0].message
        and findings[0].span is not None
        and findings[0].span.line == 6
    )
    with pytest.raises(ValidationError, match="dependency cycle"):
        build_graph(runbook(phases))


def test_needs_on_itself_and_on_a_rollback_step() -> None:
    phases = "  - id: one\n    steps:\n      - {id: a, shell: a, needs: [a, undo-it]}\n"
    found = rules(phases, "    - {id: undo-it, shell: u}\n")
    assert sorted(found) == [("RB106", 6), ("RB107", 6)]


def test_goto_may_target_a_rollback_step() -> None:
    phases = "  - id: one\n    steps:\n      - {id: a, shell: a, on_failure: {goto: clean}}\n"
    assert rules(phases, "    - {id: clean, shell: c}\n") == []


def test_unknown_need_gets_a_did_you_mean() -> None:
    phases = "  - id: one\n    steps:\n      - {id: build, shell: b}\n      - {id: test, shell: t, needs: [biuld]}\n"
    _, findings = graph_findings(runbook(phases))
    assert findings[0].hint == "did you mean 'build'?"

"""`runbook graph`: Mermaid and DOT drawings of the step graph."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from runbook_engine.cli.main import main
from runbook_engine.lint import analyze

ROOT = Path(__file__).resolve().parents[2]
MONTHLY = ROOT / "runbooks" / "monthly-update.yaml"

TRICKY = """\
runbook: 1
name: tricky
phases:
  - id: first
    title: 'The "first" phase'
    steps:
      - {id: a-b, shell: x, title: 'Say "hi" \\ there'}
      - {id: a_b, shell: y}
      - {id: end, shell: z, needs: [a-b]}
rollback:
  steps:
    - {id: rollback, shell: r}
    - {id: undo-it, shell: u}
"""


def graph(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    try:
        main(["graph", *args])
    except SystemExit as exc:
        assert exc.code in (0, None), capsys.readouterr().err
    return capsys.readouterr().out


def mermaid_edges(text: str) -> set[tuple[str, str]]:
    return set(re.findall(r"^\s+(\S+) --> (\S+)$", text, re.M))


def test_mermaid_of_the_monthly_runbook(capsys: pytest.CaptureFixture[str]) -> None:
    out = graph(capsys, str(MONTHLY))
    assert out.startswith("flowchart TD\n")
    phases = len(analyze(str(MONTHLY)).runbook.phases)  # type: ignore[union-attr]
    assert out.count("  subgraph phase_") == phases
    assert out.count("\n  end\n") == phases + 1  # and the rollback group
    edges = mermaid_edges(out)
    assert ("verify_package", "record_versions") in edges
    # the first step of a phase waits for every step of the previous one
    assert {("announce_start", "stop_services"), ("verify_package", "stop_services")} <= edges
    assert ("rollback_stop", "rollback_migrations") in edges
    declared = set(re.findall(r"^\s+(\w+)\[", out, re.M))
    assert {node for edge in edges for node in edge} <= declared


def test_mermaid_keeps_distinct_ids_distinct_and_escapes_labels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Regression: `a-b` and `a_b` used to become one node, a step called `end`
    closed its subgraph, and a quote in a title broke the label."""
    path = tmp_path / "tricky.yaml"
    path.write_text(TRICKY)
    out = graph(capsys, str(path))
    assert '    a_b["Say #quot;hi#quot; \\ there<br/><small>shell</small>"]' in out
    assert '    a_b_2["a_b<br/><small>shell</small>"]' in out
    assert '    end_step["end<br/><small>shell</small>"]' in out
    assert '  subgraph phase_first["The #quot;first#quot; phase"]' in out
    assert '  subgraph rollback["Rollback (on decision)"]' in out
    assert '    rollback_2["rollback"]' in out
    assert ("a_b", "end_step") in mermaid_edges(out)
    assert ("a_b", "a_b_2") in mermaid_edges(out)


def test_dot_of_the_monthly_runbook(capsys: pytest.CaptureFixture[str]) -> None:
    out = graph(capsys, str(MONTHLY), "--format", "dot")
    assert out.startswith("digraph runbook {\n") and out.endswith("}\n")
    assert out.count("{") == out.count("}")
    assert out.count('  subgraph "cluster_') == len(analyze(str(MONTHLY)).runbook.phases) + 1  # type: ignore[union-attr]
    edges = set(re.findall(r'^\s+"([^"]+)" -> "([^"]+)";$', out, re.M))
    declared = set(re.findall(r'^\s+"([^"]+)" \[label=', out, re.M))
    assert ("verify-package", "record-versions") in edges
    assert {node for edge in edges for node in edge} <= declared


def test_dot_escapes_quotes_and_backslashes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tricky.yaml"
    path.write_text(TRICKY)
    out = graph(capsys, str(path), "--format", "dot")
    assert '    label="The \\"first\\" phase";' in out
    assert '    "a-b" [label="Say \\"hi\\" \\\\ there\\n(shell)"];' in out


def test_graph_of_a_broken_runbook_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cycle.yaml"
    path.write_text(
        "runbook: 1\nname: c\nphases:\n  - id: p\n    steps:\n      - {id: a, shell: a, needs: [a]}\n"
    )
    with pytest.raises(SystemExit) as info:
        main(["graph", str(path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{path}:6:34: step 'a' needs itself [RB106]\n")
    assert "Traceback" not in err

"""Lint is the gate: the checks added so that nothing wrong starts running (each a
positioned finding with a hint), and warnings that do not stop lint or run."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from runbook_engine.cli.main import main
from runbook_engine.lint import analyze


def lint_text(tmp_path: Path, text: str, name: str = "book.yaml") -> list[tuple[str, str, int, int]]:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip())
    analysis = analyze(str(path))
    return [
        (f.rule, f.severity, f.span.line if f.span else 0, f.span.col if f.span else 0)
        for f in analysis.findings
    ]


def test_raw_is_a_warning_that_lets_lint_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = """
    runbook: 1
    name: raw
    vars:
      opts: {type: string, default: -l}
    phases:
      - id: p
        steps:
          - id: s
            shell: ls {{ opts | raw }}
    """
    assert lint_text(tmp_path, book) == [("RB206", "warning", 9, 29)]
    with pytest.raises(SystemExit) as info:
        main(["lint", str(tmp_path / "book.yaml")])
    assert info.value.code == 0
    assert "warning: `| raw` pastes this value" in capsys.readouterr().out


def test_template_in_arithmetic_is_refused(tmp_path: Path) -> None:
    book = """
    runbook: 1
    name: arith
    vars:
      n: {type: int, default: 1}
    phases:
      - id: p
        steps:
          - id: s
            ssh: {command: "echo $(( {{ n }} + 1 ))"}
            hosts: all
    """
    assert [f[0] for f in lint_text(tmp_path, book)] == ["RB205"]


def test_documented_kill_grace_duration_is_accepted(tmp_path: Path) -> None:
    book = """
    runbook: 1
    name: grace
    phases:
      - id: p
        steps:
          - id: s
            shell: {command: sleep 1, kill_grace: 5s}
    """
    assert lint_text(tmp_path, book) == []


@pytest.mark.timeout(30)
def test_a_fifo_named_like_a_runbook_is_skipped_with_a_finding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    os.mkfifo(tmp_path / "x.yaml")
    (tmp_path / "ok.yaml").write_text("runbook: 1\nname: ok\nphases:\n  - id: p\n    steps:\n      - {id: s, shell: echo}\n")
    with pytest.raises(SystemExit) as info:
        main(["lint", str(tmp_path)])
    assert info.value.code == 2
    out = capsys.readouterr().out
    assert f"{tmp_path / 'x.yaml'}: not a regular file" in out and "[RB006]" in out


def test_a_bad_capture_is_refused_before_the_command_runs(tmp_path: Path) -> None:
    from runbook_engine.cli.options import load_checked
    from runbook_engine.errors import PredicateError

    book = """
    runbook: 1
    name: capture
    phases:
      - id: p
        steps:
          - id: s
            shell: touch ran.txt
            capture: {v: "stdout +"}
    """
    assert [f[0] for f in lint_text(tmp_path, book)] == ["RB300"]
    with pytest.raises(PredicateError):
        load_checked(str(tmp_path / "book.yaml"))
    assert not (tmp_path / "ran.txt").exists()

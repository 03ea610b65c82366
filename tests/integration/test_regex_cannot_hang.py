"""Patterns authors write run on RE2: a catastrophic-backtracking pattern that froze
the runner (and ignored the step timeout and SIGTERM for 44.9 s) now answers at once.
The pytest timeout only bounds a regression to a failure instead of a hung suite."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pytest

from runbook_engine.cli.options import load_checked
from runbook_engine.engine import PlainProgress, RunOptions, start_run
from runbook_engine.errors import VariableError
from runbook_engine.lint import analyze
from runbook_engine.variables import resolve_vars

EVIL = "a" * 50_000 + "!"


@pytest.mark.timeout(60)
def test_catastrophic_predicate_on_long_output_does_not_hang_the_run(tmp_path: Path) -> None:
    path = tmp_path / "runbook.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            runbook: 1
            name: redos
            phases:
              - id: p
                steps:
                  - id: spew
                    shell: printf '%s' {EVIL}
                    expect: stdout matches /(a+)+$/
                  - id: after
                    shell: echo after
            """
        ).lstrip()
    )
    runbook = load_checked(str(path))
    options = RunOptions(runs_dir=tmp_path / "runs", initiator="t", workdir=tmp_path)
    summary = start_run(runbook, resolve_vars(runbook, {}, (), {}), options, PlainProgress(io.StringIO()))
    assert summary.status == "failed"  # the pattern does not match: the step failed, quickly


@pytest.mark.timeout(60)
def test_catastrophic_var_pattern_does_not_hang_lint_or_run(tmp_path: Path) -> None:
    path = tmp_path / "runbook.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            runbook: 1
            name: redos
            vars:
              word: {{type: string, pattern: '(a+)+$', default: "{EVIL}"}}
            phases:
              - id: p
                steps:
                  - id: s
                    shell: echo {{{{ word }}}}
            """
        ).lstrip()
    )
    analysis = analyze(str(path))
    assert [f.rule for f in analysis.findings] == ["RB110"]  # the default does not match
    assert "does not match pattern" in analysis.findings[0].message
    assert analysis.runbook is not None
    with pytest.raises(VariableError):  # a run resolves the var with the same check
        resolve_vars(analysis.runbook, {"word": EVIL}, (), {})

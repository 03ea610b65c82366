"""Lint in editors and CI: inline suppressions (a line, or a whole step), settings in
`.runbook-lint.yaml` or `[tool.runbook.lint]` of pyproject.toml, and RB190 for a
setting that names an unknown rule or one the engine cannot do without. `plan` reads
the same settings, so what lint accepts is what the engine accepts."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from runbook_engine.cli.main import cli
from runbook_engine.errors import RunbookError
from runbook_engine.lint import analyze

BOOK = """
runbook: 1
name: lintme
vars:
  version: {type: string, required: true, default: v1}VERSION_COMMENT
  opts: {type: string, default: "-v"}
phases:
  - id: one
    steps:STEP_COMMENT
      - id: a
        title: raw on purpose
        shell: echo {{ opts | raw }}
      - id: b
        notify: {channel: opps, message: hi}
"""


def write(root: Path, version_comment: str = "", step_comment: str = "") -> Path:
    top = root if not (root.parent / ".git").exists() else root.parent
    (top / ".git").mkdir(exist_ok=True)  # the settings search stops at a repository root
    path = root / "book.yaml"
    path.write_text(
        textwrap.dedent(BOOK)
        .replace("VERSION_COMMENT", version_comment)
        .replace("STEP_COMMENT", step_comment)
    )
    return path


def rules(path: Path) -> list[tuple[str, str, int]]:
    return [
        (f.rule, f.severity, f.span.line if f.span else 0) for f in analyze(str(path)).findings
    ]


def test_without_settings_every_finding_is_reported(tmp_path: Path) -> None:
    assert [r[0] for r in rules(write(tmp_path))] == ["RB111", "RB206", "RB113"]


def test_a_comment_at_the_end_of_a_line_suppresses_that_line(tmp_path: Path) -> None:
    path = write(tmp_path, version_comment="  # runbook-lint: disable=RB111")
    assert [r[0] for r in rules(path)] == ["RB206", "RB113"]


def test_a_comment_above_a_step_suppresses_the_whole_step(tmp_path: Path) -> None:
    path = write(tmp_path, step_comment="\n      # runbook-lint: disable=RB206, RB113")
    # RB206 is two lines into step a; RB113 is in step b, which the comment does not cover
    assert [r[0] for r in rules(path)] == ["RB111", "RB113"]


def test_a_suppression_of_an_unknown_or_fixed_rule_is_a_finding(tmp_path: Path) -> None:
    path = write(tmp_path, version_comment="  # runbook-lint: disable=RB999,RB101")
    found = analyze(str(path)).findings
    messages = [f.message for f in found if f.rule == "RB190"]
    assert messages == [
        "runbook-lint: unknown rule 'RB999'",
        "runbook-lint: RB101 cannot be changed: the engine cannot run a runbook that breaks it",
    ]
    assert "RB111" in [f.rule for f in found]  # nothing valid was suppressed


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (".runbook-lint.yaml", "disable: [RB113]\nseverity: {RB206: error, RB111: warning}\n"),
        (
            "pyproject.toml",
            '[project]\nname = "x"\n\n[tool.runbook.lint]\ndisable = ["RB113"]\n'
            'severity = {RB206 = "error", RB111 = "warning"}\n',
        ),
    ],
)
def test_settings_file_disables_rules_and_sets_severities(
    tmp_path: Path, name: str, text: str
) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "runbooks").mkdir()
    path = write(tmp_path / "runbooks")
    (tmp_path / name).write_text(text)
    assert rules(path) == [("RB111", "warning", 5), ("RB206", "error", 12)]


def test_the_nearest_settings_file_wins(tmp_path: Path) -> None:
    (tmp_path / ".runbook-lint.yaml").write_text("disable: [RB113]\n")
    (tmp_path / ".git").mkdir()
    inner = tmp_path / "team"
    inner.mkdir()
    (inner / ".runbook-lint.yaml").write_text("disable: [RB111]\n")
    path = write(inner)
    assert [r[0] for r in rules(path)] == ["RB206", "RB113"]


def test_bad_settings_are_rb190_at_their_line(tmp_path: Path) -> None:
    (tmp_path / ".runbook-lint.yaml").write_text(
        "disable: [RB001]\nseverity: {RB206: fatal}\ncolour: red\n"
    )
    path = write(tmp_path)
    problems = [
        (f.span.line if f.span else 0, f.message)
        for f in analyze(str(path)).findings
        if f.rule == "RB190"
    ]
    assert problems == [
        (1, "disable: RB001 cannot be changed: the engine cannot run a runbook that breaks it"),
        (2, "severity of RB206: 'fatal' is not error, warning or off"),
        (3, "unknown lint setting 'colour' (known: disable, enable, severity)"),
    ]
    result = CliRunner().invoke(cli, ["lint", str(path)])
    assert result.exit_code == 1
    assert f"{tmp_path / '.runbook-lint.yaml'}:1:" in result.output
    assert "  disable: [RB001]" in result.output  # the settings file's own line


def test_plan_accepts_what_lint_accepts_with_the_same_settings(tmp_path: Path) -> None:
    path = write(tmp_path)
    refused = CliRunner().invoke(cli, ["plan", str(path)])
    assert isinstance(refused.exception, RunbookError) and refused.exception.rule == "RB111"
    (tmp_path / ".runbook-lint.yaml").write_text("disable: [RB111, RB113]\n")
    assert CliRunner().invoke(cli, ["lint", str(path)]).exit_code == 0
    planned = CliRunner().invoke(cli, ["plan", str(path)])
    assert planned.exit_code == 0, planned.output

"""`runbook lint PATH...` as CI runs it: the real runbooks lint clean, exit codes
0/1/2, the four formats, folders, and no heavy executor library imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runbook_engine.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
MONTHLY = ROOT / "runbooks" / "monthly-update.yaml"
RUNBOOK = Path(sys.executable).with_name("runbook")
HEAVY = (
    "asyncssh",
    "httpx",
    "ansible",
    "ansible_runner",
    "psycopg",
    "pymysql",
    "prometheus_client",
)

CLEAN = (
    "runbook: 1\nname: ok\nphases:\n  - id: p\n    steps:\n      - id: a\n        shell: echo hi\n"
)
FINDING = CLEAN.replace("echo hi", "echo {{ nope }}")


def lint(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(["lint", *args])
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_the_real_runbooks_lint_clean_through_the_console_script() -> None:
    result = subprocess.run(
        [str(RUNBOOK), "lint", str(ROOT / "runbooks")], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""
    count = len(list((ROOT / "runbooks").glob("*.yaml")))
    assert result.stderr == f"{count} file(s) checked, 0 finding(s)\n"


@pytest.mark.parametrize("command", ["lint", "explain"])
def test_lint_and_explain_do_not_import_heavy_executor_libraries(command: str) -> None:
    script = (
        "import sys\n"
        "from runbook_engine.cli.main import main\n"
        "try:\n"
        f"    main([{command!r}, {str(MONTHLY)!r}])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stderr, result.stderr.splitlines()[-1]


#: What a run, a report or another command needs and lint does not: importing any of it
#: would only slow `runbook lint` down (its start-up target is 0.35 s, bench_startup.py).
NOT_FOR_LINT = (
    "cryptography",
    "runbook_engine.engine",
    "runbook_engine.journal",
    "runbook_engine.report",
    "runbook_engine.explain",
    "runbook_engine.serve",
    "runbook_engine.importer",
    "runbook_engine.metrics",
    "runbook_engine.inventory",
    "runbook_engine.redaction",
    "runbook_engine.testing",
    "runbook_engine.casetest",  # a folder's test cases are recognised by it; a named file is not
    # a clean runbook is confirmed by jsonschema-rs; jsonschema only explains findings
    "jsonschema",
    "referencing",
    "attrs",
    "attr",
    # the executors import these where a step runs, not at import: lint reads their schemas
    "ssl",
    "sqlite3",
    "logging",
    "getpass",
    "runbook_engine.executors.migrations",
    # the registry reads entry_points.txt itself (executors/registry.py), and the base
    # schema is read beside schema.py
    "importlib.metadata",
    "importlib.resources",
    "zipfile",
)


def test_lint_imports_nothing_only_runs_and_reports_need() -> None:
    script = (
        "import sys\n"
        "from runbook_engine.cli.main import main\n"
        "try:\n"
        f"    main(['lint', {str(MONTHLY)!r}])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        f"prefixes = {NOT_FOR_LINT!r}\n"
        "loaded = sorted(m for m in sys.modules if any(m == p or m.startswith(p + '.') for p in prefixes))\n"
        "print('LOADED', loaded, file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stderr, result.stderr.splitlines()[-1]


def test_every_dataclass_lint_defines_has_a_docstring() -> None:
    """Without one, ``dataclass`` builds ``__doc__`` from ``inspect.signature`` at
    import, ~0.3 ms a class: a tenth of lint's start-up over its 65 dataclasses."""
    script = (
        "import dataclasses, sys\n"
        "from runbook_engine.cli.main import main\n"
        "try:\n"
        f"    main(['lint', {str(MONTHLY)!r}])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "bare = sorted(f'{m.__name__}.{c.__qualname__}' for m in list(sys.modules.values())\n"
        "    if m.__name__.startswith('runbook_engine') for c in vars(m).values()\n"
        "    if isinstance(c, type) and c.__module__ == m.__name__ and dataclasses.is_dataclass(c)\n"
        "    and (c.__doc__ or '').startswith(c.__name__ + '('))\n"
        "print('BARE', bare, file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "BARE []" in result.stderr, result.stderr.splitlines()[-1]


def test_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "clean.yaml").write_text(CLEAN)
    (tmp_path / "finding.yaml").write_text(FINDING)
    (tmp_path / "unusable.yaml").write_text("runbook: [\n")
    assert lint(capsys, str(tmp_path / "clean.yaml"))[0] == 0
    assert lint(capsys, str(tmp_path / "finding.yaml"))[0] == 1
    assert lint(capsys, str(tmp_path / "unusable.yaml"))[0] == 2
    assert lint(capsys, str(tmp_path))[0] == 2  # one unusable file makes the whole run 2


def test_folders_are_searched_recursively_for_yaml_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "nested" / "deeper").mkdir(parents=True)
    (tmp_path / "a.yaml").write_text(CLEAN)
    (tmp_path / "nested" / "b.yml").write_text(CLEAN)
    (tmp_path / "nested" / "deeper" / "c.yaml").write_text(FINDING)
    (tmp_path / "notes.txt").write_text("not yaml: [")
    (tmp_path / "x.yamlx").write_text("not yaml: [")
    code, out, err = lint(capsys, str(tmp_path), "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert [Path(f).name for f in data["files"]] == ["a.yaml", "b.yml", "c.yaml"]
    assert [f["rule"] for f in data["findings"]] == ["RB202"]


@pytest.mark.parametrize(
    ("fmt", "check"),
    [
        (
            "text",
            lambda out: out.splitlines()[0].endswith("undefined template variable 'nope' [RB202]"),
        ),
        ("json", lambda out: json.loads(out)["findings"][0]["line"] == 7),
        ("sarif", lambda out: json.loads(out)["runs"][0]["results"][0]["ruleId"] == "RB202"),
        ("github", lambda out: out.startswith("::error file=") and ",line=7,col=" in out),
    ],
)
def test_formats(
    fmt: str, check: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "finding.yaml"
    path.write_text(FINDING)
    code, out, err = lint(capsys, str(path), "--format", fmt)
    assert code == 1
    assert check(out)  # type: ignore[operator]
    assert (err == "1 file(s) checked, 1 finding(s)\n") == (fmt == "text")


def test_no_arguments_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["lint"])
    assert info.value.code == 2

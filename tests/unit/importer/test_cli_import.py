"""`runbook import PROCEDURE.md`: stdout or -o, the summary line, --strict, bad input
as one line with exit 2, and no heavy executor library imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from import_helpers import SEED, lint_findings

from runbook_engine.cli.main import main

RUNBOOK = Path(sys.executable).with_name("runbook")
CLEAN = "# Quick\n\n## Steps\n\n### 1. Check\n\n```bash\ncurl http://127.0.0.1:9/health\n```\n\n✅ Expected: HTTP 200\n"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(["import", *args])
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def run_ok(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[str, str]:
    main(["import", *args])
    out, err = capsys.readouterr()
    return out, err


def test_draft_on_stdout_and_summary_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    out, err = run_ok(capsys, str(SEED))
    assert out.startswith("# Draft imported by `runbook import` from monthly-application-update.md.")
    assert not lint_findings(out)
    assert "steps," in err and "expect predicates" in err and "of 7 decisions translated" in err and "TODOs remaining" in err


def test_output_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "draft.yaml"
    out, err = run_ok(capsys, str(SEED), "-o", str(target))
    assert out == "" and f"wrote {target}" in err
    lint = subprocess.run([str(RUNBOOK), "lint", str(target)], capture_output=True, text=True, check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_strict_fails_only_when_todos_remain(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, str(SEED), "--strict")
    assert code == 1 and "TODOs remaining" in err
    clean = tmp_path / "clean.md"
    clean.write_text(CLEAN, encoding="utf-8")
    out, err = run_ok(capsys, str(clean), "--strict")
    assert "0 TODOs remaining" in err and "expect: status == 200" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"# T\n\ncaf\xe9\n", "proc.md:3:4: not UTF-8: byte 0xe9 cannot be decoded"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "a binary file, not Markdown"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "proc.md"
    if content is not None:
        path.write_bytes(content)
    code, out, err = run(capsys, str(path))
    assert code == 2 and out == "" and message in err and "Traceback" not in err


def test_unwritable_output_is_an_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, str(SEED), "-o", str(tmp_path / "missing" / "draft.yaml"))
    assert code == 2 and "cannot write" in err


def test_import_loads_no_heavy_library(tmp_path: Path) -> None:
    probe = (
        "import sys, json\n"
        "from runbook_engine.cli.main import main\n"
        f"main(['import', {str(SEED)!r}, '-o', {str(tmp_path / 'd.yaml')!r}])\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('asyncssh', 'httpx', 'ansible', 'psycopg', 'pymysql', 'prometheus_client'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_a_procedure_whose_draft_would_be_too_big_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "huge.md"
    block = "### Step\n\n```bash\n" + "echo " + "x" * 200 + "\n```\n\n"
    path.write_text("# Huge\n\n## Steps\n\n" + block * 4000, encoding="utf-8")
    code, out, err = run(capsys, str(path))
    assert code == 2 and out == "" and ("would be over" in err or "more than" in err)

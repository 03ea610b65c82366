"""The malformed-input corpus: every file in tests/corpus is a broken runbook whose first
line says what `runbook lint` must report (`# expect: RB202 12:18 exit=1`).

Each file goes through the real CLI entry point in-process (exit code, position, the
source line with its caret); one real subprocess lints the whole corpus at once, so
what a user sees in a terminal, with no traceback, is checked too.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from runbook_engine.cli.main import main
from runbook_engine.loader import MAX_BYTES

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "corpus"
GOLDEN = ROOT / "tests" / "golden" / "lint-corpus.txt"
RUNBOOK = Path(sys.executable).with_name("runbook")
EXPECT = re.compile(r"# expect: (RB\d{3}) (\d+):(\d+) exit=([12])$")


def corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("*.yaml"))


def lint(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(RUNBOOK), "lint", *args], capture_output=True, text=True, timeout=60)


def source_line(path: Path, number: int) -> str:
    return path.read_bytes().decode("utf-8", errors="replace").splitlines()[number - 1]


def test_corpus_is_large_and_covers_load_and_semantic_errors() -> None:
    expectations = [
        EXPECT.match(p.read_bytes().split(b"\n", 1)[0].decode()) for p in corpus_files()
    ]
    assert len(expectations) >= 30
    assert all(expectations), [
        p.name for p, m in zip(corpus_files(), expectations, strict=True) if not m
    ]
    codes = {m.group(4) for m in expectations if m}
    assert codes == {"1", "2"}


def expectation(path: Path) -> tuple[str, int, int, int]:
    match = EXPECT.match(path.read_bytes().split(b"\n", 1)[0].decode())
    assert match, f"{path.name}: first line must be '# expect: RBnnn LINE:COL exit=N'"
    return match.group(1), int(match.group(2)), int(match.group(3)), int(match.group(4))


def assert_reported(output: str, path: Path, shown_as: Path | None = None) -> None:
    """The expected finding is printed as `file:line:col: message [RULE]`, then the
    source line, then a caret under the column."""
    rule, line, col, _ = expectation(path)
    out = output.splitlines()
    header = f"{shown_as or path}:{line}:{col}: "
    found = [
        i for i, text in enumerate(out) if text.startswith(header) and text.endswith(f"[{rule}]")
    ]
    assert found, f"expected {rule} at {line}:{col}, got:\n{output}"
    shown, caret = out[found[0] + 1], out[found[0] + 2]
    assert shown == "  " + source_line(path, line)
    assert caret.startswith("  " + " " * (col - 1) + "^")
    assert set(caret.strip()) == {"^"}


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.stem)
def test_corpus_file(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = expectation(path)[3]
    with pytest.raises(SystemExit) as exit_info:
        main(["lint", str(path)])
    assert exit_info.value.code == code
    assert_reported(capsys.readouterr().out, path)


def test_whole_corpus_through_the_console_script() -> None:
    """One real process over every file; its text output is also a golden file, so a
    change of any message or hint is reviewed (regenerate with UPDATE_GOLDEN=1)."""
    files = [path.relative_to(ROOT) for path in corpus_files()]
    result = subprocess.run(
        [str(RUNBOOK), "lint", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode == 2  # some files are unusable input
    for path in files:
        assert_reported(result.stdout, ROOT / path, shown_as=path)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(result.stdout, encoding="utf-8")
    assert result.stdout == GOLDEN.read_text(encoding="utf-8"), (
        "lint output changed; review, then UPDATE_GOLDEN=1"
    )


def test_oversize_file_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    big = tmp_path / "huge.yaml"
    big.write_text("runbook: 1\nnotes: |\n" + ("  " + "x" * 78 + "\n") * (MAX_BYTES // 80 + 10))
    result = lint(str(big))
    assert result.returncode == 2
    assert f"{big}:1:1: file is larger than {MAX_BYTES // 1024} KiB [RB001]" in result.stdout
    assert "  runbook: 1" in result.stdout
    assert "Traceback" not in result.stderr


def test_missing_file_and_empty_folder_are_unusable_input(tmp_path: Path) -> None:
    missing = lint(str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2
    assert "no such file" in missing.stdout and "[RB001]" in missing.stdout
    empty = lint(str(tmp_path))
    assert empty.returncode == 2
    assert "no runbook files" in empty.stderr


def test_one_unusable_file_among_several_exits_2_and_reports_all(tmp_path: Path) -> None:
    result = lint(str(CORPUS / "yaml-tab-indent.yaml"), str(CORPUS / "graph-cycle.yaml"))
    assert result.returncode == 2
    assert "[RB003]" in result.stdout and "[RB106]" in result.stdout

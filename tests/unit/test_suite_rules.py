"""The suite's own rule: under CI=true a test that needs a real service must run; if
it skips, it fails. Checked by running pytest on a tiny test file with this conftest."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]

SAMPLE = """
import pytest

@pytest.mark.service("postgres")
def test_needs_a_service():
    pytest.skip("postgres is not running")

def test_plain_skip():
    pytest.skip("not about a service")
"""


def run_sample(tmp_path: Path, ci: str) -> subprocess.CompletedProcess[str]:
    shutil.copy(TESTS / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    (tmp_path / "pytest.ini").write_text('[pytest]\nmarkers =\n    service(name): needs a service\n')
    env = {**os.environ, "CI": ci}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", str(tmp_path)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )  # fmt: skip


def test_service_skip_fails_under_ci(tmp_path: Path) -> None:
    result = run_sample(tmp_path, "true")
    assert result.returncode == 1, result.stdout
    assert "1 failed, 1 skipped" in result.stdout
    assert "CI=true: test needing postgres skipped" in result.stdout


def test_service_skip_is_a_skip_outside_ci(tmp_path: Path) -> None:
    result = run_sample(tmp_path, "")
    assert result.returncode == 0, result.stdout
    assert "2 skipped" in result.stdout

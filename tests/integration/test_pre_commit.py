"""The repository's `.pre-commit-hooks.yaml`, run by a real `pre-commit` against a
temporary git repository with runbooks in it: a bad runbook fails the hook with its
finding, a good one passes, and a file outside runbooks/ is not linted. Offline: the
`runbook-lint-system` hook uses the `runbook` of this environment; the `runbook-lint`
hook (pre-commit installs the package) is checked against pre-commit's own schema."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PRE_COMMIT = shutil.which("pre-commit", path=str(BIN)) or shutil.which("pre-commit")

pytestmark = pytest.mark.skipif(PRE_COMMIT is None, reason="pre-commit is not installed")

GOOD = """
runbook: 1
name: good
phases:
  - id: one
    steps:
      - id: hello
        shell: echo hello
"""

BAD = """
runbook: 1
name: bad
phases:
  - id: one
    steps:
      - id: hello
        shell: echo {{ verison }}
"""


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PRE_COMMIT_HOME": str(cwd.parent / "pre-commit-home"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_manifest_is_valid_for_pre_commit() -> None:
    assert PRE_COMMIT is not None
    done = run([PRE_COMMIT, "validate-manifest", str(ROOT / ".pre-commit-hooks.yaml")], ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_pre_commit_runs_runbook_lint_on_the_runbooks_of_a_repository(tmp_path: Path) -> None:
    assert PRE_COMMIT is not None
    repo = tmp_path / "ops"
    (repo / "runbooks").mkdir(parents=True)
    (repo / "runbooks" / "good.yaml").write_text(textwrap.dedent(GOOD))
    (repo / "runbooks" / "bad.yaml").write_text(textwrap.dedent(BAD))
    (repo / "other.yaml").write_text("not: [a runbook\n")  # outside runbooks/: not linted
    assert run(["git", "init", "-q", "."], repo).returncode == 0
    assert run(["git", "add", "."], repo).returncode == 0
    # a hook repository holding exactly this repository's manifest (a `system` hook
    # needs no code from it), so the test does not depend on what is committed here
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    shutil.copy(ROOT / ".pre-commit-hooks.yaml", hooks / ".pre-commit-hooks.yaml")
    assert run(["git", "init", "-q", "."], hooks).returncode == 0
    assert run(["git", "add", "."], hooks).returncode == 0
    assert run(["git", "commit", "-qm", "hooks"], hooks).returncode == 0
    hook = [PRE_COMMIT, "try-repo", str(hooks), "runbook-lint-system"]
    failed = run([*hook, "--all-files"], repo)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "runbooks/bad.yaml:8:24: undefined template variable 'verison'" in failed.stdout
    assert "[RB202]" in failed.stdout and "other.yaml" not in failed.stdout.split("Failed")[-1]
    (repo / "runbooks" / "bad.yaml").write_text(textwrap.dedent(BAD).replace("verison", "run.id"))
    passed = run([*hook, "--all-files"], repo)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Passed" in passed.stdout

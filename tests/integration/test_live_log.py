"""The live log of a real `runbook run` as the operator reads it in CI (plain lines):
a playbook step gives one recap line per host (task lines only with ``-v``), and each
monitor sample is printed once."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runbook_engine.inventory import ansible_tool

RUNBOOK_BIN = str(Path(sys.executable).parent / "runbook")

PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: write a file
      copy: {dest: "{{ app_dir }}/VERSION", content: "v2\\n"}
    - name: read it
      command: cat {{ app_dir }}/VERSION
      changed_when: false
"""

ANSIBLE_BOOK = """
runbook: 1
name: plays
phases:
  - id: one
    steps:
      - id: deploy
        hosts: web
        ansible:
          playbook: play.yml
        expect: all failed == 0
"""

MONITOR_BOOK = """
runbook: 1
name: watch
phases:
  - id: one
    steps:
      - id: watch
        monitor:
          for: 1s
          every: 250ms
          probe:
            shell: echo ok
"""


def run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RUNBOOK_BIN, "run", *args, "--runs-dir", "runs"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.service("ansible")
@pytest.mark.skipif(ansible_tool("ansible-playbook") is None, reason="ansible-core is not installed")
def test_a_playbook_step_prints_one_recap_line_per_host(tmp_path: Path) -> None:
    entries = []
    for name in ("web-01", "web-02"):
        (tmp_path / name).mkdir()
        entries.append(f"{name} ansible_connection=local app_dir={tmp_path / name}")
    (tmp_path / "hosts").write_text(
        "[web]\n"
        + "\n".join(entries)
        + f"\n\n[all:vars]\nansible_python_interpreter={sys.executable}\n"
    )
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    (tmp_path / "book.yaml").write_text(textwrap.dedent(ANSIBLE_BOOK))
    quiet = run(tmp_path, "book.yaml", "-i", "hosts")
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    lines = [line.split(" ", 1)[1] for line in quiet.stdout.splitlines()]
    assert "  deploy [web-01] ok=2 changed=1 failed=0" in lines
    assert "  deploy [web-02] ok=2 changed=1 failed=0" in lines
    assert not [line for line in lines if "TASK [" in line or "ok: [" in line], quiet.stdout
    verbose = run(tmp_path, "book.yaml", "-i", "hosts", "-v")
    assert verbose.returncode == 0, verbose.stderr
    assert "TASK [read it]" in verbose.stdout and "ok: [web-01]" in verbose.stdout


def test_each_monitor_sample_is_printed_once(tmp_path: Path) -> None:
    (tmp_path / "book.yaml").write_text(textwrap.dedent(MONITOR_BOOK))
    done = run(tmp_path, "book.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    for n in range(1, 6):
        assert done.stdout.count(f"sample {n}:") == 1, done.stdout
    assert "sample 6:" not in done.stdout

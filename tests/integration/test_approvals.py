"""Approvals with verified identities and quorum, through the real `runbook` CLI and
the real ssh-keygen: a typed --as name is not an identity, a signature is; N of M
distinct approvers; one reject; a late answer takes on_timeout; `verify` re-checks
every signature."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from runbook_engine.identity import os_user

RUNBOOK_BIN = str(Path(sys.executable).parent / "runbook")

GATED = """
runbook: 1
name: signed
phases:
  - id: p
    steps:
      - id: deploy
        shell: echo deploy >> log.txt
        undo: {shell: echo undo >> log.txt}
      - id: dba-approval
        manual:
          prompt: A DBA approves the migration
          QUORUM
          allowed_signers: allowed_signers
          on_reject: rollback
          on_timeout: rollback
          inputs:
            ticket: {type: string, pattern: 'CHG-[0-9]+'}
        TIMEOUT
      - id: migrate
        shell: echo migrate >> log.txt
"""


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RUNBOOK_BIN, *args, *(() if args[0] == "verify" else ("--runs-dir", "runs"))],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1"},
    )


def keypair(root: Path, name: str) -> Path:
    key = root / f"{name}.key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True
    )
    return key


def setup(
    root: Path, quorum: str = "approvers: [dba-lead, dba-oncall]", timeout: str = ""
) -> dict[str, Path]:
    keys = {name: keypair(root, name) for name in ("dba-lead", "dba-oncall", "mallory")}
    (root / "allowed_signers").write_text(
        "".join(
            f"{name} {Path(str(key) + '.pub').read_text()}"
            for name, key in keys.items()
            if name != "mallory"
        )
    )
    (root / "book.yaml").write_text(
        textwrap.dedent(GATED).replace("QUORUM", quorum).replace("TIMEOUT", timeout).lstrip()
    )
    return keys


def start(root: Path) -> str:
    done = cli(root, "run", "book.yaml")
    assert done.returncode == 5, done.stderr
    return next((root / "runs").glob("*/journal.jsonl")).parent.name


def events(root: Path, run_id: str) -> list[dict[str, Any]]:
    path = root / "runs" / run_id / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def votes(root: Path, run_id: str) -> list[dict[str, Any]]:
    """Each journaled vote: an action of an operator transaction, with who cast it."""
    found = []
    for event in events(root, run_id):
        if event["event"] == "operator_actions":
            base = {k: v for k, v in event.items() if k != "actions"}
            found += [{**base, **action} for action in event["actions"]]
    return found


def lines(root: Path) -> list[str]:
    path = root / "log.txt"
    return path.read_text().split() if path.exists() else []


def test_a_typed_as_name_does_not_pass_approvers(tmp_path: Path) -> None:
    setup(tmp_path)
    run_id = start(tmp_path)
    forged = cli(
        tmp_path, "resume", run_id, "--confirm", "dba-approval", "--as", "dba-lead",
        "--input", "ticket=CHG-1",
    )  # fmt: skip
    assert forged.returncode == 2
    assert f"--as dba-lead is not verified: you are {os_user()}" in forged.stderr
    assert "Traceback" not in forged.stderr
    assert votes(tmp_path, run_id) == [] and lines(tmp_path) == ["deploy"]
    # without --as the OS user acts, and is no approver either
    plain = cli(tmp_path, "resume", run_id, "--confirm", "dba-approval", "--input", "ticket=CHG-1")
    assert plain.returncode == 2 and f"{os_user()} is not an approver" in plain.stderr


def test_an_ssh_signed_approval_is_verified_journaled_and_rechecked(tmp_path: Path) -> None:
    keys = setup(tmp_path)
    run_id = start(tmp_path)
    stranger = cli(
        tmp_path, "resume", run_id, "--confirm", "dba-approval", "--sign-key",
        str(keys["mallory"]), "--input", "ticket=CHG-9",
    )  # fmt: skip
    assert stranger.returncode == 2 and "signing key is not in" in stranger.stderr
    done = cli(
        tmp_path, "resume", run_id, "--confirm", "dba-approval", "--sign-key",
        str(keys["dba-lead"]), "--input", "ticket=CHG-9",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert lines(tmp_path) == ["deploy", "migrate"]
    (vote,) = [v for v in votes(tmp_path, run_id) if v["step"] == "dba-approval"]
    identity = vote["identity"]
    assert vote["by"] == "dba-lead" and identity["method"] == "ssh-signature"
    assert vote["signature"]["signature"].startswith("-----BEGIN SSH SIGNATURE-----")
    assert identity["key"].startswith("SHA256:") and identity["os_user"] == os_user()
    pause = next(e["hash"] for e in events(tmp_path, run_id) if e["event"] == "paused")
    assert f'"pause":"{pause}"' in vote["signature"]["payload"]
    checked = cli(tmp_path, "verify", str(tmp_path / "runs" / run_id))
    assert checked.returncode == 0, checked.stderr
    assert "1 SSH-signed approval(s) verified" in checked.stdout
    # a signers file that no longer lists the key: verify says so
    (tmp_path / "other_signers").write_text(
        f"dba-lead {Path(str(keys['mallory']) + '.pub').read_text()}"
    )
    rechecked = cli(
        tmp_path, "verify", str(tmp_path / "runs" / run_id),
        "--allowed-signers", str(tmp_path / "other_signers"),
    )  # fmt: skip
    assert rechecked.returncode == 1
    assert "approve of dba-approval by dba-lead: the SSH signature does not verify" in (
        rechecked.stderr
    )


def test_quorum_needs_two_distinct_signed_approvers(tmp_path: Path) -> None:
    keys = setup(tmp_path, quorum="approvals: {required: 2, from: [dba-lead, dba-oncall]}")
    run_id = start(tmp_path)

    def vote(name: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return cli(
            tmp_path, "resume", run_id, "--confirm", "dba-approval",
            "--sign-key", str(keys[name]), *extra,
        )  # fmt: skip

    first = vote("dba-lead", "--input", "ticket=CHG-5")
    assert first.returncode == 5 and "1 of 2 approvals recorded" in first.stdout + first.stderr
    again = vote("dba-lead")
    assert again.returncode == 2 and "dba-lead already voted on this gate" in again.stderr
    assert lines(tmp_path) == ["deploy"]
    second = vote("dba-oncall")
    assert second.returncode == 0, second.stderr
    assert lines(tmp_path) == ["deploy", "migrate"]
    recorded = [(v["by"], v["action"]) for v in votes(tmp_path, run_id)]
    assert recorded == [("dba-lead", "approve"), ("dba-oncall", "approve")]
    gate = [
        e for e in events(tmp_path, run_id)
        if e["event"] == "step_finished" and e["step"] == "dba-approval"
    ][-1]  # fmt: skip
    assert gate["result"]["fields"]["approved_by"] == ["dba-lead", "dba-oncall"]
    assert gate["result"]["fields"]["inputs"] == {"ticket": "CHG-5"}
    assert cli(tmp_path, "verify", str(tmp_path / "runs" / run_id)).returncode == 0


def test_one_reject_ends_the_gate_with_on_reject(tmp_path: Path) -> None:
    keys = setup(tmp_path, quorum="approvals: {required: 2, from: [dba-lead, dba-oncall]}")
    run_id = start(tmp_path)
    first = cli(
        tmp_path, "resume", run_id, "--confirm", "dba-approval",
        "--sign-key", str(keys["dba-lead"]), "--input", "ticket=CHG-5",
    )  # fmt: skip
    assert first.returncode == 5
    rejected = cli(
        tmp_path, "resume", run_id, "--reject", "dba-approval", "--sign-key",
        str(keys["dba-oncall"]),
    )  # fmt: skip
    assert rejected.returncode == 3, rejected.stderr  # on_reject: rollback
    assert lines(tmp_path) == ["deploy", "undo"]
    assert [(v["by"], v["action"]) for v in votes(tmp_path, run_id)] == [
        ("dba-lead", "approve"),
        ("dba-oncall", "reject"),
    ]


def test_an_approval_after_the_deadline_takes_on_timeout(tmp_path: Path) -> None:
    keys = setup(tmp_path, timeout="timeout: 1s")
    run_id = start(tmp_path)
    time.sleep(1.2)
    late = cli(
        tmp_path, "resume", run_id, "--confirm", "dba-approval",
        "--sign-key", str(keys["dba-lead"]), "--input", "ticket=CHG-5",
    )  # fmt: skip
    assert late.returncode == 3, late.stderr  # on_timeout: rollback
    assert "answered after its deadline" in late.stdout + late.stderr
    assert lines(tmp_path) == ["deploy", "undo"]
    assert [(v["by"], v.get("late")) for v in votes(tmp_path, run_id)] == [("dba-lead", True)]


def test_a_short_quorum_keeps_the_first_deadline(tmp_path: Path) -> None:
    keys = setup(
        tmp_path,
        quorum="approvals: {required: 2, from: [dba-lead, dba-oncall]}",
        timeout="timeout: 1h",
    )
    run_id = start(tmp_path)
    first = cli(
        tmp_path, "resume", run_id, "--confirm", "dba-approval",
        "--sign-key", str(keys["dba-lead"]), "--input", "ticket=CHG-5",
    )  # fmt: skip
    assert first.returncode == 5
    deadlines = {e["deadline"] for e in events(tmp_path, run_id) if e["event"] == "paused"}
    assert len(deadlines) == 1


@pytest.mark.parametrize("quorum", ["approvals: {required: 3, from: [a, b]}"])
def test_a_quorum_larger_than_its_approvers_is_a_lint_error(tmp_path: Path, quorum: str) -> None:
    setup(tmp_path, quorum=quorum)
    done = cli(tmp_path, "run", "book.yaml")
    assert done.returncode == 2 and "approvals.required is 3" in done.stderr
    assert not (tmp_path / "log.txt").exists()

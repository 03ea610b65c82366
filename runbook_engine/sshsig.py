"""Approvals signed with an SSH key, in OpenSSH's SSHSIG format (what
``ssh-keygen -Y sign`` makes and git uses for commit signing).

The real ``ssh-keygen`` makes and checks every signature: no crypto code of our own.
The signed payload names the run, the gate, the decision, the inputs and the hash of
the journal's ``paused`` line, so a signature cannot be replayed on another run, on a
later pause of the same gate, or with other inputs. Keys map to approver names in an
``allowed_signers`` file (``ssh-keygen(1)``, section ALLOWED SIGNERS).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runbook_engine.errors import RunError

#: The ``-n`` namespace: a key's signature over anything else (a git commit, a file)
#: never verifies as an approval.
NAMESPACE = "runbook-approval"
#: Seconds ssh-keygen may take (an agent may ask for a touch of a security key).
TIMEOUT = 60.0


def approval_payload(
    run_id: str, step: str, action: str, inputs: Mapping[str, Any], pause: str
) -> bytes:
    """The exact bytes an approver signs for one answer to one pause of a gate."""
    text = json.dumps(
        {"action": action, "inputs": dict(inputs), "pause": pause, "run": run_id, "step": step},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return f"runbook-approval v1\n{text}\n".encode()


def _keygen() -> str:
    found = shutil.which("ssh-keygen")
    if found is None:
        raise RunError(
            "ssh-keygen is not installed: SSH-signed approvals need it",
            hint="install openssh-client",
        )
    return found


def sign(payload: bytes, key: Path) -> str:
    """The armored signature of ``payload`` with the private key at ``key`` (or, given
    a ``.pub`` file, with that key held by ssh-agent)."""
    done = subprocess.run(
        [_keygen(), "-q", "-Y", "sign", "-f", str(key), "-n", NAMESPACE],
        input=payload,
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    text = done.stdout.decode("ascii", "replace")
    if done.returncode != 0 or "BEGIN SSH SIGNATURE" not in text:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RunError(
            f"could not sign the approval with {key}: {why[-1] if why else 'ssh-keygen failed'}",
            hint="--sign-key takes your private key, or its .pub with the key loaded in ssh-agent",
        )
    return text.strip() + "\n"


def verify(payload: bytes, signature: str, allowed_signers: Path, principal: str | None) -> str:
    """The principal the signature verifies as, with its key fingerprint
    (``alice SHA256:…``); `RunError` when it does not verify. Without ``principal``
    the one principal ``allowed_signers`` lists for the signing key is used."""
    if not allowed_signers.is_file():
        raise RunError(f"allowed_signers file {allowed_signers} does not exist")
    with tempfile.TemporaryDirectory(prefix="runbook-sig-") as tmp:
        sig_path = Path(tmp) / "approval.sig"
        sig_path.write_text(signature, encoding="ascii")
        if principal is None:
            found = _run([_keygen(), "-Y", "find-principals", "-s", str(sig_path),
                          "-f", str(allowed_signers), "-n", NAMESPACE], b"")  # fmt: skip
            names = found.stdout.decode("utf-8", "replace").split() if found.returncode == 0 else []
            if not names:
                raise RunError(
                    f"the signing key is not in {allowed_signers}",
                    hint="add 'NAME KEY' for it to the allowed_signers file",
                )
            if len(names) > 1:
                raise RunError(
                    f"the signing key belongs to several approvers ({', '.join(names)})",
                    hint="say which one with --as NAME",
                )
            principal = names[0]
        checked = _run([_keygen(), "-Y", "verify", "-f", str(allowed_signers), "-I", principal,
                        "-n", NAMESPACE, "-s", str(sig_path)], payload)  # fmt: skip
    out = checked.stdout.decode("utf-8", "replace")
    match = re.search(r"Good \"[^\"]+\" signature for (.+) with (\S+) key (\S+)", out)
    if checked.returncode != 0 or match is None:
        raise RunError(
            f"the SSH signature does not verify as {principal!r} against {allowed_signers}",
            hint="sign the approval of this pause with a key allowed_signers lists for you",
        )
    return f"{match.group(1)} {match.group(3)}"


def _run(argv: list[str], stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(argv, input=stdin, capture_output=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise RunError("ssh-keygen did not answer in time") from None

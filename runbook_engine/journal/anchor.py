"""Anchoring journals in what the run directory does not control.

A hash chain alone shows edits, but whoever can write a run directory can also
re-chain a forged line or cut the journal short. So every journal line also carries
``mac`` = HMAC-SHA256 of its hash under the per-installation key (a 0600 file in the
state dir, never in a runs dir), and the run index keeps the head the runner
recorded last (sequence number, hash) with an HMAC of its own. Without the key
nobody can write a line or a head the runner would accept. What this does and does
not protect against is written down in docs/journal.md ("Threat model").
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from runbook_engine.errors import RunError
from runbook_engine.journal.state import ensure_private_dir

KEY_NAME = "installation.key"


def key_path(state_dir: Path) -> Path:
    return Path(state_dir) / KEY_NAME


def installation_key(state_dir: Path, *, create: bool = True) -> bytes:
    """The installation's secret key, made (0600, 32 random bytes) on first use.
    With ``create=False`` a missing key is a `RunError` (verify never invents one)."""
    path = key_path(state_dir)
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        if not create:
            raise RunError(
                f"no installation key at {path}: journals cannot be checked here",
                hint="verify and resume where the run was started (same user and state dir)",
            ) from None
        ensure_private_dir(path.parent)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return installation_key(state_dir, create=False)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(32) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return installation_key(state_dir, create=False)
    except OSError as exc:
        raise RunError(f"cannot read the installation key {path}: {exc.strerror or exc}") from exc
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise RunError(f"installation key {path} is damaged (not hex)") from None


def line_mac(key: bytes, run_id: str, digest: str) -> str:
    """The MAC of one journal line: its hash, bound to its run."""
    return hmac.digest(key, f"line\0{run_id}\0{digest}".encode(), "sha256").hex()  # one-shot C path


def head_mac(key: bytes, run_id: str, seq: int, digest: str) -> str:
    """The MAC of a run's recorded head."""
    return hmac.digest(key, f"head\0{run_id}\0{seq}\0{digest}".encode(), "sha256").hex()


def same(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a, b)

"""Secret captures kept across a resume without ever being journaled.

A ``secret_output`` step's captures are masked in the journal, yet a later step may
need them after a pause. They are kept in ``<run dir>/secrets.sealed``, encrypted
with AES-GCM under a key derived from the installation key (which never lives in
a runs dir) and bound to the run and step, so the file is useless anywhere else and
any change to it is refused. Secret *vars* are not kept at all: resume asks for
them again (``--var`` or their ``env``), see docs/journal.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

from runbook_engine.errors import RunError

SEALED_NAME = "secrets.sealed"


def _aead(key: bytes) -> Any:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(hmac.new(key, b"runbook-engine sealed captures", hashlib.sha256).digest())


def seal(run_dir: Path, key: bytes, run_id: str, step_id: str, value: Any) -> None:
    """Append ``value`` (JSON data) sealed for ``step_id``; the last one per step counts."""
    nonce = os.urandom(12)
    text = json.dumps(value, sort_keys=True, default=str).encode()
    box = _aead(key).encrypt(nonce, text, f"{run_id}\0{step_id}".encode())
    line = json.dumps(
        {"step": step_id, "nonce": base64.b64encode(nonce).decode(), "box": base64.b64encode(box).decode()}
    )
    fd = os.open(run_dir / SEALED_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def unseal(run_dir: Path, key: bytes, run_id: str) -> dict[str, Any]:
    """Every step's sealed value; a `RunError` if the file was changed."""
    from cryptography.exceptions import InvalidTag

    path = run_dir / SEALED_NAME
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return {}
    values: dict[str, Any] = {}
    for number, line in enumerate(lines, start=1):
        try:
            item = json.loads(line)
            step = str(item["step"])
            text = _aead(key).decrypt(
                base64.b64decode(item["nonce"]),
                base64.b64decode(item["box"]),
                f"{run_id}\0{step}".encode(),
            )
            values[step] = json.loads(text)
        except (ValueError, KeyError, TypeError, InvalidTag):
            raise RunError(
                f"{path}:{number}: sealed secret captures do not open with this installation's key",
                hint="the file was changed, or the run belongs to another installation",
            ) from None
    return values

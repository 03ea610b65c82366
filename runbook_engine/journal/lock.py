"""The lock that refuses a second concurrent run of the same runbook and inventory.

It lives in the per-user state dir (see `state`), never under a runs dir or the
working directory, so two shells in two directories still exclude each other; and
`resume` takes it before it reads the journal, so two resumes cannot both act.

``flock`` is held by the open file, so the kernel releases it the moment the holder
dies, even by SIGKILL: a stale lock file is simply taken over. The file's content
(holder pid, host, start time, run id) is only there to name the holder in the
refusal message.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
from pathlib import Path
from types import TracebackType
from typing import Any

from runbook_engine.errors import RunError
from runbook_engine.journal.journal import utc_now
from runbook_engine.journal.state import ensure_private_dir


class RunLock:
    """``with RunLock(state_dir, key):`` — held for the whole run."""

    def __init__(self, state_dir: Path, key: str, *, run_id: str | None = None) -> None:
        self.key = key
        self.path = (
            Path(state_dir)
            / "locks"
            / f"{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}.lock"
        )
        self.run_id = run_id
        #: Who held the lock before us and died without releasing it, if anyone.
        self.previous_holder: dict[str, Any] | None = None
        self._fd: int | None = None
        self._since = ""

    def acquire(self) -> RunLock:
        ensure_private_dir(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise RunError(
                f"another run holds the lock: run {holder.get('run_id') or '?'},"
                f" pid {holder.get('pid') or '?'} on {holder.get('host') or '?'},"
                f" since {holder.get('since') or '?'}",
                hint=f"one run at a time per runbook and inventory ({self.key}); lock file {self.path}",
            ) from None
        self.previous_holder = _holder(fd) or None
        self._fd = fd
        self._since = utc_now()
        self._write()
        return self

    def record_run(self, run_id: str) -> None:
        """Name the run holding the lock, once its id exists."""
        self.run_id = run_id
        if self._fd is not None:
            self._write()

    def release(self) -> None:
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def _write(self) -> None:
        assert self._fd is not None
        text = json.dumps(
            {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "run_id": self.run_id,
                "key": self.key,
                "since": self._since,
            }
        )
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, (text + "\n").encode("utf-8"), 0)


def _holder(fd: int) -> dict[str, Any]:
    try:
        raw = os.pread(fd, 4096, 0)
        holder = json.loads(raw) if raw.strip() else {}
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}

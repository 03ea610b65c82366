"""The run index: one SQLite table listing every run under a runs directory.

The journal files are the truth; the index is a fast listing for `runbook runs`,
and it can always be rebuilt from the run directories. It also keeps each journal's
*head* (last sequence number, hash, and their HMAC under the installation key, see
`anchor`) whenever a run starts, finishes a phase, starts or ends a rollback,
pauses, resumes or finishes: an anchor outside the
journal file, so `verify` notices lines cut from the end, which the hash chain alone
cannot show. A damaged index file is set aside and a fresh one rebuilt from the run
directories; the heads it held are lost, and `verify` says so for each run.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

INDEX_NAME = "index.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id     TEXT PRIMARY KEY,
    runbook    TEXT NOT NULL,
    path       TEXT NOT NULL,
    status     TEXT NOT NULL,
    started    TEXT NOT NULL,
    finished   TEXT,
    initiator  TEXT NOT NULL,
    inventory  TEXT,
    exit_code  INTEGER,
    pid        INTEGER,
    head_seq   INTEGER,
    head_hash  TEXT,
    head_mac   TEXT
)
"""

_COLUMNS = (
    "run_id",
    "runbook",
    "path",
    "status",
    "started",
    "finished",
    "initiator",
    "inventory",
    "exit_code",
    "pid",
    "head_seq",
    "head_hash",
    "head_mac",
)

#: Columns added after the first release of the index, with their SQL type.
_ADDED_COLUMNS = {"head_seq": "INTEGER", "head_hash": "TEXT", "head_mac": "TEXT"}


@dataclass(frozen=True, slots=True)
class RunRow:
    """One run as the index lists it."""

    run_id: str
    runbook: str
    path: str
    status: str
    started: str
    finished: str | None
    initiator: str
    inventory: str | None
    exit_code: int | None
    pid: int | None
    head_seq: int | None = None
    head_hash: str | None = None
    head_mac: str | None = None


class RunIndex:
    """Access to ``<runs_dir>/index.sqlite``; every call opens and closes its own
    connection, so several runner processes can share one index."""

    def __init__(self, runs_dir: Path) -> None:
        self.path = Path(runs_dir) / INDEX_NAME

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = self._open()
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise
            self._set_aside(exc)
            conn = self._open()
        with closing(conn), conn:
            yield conn

    def _open(self) -> sqlite3.Connection:
        """A connection to an index with the current schema."""
        conn = sqlite3.connect(self.path, timeout=30.0)
        try:
            with conn:
                conn.execute(_SCHEMA)
                present = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
                for column, kind in _ADDED_COLUMNS.items():
                    if column not in present:
                        conn.execute(f"ALTER TABLE runs ADD COLUMN {column} {kind}")
        except BaseException:
            conn.close()
            raise
        return conn

    def _set_aside(self, exc: Exception) -> None:
        """Keep a damaged index for inspection and start a fresh one (`list_runs`
        fills it from the run directories)."""
        aside = self.path.with_name(f"{self.path.name}.damaged-{time.strftime('%Y%m%dT%H%M%S')}")
        with contextlib.suppress(FileNotFoundError):
            os.replace(self.path, aside)
        for suffix in ("-journal", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{self.path}{suffix}")
        sys.stderr.write(
            f"warning: run index {self.path} was unreadable ({exc}); kept as {aside.name},"
            " rebuilt from the run directories\n"
        )

    def add(self, row: RunRow) -> None:
        with self._connect() as conn:
            conn.execute(
                f"INSERT OR REPLACE INTO runs ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                tuple(getattr(row, c) for c in _COLUMNS),
            )

    def update(
        self,
        run_id: str,
        *,
        status: str,
        finished: str | None = None,
        exit_code: int | None = None,
        pid: int | None = None,
        head: tuple[int, str, str] | None = None,
    ) -> None:
        head_seq, head_hash, mac = head if head is not None else (None, None, None)
        with self._connect() as conn:
            conn.execute(
                "UPDATE runs SET status = ?, finished = ?, exit_code = ?, pid = COALESCE(?, pid),"
                " head_seq = COALESCE(?, head_seq), head_hash = COALESCE(?, head_hash),"
                " head_mac = COALESCE(?, head_mac) WHERE run_id = ?",
                (status, finished, exit_code, pid, head_seq, head_hash, mac, run_id),
            )

    def anchor(self, run_id: str, head: tuple[int, str, str]) -> None:
        """Record the journal's head (seq, hash, MAC) without changing the status."""
        with self._connect() as conn:
            conn.execute(
                "UPDATE runs SET head_seq = ?, head_hash = ?, head_mac = ? WHERE run_id = ?",
                (*head, run_id),
            )

    def get(self, run_id: str) -> RunRow | None:
        with self._connect() as conn:
            found = conn.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
        return RunRow(*found) if found else None

    def list(self) -> list[RunRow]:
        """Every run, newest first (run ids sort by start time)."""
        if not self.path.exists():
            return []
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM runs ORDER BY run_id DESC"
            ).fetchall()
        return [RunRow(*r) for r in rows]

"""The append-only journal of one run: ``<runs_dir>/<run_id>/journal.jsonl``.

Every transition is one JSON line written with a single ``O_APPEND`` write, so a
crash can at worst leave a torn last line, never a half-line in the middle. Lines are
hash-chained (see `chain`). The run directory also holds ``meta.json`` (what the run
was started from), and the run is listed in the SQLite index.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook_engine.errors import RunError
from runbook_engine.journal.anchor import head_mac, installation_key, line_mac
from runbook_engine.journal.chain import GENESIS, canonical
from runbook_engine.journal.events import (
    Event,
    JournalRepaired,
    Paused,
    PhaseFinished,
    Recorded,
    Resumed,
    RollbackFinished,
    RollbackStarted,
    RunFinished,
    RunStarted,
    decode_all,
    encode,
)
from runbook_engine.journal.index import RunIndex, RunRow
from runbook_engine.journal.sealed import seal, unseal
from runbook_engine.journal.state import state_dir as default_state_dir

JOURNAL_NAME = "journal.jsonl"
META_NAME = "meta.json"

#: What to try when a runs dir holds no (such) run.
RUNS_DIR_HINT = "runs started elsewhere: pass --runs-dir DIR or set RUNBOOK_RUNS_DIR"

#: Events after which the index anchors the journal's head (a few per run, so lines
#: cut from the end of a long run are seen; not per step, which would cost an SQLite
#: transaction each). ``paused``, ``resumed`` and ``run_finished`` also update the
#: status the index shows, anchoring the head with it.
_ANCHORED = (RunStarted, PhaseFinished, RollbackStarted, RollbackFinished)


def utc_now() -> str:
    """Now as ISO 8601 UTC with milliseconds, the journal's one time format."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def new_run_id(runbook_name: str) -> str:
    """A run id that sorts by start time and says which runbook it ran."""
    slug = re.sub(r"[^a-z0-9]+", "-", runbook_name.lower()).strip("-")[:40].strip("-") or "run"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{slug}-{secrets.token_hex(2)}"


class Journal:
    """The journal of one run. Appends come from one process (the runner)."""

    def __init__(
        self, runs_dir: Path, run_id: str, meta: dict[str, Any], state_dir: Path | None = None
    ) -> None:
        self.runs_dir = Path(runs_dir)
        #: Where the installation key lives (see `anchor`).
        self.state_dir = Path(state_dir) if state_dir is not None else default_state_dir()
        self._key: bytes | None = None
        self.run_id = run_id
        self.dir = self.runs_dir / run_id
        self.path = self.dir / JOURNAL_NAME
        self.meta = meta
        self.torn_tail = False
        self._index = RunIndex(self.runs_dir)
        self._fd: int | None = None
        self._seq: int | None = None
        self._prev = GENESIS
        self._needs_newline = False
        self._synced = 0  # seq of the last line known durable

    # -- creating and finding runs ------------------------------------------------

    @classmethod
    def create(
        cls,
        runs_dir: Path,
        *,
        runbook_name: str,
        runbook_path: str,
        runbook_sha256: str,
        vars_sha256: str,
        inventory: str | None,
        initiator: str,
        state_dir: Path | None = None,
    ) -> Journal:
        """Make a new run directory, its empty journal and its index entry."""
        runs_dir = Path(runs_dir)
        runs_dir.mkdir(parents=True, exist_ok=True)
        while True:
            run_id = new_run_id(runbook_name)
            try:
                (runs_dir / run_id).mkdir()
                break
            except FileExistsError:
                continue
        started = utc_now()
        meta: dict[str, Any] = {
            "run_id": run_id,
            "runbook": runbook_name,
            "runbook_path": runbook_path,
            "runbook_sha256": runbook_sha256,
            "vars_sha256": vars_sha256,
            "inventory": inventory,
            "initiator": initiator,
            "created": started,
        }
        journal = cls(runs_dir, run_id, meta, state_dir)
        _write_atomic(journal.dir / META_NAME, json.dumps(meta, indent=2, sort_keys=True) + "\n")
        journal._fd = os.open(
            journal.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600
        )
        journal._seq = 0
        _fsync_dir(journal.dir)
        _fsync_dir(runs_dir)
        journal._index.add(
            RunRow(
                run_id=run_id,
                runbook=runbook_name,
                path=runbook_path,
                status="running",
                started=started,
                finished=None,
                initiator=initiator,
                inventory=inventory,
                exit_code=None,
                pid=os.getpid(),
                head_seq=0,
                head_hash=GENESIS,
                head_mac=head_mac(journal.key, run_id, 0, GENESIS),
            )
        )
        return journal

    @classmethod
    def open(cls, runs_dir: Path, run_id: str, state_dir: Path | None = None) -> Journal:
        """Open an existing run by id, unique id prefix, or ``last``."""
        runs_dir = Path(runs_dir)
        resolved = resolve_run_id(runs_dir, run_id)
        meta_path = runs_dir / resolved / META_NAME
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise RunError(f"run {resolved}: unreadable {META_NAME}: {exc}") from exc
        return cls(runs_dir, resolved, meta, state_dir)

    @property
    def key(self) -> bytes:
        """The installation key the lines and heads of this journal are MACed with."""
        if self._key is None:
            self._key = installation_key(self.state_dir)
        return self._key

    def head(self) -> tuple[int, str, str]:
        """The anchored head of what was written so far: (seq, hash, MAC)."""
        seq = self._seq or 0
        return seq, self._prev, head_mac(self.key, self.run_id, seq, self._prev)

    def seal(self, step_id: str, value: Any) -> None:
        """Keep a ``secret_output`` step's captures for a resume, encrypted, outside
        the journal (see `sealed`)."""
        seal(self.dir, self.key, self.run_id, step_id, value)

    def unsealed(self) -> dict[str, Any]:
        return unseal(self.dir, self.key, self.run_id)

    # -- writing ------------------------------------------------------------------

    def append(self, event: Event, *, sync: bool | None = None) -> dict[str, Any]:
        """Append one event as a hash-chained line, fsynced now if its class is
        ``durable`` (``sync`` overrides that: a test run needs no fsync)."""
        data = encode(event)
        if self._seq is None:
            self._resume_appending()
        assert self._fd is not None and self._seq is not None
        record: dict[str, Any] = {
            "seq": self._seq + 1,
            "ts": utc_now(),
            "event": event.name,
            **data,
            "prev": self._prev,
        }
        body = canonical(record)  # built once: hashed, then written with the hash last
        record["hash"] = digest = hashlib.sha256((self._prev + body).encode("utf-8")).hexdigest()
        record["mac"] = line_mac(self.key, self.run_id, digest)
        line = f'{body[:-1]},"hash":"{digest}","mac":"{record["mac"]}"}}\n'.encode()
        if self._needs_newline:
            line = b"\n" + line
            self._needs_newline = False
        _write_all(self._fd, line)
        self._seq += 1
        self._prev = digest
        indexed = isinstance(event, Paused | Resumed | RunFinished)
        anchored = isinstance(event, _ANCHORED)
        if (event.durable if sync is None else sync) or anchored or indexed:
            self.sync()  # an anchored head is never ahead of what is on disk
        if isinstance(event, RunFinished):
            self._index.update(
                self.run_id,
                status=event.status,
                finished=record["ts"],
                exit_code=event.exit_code,
                head=self.head(),
            )
        elif indexed:
            status = "paused" if isinstance(event, Paused) else "running"
            self._index.update(self.run_id, status=status, pid=os.getpid(), head=self.head())
        elif anchored:
            self._index.anchor(self.run_id, self.head())
        return record

    @property
    def seq(self) -> int:
        """The sequence number of the last line written (0 before any)."""
        return self._seq or 0

    def pending(self, seq: int | None = None) -> bool:
        """Whether line ``seq`` (default: the last one written) is not yet known to be
        on disk."""
        if self._fd is None or self._seq is None:
            return False
        return self._synced < (self._seq if seq is None else seq)

    def sync(self) -> None:
        """Make every line written so far durable (one fsync, none if nothing is new).
        Safe to call from a worker thread while the runner keeps appending: it covers
        at least the lines written before it was called."""
        fd, upto = self._fd, self._seq
        if fd is None or upto is None or self._synced >= upto:
            return
        os.fsync(fd)
        self._synced = max(self._synced, upto)

    def close(self, status: str, exit_code: int) -> None:
        """Record the run's outcome and journal head in the index, and release the
        journal file."""
        head = self.head() if self._seq else None
        self._index.update(
            self.run_id, status=status, finished=utc_now(), exit_code=exit_code, head=head
        )
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
            self._seq = None

    def release(self) -> None:
        """Close the journal file without recording an outcome: an operator action
        appended while no runner holds the run (see engine/votes.py)."""
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
            self._seq = None

    def _resume_appending(self) -> None:
        """Continue the chain of an existing journal, discarding a torn last line
        (recorded as a ``journal_repaired`` event) so the next line stays readable."""
        records, good_length, torn_bytes, has_newline = _read(self.path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._seq = int(records[-1]["seq"]) if records else 0
        self._synced = self._seq
        self._prev = str(records[-1]["hash"]) if records else GENESIS
        self._needs_newline = not has_newline and torn_bytes == 0 and good_length > 0
        if torn_bytes:
            os.ftruncate(self._fd, good_length)
            os.fsync(self._fd)
            self.append(JournalRepaired(discarded_bytes=torn_bytes))

    # -- reading ------------------------------------------------------------------

    def events(self) -> list[dict[str, Any]]:
        """Every event so far. A torn last line is left out and flagged in
        ``torn_tail``; an unreadable line anywhere else is a `RunError`."""
        records, _, torn_bytes, _ = _read(self.path)
        self.torn_tail = torn_bytes > 0
        return records

    def recorded(self) -> list[Recorded]:
        """Every event so far, decoded (see `events`)."""
        return decode_all(self.events())


def resolve_run_id(runs_dir: Path, ref: str) -> str:
    """The run id meant by ``ref``: an exact id, a unique prefix, or ``last``."""
    runs = _run_ids(runs_dir)
    if ref == "last":
        if not runs:
            raise RunError(f"no runs in {runs_dir}", hint=RUNS_DIR_HINT)
        return max(runs, key=lambda r: (_created(runs_dir, r), r))
    if ref in runs:
        return ref
    matches = sorted(r for r in runs if r.startswith(ref))
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise RunError(
            f"no run {ref!r} in {runs_dir}", hint=f"`runbook runs` lists the runs; {RUNS_DIR_HINT}"
        )
    shown = ", ".join(matches[:5]) + (", ..." if len(matches) > 5 else "")
    raise RunError(f"run id prefix {ref!r} is ambiguous: {shown}", hint="give more of the id")


def _run_ids(runs_dir: Path) -> list[str]:
    if not runs_dir.is_dir():
        return []
    return [p.name for p in runs_dir.iterdir() if (p / META_NAME).is_file()]


def _created(runs_dir: Path, run_id: str) -> str:
    try:
        return str(
            json.loads((runs_dir / run_id / META_NAME).read_text(encoding="utf-8"))["created"]
        )
    except (OSError, ValueError, KeyError):
        return ""


def _read(path: Path) -> tuple[list[dict[str, Any]], int, int, bool]:
    """Records, byte length of the good part, byte length of a torn tail, and
    whether the file ends with a newline."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], 0, 0, True
    except OSError as exc:
        raise RunError(f"{path}: cannot read journal: {exc.strerror or exc}") from exc
    records: list[dict[str, Any]] = []
    offset = 0
    number = 0
    while offset < len(data):
        number += 1
        end = data.find(b"\n", offset)
        raw = data[offset:] if end == -1 else data[offset:end]
        try:
            record = json.loads(raw)
            if not isinstance(record, dict) or "seq" not in record or "hash" not in record:
                raise ValueError("not a journal record")
        except ValueError as exc:
            if end == -1:
                return records, offset, len(data) - offset, False
            raise RunError(
                f"{path}:{number}: unreadable journal line in the middle of the journal",
                hint="`runbook verify` checks the whole file",
            ) from exc
        records.append(record)
        if end == -1:
            return records, len(data), 0, False
        offset = end + 1
    return records, len(data), 0, True


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

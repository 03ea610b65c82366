"""Versioned schema migrations for the ``sql`` executor.

A folder holds ``<id>_<name>.up.sql`` and ``<id>_<name>.down.sql`` files (ids sort as
text, e.g. ``20251201``). Each applied migration is recorded in
``runbook_schema_migrations(id, name, release, checksum, applied_at)`` in the same
transaction as its SQL, so a failure leaves the database at the last good version.
The functions here are synchronous: the executor runs them in a worker thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from runbook_engine.errors import ExecutorError

TABLE = "runbook_schema_migrations"
_FILE = re.compile(r"^(?P<id>[^_]+)_(?P<name>.+)\.(?P<direction>up|down)\.sql$")
_VERSION_PART = re.compile(r"(\d+)")


class Database(Protocol):
    """What migrations need from an open connection (autocommit outside BEGIN)."""

    dialect: str  # "sqlite", "postgresql" or "mysql"
    errors: tuple[type[Exception], ...]  # the driver's error classes

    def rows(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]: ...
    def execute(self, sql: str, params: dict[str, Any]) -> None: ...
    def script(self, sql: str) -> None: ...
    def begin(self) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration read from the folder: its up file and, if any, its down file."""

    id: str
    name: str
    up: Path
    down: Path | None

    @property
    def label(self) -> str:
        return f"{self.id}_{self.name}"

    def checksum(self) -> str:
        return hashlib.sha256(self.up.read_bytes()).hexdigest()


@dataclass(frozen=True, slots=True)
class Applied:
    """A migration the database records as applied, in which release."""

    id: str
    name: str
    release: str
    checksum: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a migrate, rollback or status call found and did; ``error`` is the
    database's own message when a migration failed."""

    version: str | None
    release: str | None
    applied: list[str] = field(default_factory=list)
    reverted: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    drifted: list[str] = field(default_factory=list)
    error: str | None = None

    def fields(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "release": self.release,
            "applied": self.applied,
            "reverted": self.reverted,
            "pending": self.pending,
            "drifted": self.drifted,
        }


def read_folder(folder: Path) -> list[Migration]:
    """The migrations in ``folder``, oldest first; a badly named ``.sql`` file is an
    error rather than silently skipped, since skipping it would skip a schema change."""
    if not folder.is_dir():
        raise ExecutorError(f"migrations folder {folder} does not exist")
    ups: dict[str, tuple[str, Path]] = {}
    downs: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix != ".sql":
            continue
        match = _FILE.match(path.name)
        if not match:
            raise ExecutorError(
                f"migration file {path.name} is not named <id>_<name>.up.sql or <id>_<name>.down.sql",
                hint="e.g. 20251201_add_event_metadata.up.sql",
            )
        ident, name = match["id"], match["name"]
        if match["direction"] == "up":
            if ident in ups:
                raise ExecutorError(f"two up migrations share the id {ident} in {folder}")
            ups[ident] = (name, path)
        else:
            downs[ident] = path
    orphans = sorted(set(downs) - set(ups))
    if orphans:
        raise ExecutorError(f"down migration without an up file in {folder}: {', '.join(orphans)}")
    return [Migration(i, ups[i][0], ups[i][1], downs.get(i)) for i in sorted(ups)]


def _ddl(dialect: str) -> str:
    key = "VARCHAR(191)" if dialect == "mysql" else "TEXT"
    text = "VARCHAR(255)" if dialect == "mysql" else "TEXT"
    return (
        f"CREATE TABLE IF NOT EXISTS {TABLE} (id {key} PRIMARY KEY, name {text} NOT NULL, "
        f"{_quote('release', dialect)} {text} NOT NULL, checksum {text} NOT NULL, "
        f"applied_at {text} NOT NULL)"
    )


def _quote(column: str, dialect: str) -> str:
    """``release`` is a reserved word in MySQL, so columns are quoted per dialect."""
    return f"`{column}`" if dialect == "mysql" else f'"{column}"'


def _recorded(db: Database) -> list[Applied]:
    db.execute(_ddl(db.dialect), {})
    release = _quote("release", db.dialect)
    rows = db.rows(f"SELECT id, name, {release}, checksum FROM {TABLE} ORDER BY id", {})
    return [Applied(str(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]


def _outcome(db: Database, migrations: Sequence[Migration], **done: Any) -> Outcome:
    recorded = _recorded(db)
    applied_ids = {a.id for a in recorded}
    by_id = {m.id: m for m in migrations}
    last = recorded[-1] if recorded else None
    return Outcome(
        version=last.id if last else None,
        release=last.release if last else None,
        pending=[m.label for m in migrations if m.id not in applied_ids],
        drifted=[
            by_id[a.id].label
            for a in recorded
            if a.id in by_id and by_id[a.id].checksum() != a.checksum
        ],
        **done,
    )


def status(db: Database, migrations: Sequence[Migration]) -> Outcome:
    """The equivalent of ``check-migration-status.sh``."""
    return _outcome(db, migrations)


def _in_transaction(db: Database, work: Callable[[], None]) -> str | None:
    """Runs ``work`` between BEGIN and COMMIT; the database's error text on failure."""
    failures: tuple[type[Exception], ...] = (*db.errors, OSError, UnicodeDecodeError)
    db.begin()
    try:
        work()
        db.commit()
    except failures as exc:
        with contextlib.suppress(*db.errors):  # the connection may be gone; keep the first error
            db.rollback()
        return str(exc).strip() or type(exc).__name__
    return None


def migrate(
    db: Database,
    migrations: Sequence[Migration],
    release: str,
    to: str | None = None,
    log: Callable[[str], None] = lambda line: None,
) -> Outcome:
    """Applies pending migrations (up to and including id ``to``), oldest first."""
    before = _outcome(db, migrations)
    if before.drifted:
        return _outcome(
            db,
            migrations,
            error=(
                f"applied migrations changed on disk since they ran: {', '.join(before.drifted)}; "
                "refusing to migrate"
            ),
        )
    recorded = {a.id for a in _recorded(db)}
    todo = [m for m in migrations if m.id not in recorded and (to is None or m.id <= to)]
    applied: list[str] = []
    release_col = _quote("release", db.dialect)
    for migration in todo:
        log(f"applying {migration.label} ({release})")

        def work(m: Migration = migration) -> None:
            db.script(m.up.read_text(encoding="utf-8"))
            db.execute(
                f"INSERT INTO {TABLE} (id, name, {release_col}, checksum, applied_at) "
                "VALUES (:id, :name, :release, :checksum, :applied_at)",
                {
                    "id": m.id,
                    "name": m.name,
                    "release": release,
                    "checksum": m.checksum(),
                    "applied_at": datetime.now(UTC).isoformat(timespec="seconds"),
                },
            )

        error = _in_transaction(db, work)
        if error is not None:
            return _outcome(
                db,
                migrations,
                applied=applied,
                error=f"migration {migration.label} failed: {error}",
            )
        applied.append(migration.label)
    return _outcome(db, migrations, applied=applied)


def _version_key(text: str) -> list[Any]:
    return [(0, int(p)) if p.isdigit() else (1, p) for p in _VERSION_PART.split(text) if p]


def to_revert(recorded: Sequence[Applied], to: str) -> list[Applied]:
    """Applied migrations to undo, newest first, to get back to ``to``.

    ``to`` is a migration id (undo everything after it) or a release (undo everything
    after that release's last migration). A release with no recorded migration undoes
    the migrations of releases that sort after it as versions (v2.4.0 > v2.3.0), so
    older releases are never touched by a rollback to an unrecorded target.
    """
    ids = [a.id for a in recorded]
    if to in ids:
        cut = ids.index(to)
        return list(reversed(recorded[cut + 1 :]))
    of_release = [i for i, a in enumerate(recorded) if a.release == to]
    if of_release:
        return list(reversed(recorded[of_release[-1] + 1 :]))
    target = _version_key(to)
    return [a for a in reversed(recorded) if _version_key(a.release) > target]


def rollback(
    db: Database,
    migrations: Sequence[Migration],
    to: str,
    log: Callable[[str], None] = lambda line: None,
) -> Outcome:
    """Runs the down files, newest first, of every migration applied after ``to``."""
    undo = to_revert(_recorded(db), to)
    by_id = {m.id: m for m in migrations}
    missing = [f"{a.id}_{a.name}" for a in undo if a.id not in by_id or by_id[a.id].down is None]
    if missing:
        return _outcome(
            db,
            migrations,
            error=f"cannot roll back to {to}: no down file for {', '.join(missing)}; nothing was reverted",
        )
    reverted: list[str] = []
    for entry in undo:
        migration = by_id[entry.id]
        log(f"reverting {migration.label} ({entry.release})")

        def work(m: Migration = migration) -> None:
            assert m.down is not None  # checked above
            db.script(m.down.read_text(encoding="utf-8"))
            db.execute(f"DELETE FROM {TABLE} WHERE id = :id", {"id": m.id})

        error = _in_transaction(db, work)
        if error is not None:
            return _outcome(
                db,
                migrations,
                reverted=reverted,
                error=f"reverting {migration.label} failed: {error}",
            )
        reverted.append(migration.label)
    return _outcome(db, migrations, reverted=reverted)

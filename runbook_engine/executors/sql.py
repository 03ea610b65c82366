"""The ``sql`` executor: queries and versioned migrations on SQLite, PostgreSQL and
MySQL/MariaDB.

Values reach the database only as bound parameters (``:name`` with a mapping, ``?``
with a list), translated to each driver's own style. Blocking drivers run in a worker
thread; a timeout or a cancelled run interrupts the statement on the server. The DSN
is never reported: it usually carries a password.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

from runbook_engine.display import value_text
from runbook_engine.errors import ExecutorError, TemplateError
from runbook_engine.executors.base import ExecutorBase, NamedCheck, Result, StepCall
from runbook_engine.executors.wait import DURATION_SCHEMA, to_seconds

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_ROWS = 1000
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_MODES = ("query", "script", "migrate", "rollback", "migration_status")


# --- parameters ---------------------------------------------------------------------


def to_driver_style(sql: str, dialect: str, named: bool) -> tuple[str, list[str]]:
    """Rewrites ``:name``/``?`` placeholders to the pyformat style of psycopg and PyMySQL
    (``%(name)s``/``%s``), doubling literal ``%``; returns the names used in order.

    Placeholders inside string literals, quoted identifiers, comments and PostgreSQL
    dollar quotes are left alone, and ``::`` casts are not parameters.
    """
    out: list[str] = []
    names: list[str] = []
    i, n = 0, len(sql)
    mysql = dialect == "mysql"
    while i < n:
        c = sql[i]
        if c in "'\"`":
            j = i + 1
            while j < n:
                if mysql and sql[j] == "\\":
                    j += 2
                    continue
                if sql[j] == c:
                    if j + 1 < n and sql[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            out.append(sql[i : j + 1].replace("%", "%%"))
            i = j + 1
        elif sql.startswith("--", i) or (mysql and c == "#"):
            j = sql.find("\n", i)
            j = n if j < 0 else j
            out.append(sql[i:j].replace("%", "%%"))
            i = j
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(sql[i:j].replace("%", "%%"))
            i = j
        elif (
            c == "$"
            and dialect == "postgresql"
            and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_"))
        ):
            end = sql.find("$", i + 1)
            tag = sql[i : end + 1] if end > 0 else ""
            if (
                tag
                and all(ch.isalnum() or ch == "_" for ch in tag[1:-1])
                and not tag[1:2].isdigit()
            ):
                close = sql.find(tag, end + 1)
                close = n if close < 0 else close + len(tag)
                out.append(sql[i:close].replace("%", "%%"))
                i = close
            else:
                out.append(c)
                i += 1
        elif c == ":" and sql.startswith("::", i):
            out.append("::")
            i += 2
        elif c == ":" and named and i + 1 < n and (sql[i + 1].isalpha() or sql[i + 1] == "_"):
            j = i + 1
            while j < n and (sql[j].isalnum() or sql[j] == "_"):
                j += 1
            names.append(sql[i + 1 : j])
            out.append(f"%({sql[i + 1 : j]})s")
            i = j
        elif c == "?" and not named:
            names.append("?")
            out.append("%s")
            i += 1
        elif c == "%":
            out.append("%%")
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out), names


def split_statements(sql: str) -> list[str]:
    """Splits a MySQL script on ``;`` outside quotes and comments (no DELIMITER)."""
    statements: list[str] = []
    start, i, n = 0, 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"`":
            j = i + 1
            while j < n and sql[j] != c:
                j += 2 if sql[j] == "\\" else 1
            i = j + 1
        elif sql.startswith("--", i) or c == "#":
            j = sql.find("\n", i)
            i = n if j < 0 else j
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == ";":
            statements.append(sql[start:i])
            start = i = i + 1
        else:
            i += 1
    statements.append(sql[start:])
    return [s.strip() for s in statements if _has_code(s)]


def _has_code(statement: str) -> bool:
    """False for a piece that is only whitespace and comments (MySQL rejects those)."""
    text = _BLOCK_COMMENT.sub("", statement)
    return any(ln.split("--")[0].split("#")[0].strip() for ln in text.splitlines())


def _plain(value: Any) -> Any:
    """Driver values as JSON-friendly values for predicates and the journal."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.hex()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    return str(value)


def _redacted(value: Any, redact: Callable[[str], str]) -> Any:
    """Secrets stored in the database stay out of the journal too."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redacted(v, redact) for v in value]
    if isinstance(value, dict):
        return {k: _redacted(v, redact) for k, v in value.items()}
    return value


# --- connections ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed DSN; ``shown`` is the DSN with its password masked."""

    dialect: str
    dsn: str
    shown: str
    secret: str | None = None


def parse_dsn(dsn: str | None, database: str | None, workdir: Path) -> Target:
    if database is not None:
        path = Path(database)
        path = path if path.is_absolute() else workdir / path
        return Target("sqlite", str(path), f"sqlite:///{path}")
    if not dsn:
        raise ExecutorError("sql step needs a dsn (or a database path for SQLite)")
    parts = urlsplit(dsn)
    scheme = parts.scheme.split("+")[0].lower()
    if scheme == "sqlite":
        raw = dsn.split("://", 1)[1]
        path_text = raw[1:] if raw.startswith("/") else raw
        if path_text in ("", ":memory:"):
            return Target("sqlite", ":memory:", "sqlite:///:memory:")
        path = Path(path_text)
        path = path if path.is_absolute() else workdir / path
        return Target("sqlite", str(path), f"sqlite:///{path}")
    dialect = {
        "postgresql": "postgresql",
        "postgres": "postgresql",
        "mysql": "mysql",
        "mariadb": "mysql",
    }.get(scheme)
    if dialect is None:
        raise ExecutorError(
            f"unsupported DSN scheme {parts.scheme!r}",
            hint="use sqlite:///path, postgresql://user@host/db or mysql://user@host/db",
        )
    shown = dsn
    if parts.password is not None:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        shown = urlunsplit(parts._replace(netloc=netloc))
    secret = unquote(parts.password) if parts.password else None
    return Target(dialect, dsn, shown, secret)


class CannotConnect(Exception):
    """The database could not be reached; the step fails with the driver's words."""


class _Session:
    """One connection in autocommit mode; transactions are explicit BEGIN/COMMIT."""

    dialect: str
    errors: tuple[type[Exception], ...]

    def cursor_rows(
        self, sql: str, params: Mapping[str, Any] | list[Any] | None, limit: int
    ) -> tuple[list[str], list[tuple[Any, ...]], int, bool]:
        raise NotImplementedError

    def rows(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        return self.cursor_rows(sql, params, 1_000_000)[1]

    def execute(self, sql: str, params: dict[str, Any]) -> None:
        self.cursor_rows(sql, params, 0)

    def script(self, sql: str) -> None:
        raise NotImplementedError

    def begin(self) -> None:
        self.script("BEGIN")

    def commit(self) -> None:
        self.script("COMMIT")

    def rollback(self) -> None:
        self.script("ROLLBACK")

    def interrupt(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


def _fetch(cursor: Any, limit: int) -> tuple[list[str], list[tuple[Any, ...]], int, bool]:
    if cursor.description is None:
        return [], [], cursor.rowcount, False
    columns = [str(d[0]) for d in cursor.description]
    rows = [tuple(r) for r in cursor.fetchmany(limit + 1)] if limit else []
    truncated = len(rows) > limit
    return columns, rows[:limit], cursor.rowcount, truncated


class _Sqlite(_Session):
    dialect = "sqlite"

    def __init__(self, path: str, timeout: float) -> None:
        import sqlite3  # sqlite3 here and below, not at import: lint only reads the schema

        self.errors = (sqlite3.Error,)
        if path != ":memory:" and not Path(path).parent.is_dir():
            raise CannotConnect(f"folder {Path(path).parent} of the SQLite database does not exist")
        try:
            self.conn = sqlite3.connect(
                path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise CannotConnect(str(exc)) from None
        self.deadline = time.monotonic() + timeout
        self.conn.set_progress_handler(lambda: int(time.monotonic() > self.deadline), 10_000)

    def cursor_rows(
        self, sql: str, params: Mapping[str, Any] | list[Any] | None, limit: int
    ) -> tuple[list[str], list[tuple[Any, ...]], int, bool]:
        cursor = self.conn.execute(sql, params if params is not None else ())
        columns, rows, count, truncated = _fetch(cursor, limit)
        if cursor.description is not None:  # SQLite reports -1 for SELECT: count what came
            count = len(rows) + (1 + sum(1 for _ in cursor) if truncated else 0)
        return columns, rows, count, truncated

    def script(self, sql: str) -> None:
        import sqlite3

        buffer = ""
        for piece in sql.split(";"):
            buffer += piece + ";"
            if sqlite3.complete_statement(buffer):
                if _has_code(buffer.rstrip(";")):
                    self.conn.execute(buffer)
                buffer = ""
        if _has_code(buffer.rstrip(";")):
            self.conn.execute(buffer.rstrip(";"))

    def rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def interrupt(self) -> None:
        self.conn.interrupt()

    def close(self) -> None:
        self.conn.close()


class _Postgres(_Session):
    dialect = "postgresql"

    def __init__(self, dsn: str, timeout: float) -> None:
        try:
            import psycopg
        except ImportError as exc:
            raise ExecutorError(
                "PostgreSQL support needs psycopg", hint="pip install 'runbook-engine[postgres]'"
            ) from exc
        self.errors = (psycopg.Error,)
        try:
            self.conn = psycopg.connect(dsn, autocommit=True, connect_timeout=max(1, int(timeout)))
            self.conn.execute(f"SET statement_timeout = {int(timeout * 1000)}")
        except psycopg.Error as exc:
            raise CannotConnect(str(exc).strip()) from None

    def cursor_rows(
        self, sql: str, params: Mapping[str, Any] | list[Any] | None, limit: int
    ) -> tuple[list[str], list[tuple[Any, ...]], int, bool]:
        named = not isinstance(params, list)
        text, names = to_driver_style(sql, self.dialect, named)
        _check_names(names, params)
        cursor = self.conn.execute(text, params if params is not None else {})
        return _fetch(cursor, limit)

    def script(self, sql: str) -> None:
        self.conn.execute(sql)  # no parameters, so several statements are allowed

    def interrupt(self) -> None:
        self.conn.cancel()

    def close(self) -> None:
        self.conn.close()


class _Mysql(_Session):
    dialect = "mysql"

    def __init__(self, dsn: str, timeout: float) -> None:
        try:
            import pymysql
        except ImportError as exc:
            raise ExecutorError(
                "MySQL/MariaDB support needs PyMySQL", hint="pip install 'runbook-engine[mysql]'"
            ) from exc
        self.errors = (pymysql.MySQLError,)
        parts = urlsplit(dsn)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.connect_args: dict[str, Any] = {
            "host": parts.hostname or "localhost",
            "port": parts.port or 3306,
            "user": unquote(parts.username or "root"),
            "password": unquote(parts.password or ""),
            "database": unquote(parts.path.lstrip("/")) or None,
            "charset": query.get("charset", "utf8mb4"),
            "autocommit": True,
            "connect_timeout": max(1, int(timeout)),
            # a backstop for statements the server-side limit does not cover (DDL, DML on MySQL)
            "read_timeout": int(timeout) + 5,
            "write_timeout": int(timeout) + 5,
        }
        if "unix_socket" in query:
            self.connect_args["unix_socket"] = query["unix_socket"]
        if "ssl_ca" in query:
            self.connect_args["ssl"] = {"ca": query["ssl_ca"]}
        try:
            self.conn = pymysql.connect(**self.connect_args)
            with self.conn.cursor() as cursor:
                if "mariadb" in self.conn.get_server_info().lower():
                    cursor.execute(f"SET SESSION max_statement_time = {float(timeout)}")
                else:
                    cursor.execute(f"SET SESSION max_execution_time = {int(timeout * 1000)}")
        except pymysql.MySQLError as exc:
            raise CannotConnect(str(exc).strip()) from None

    def cursor_rows(
        self, sql: str, params: Mapping[str, Any] | list[Any] | None, limit: int
    ) -> tuple[list[str], list[tuple[Any, ...]], int, bool]:
        named = not isinstance(params, list)
        text, names = to_driver_style(sql, self.dialect, named)
        _check_names(names, params)
        with self.conn.cursor() as cursor:
            cursor.execute(text, params if params else ({} if named else ()))
            return _fetch(cursor, limit)

    def script(self, sql: str) -> None:
        with self.conn.cursor() as cursor:
            for statement in split_statements(sql):
                cursor.execute(statement.replace("%", "%%"), ())

    def interrupt(self) -> None:
        import pymysql

        killer = pymysql.connect(**{**self.connect_args, "connect_timeout": 5})
        try:
            with killer.cursor() as cursor:
                cursor.execute(f"KILL QUERY {int(self.conn.thread_id())}")
        finally:
            killer.close()

    def close(self) -> None:
        self.conn.close()


def _check_names(names: list[str], params: Mapping[str, Any] | list[Any] | None) -> None:
    if isinstance(params, list) or "?" in names:
        return
    missing = sorted({n for n in names if n not in (params or {})})
    if missing:
        raise ExecutorError(
            f"query uses {', '.join(':' + n for n in missing)} but params has no such key",
            hint="bind every :name in params; values are never pasted into SQL",
        )


def _open(target: Target, timeout: float) -> _Session:
    if target.dialect == "sqlite":
        return _Sqlite(target.dsn, timeout)
    if target.dialect == "postgresql":
        return _Postgres(target.dsn, timeout)
    return _Mysql(target.dsn, timeout)


# --- the executor --------------------------------------------------------------------

_TEMPLATED_STR = {"type": "string"}

SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Run a query, a script or versioned migrations on SQLite, PostgreSQL or MySQL/MariaDB.",
    "additionalProperties": False,
    "properties": {
        "dsn": {
            "type": "string",
            "description": "sqlite:///path, postgresql://user:pass@host/db or mysql://user:pass@host/db; "
            "take it from a secret var, it is never logged.",
        },
        "database": {
            "type": "string",
            "description": "Path of a SQLite database file (instead of a dsn).",
        },
        "query": {
            "type": "string",
            "description": "One statement; bind values as :name (params is a mapping) or ? (params is a list).",
        },
        "params": {
            "type": ["object", "array"],
            "description": "Values bound to the query's placeholders; never pasted into the SQL text.",
        },
        "script": {
            "type": "string",
            "description": "Several statements, no parameters, no rows returned.",
        },
        "max_rows": {
            "type": "integer",
            "minimum": 0,
            "description": f"Rows kept in the result (default {DEFAULT_MAX_ROWS}); `truncated` says when more came.",
        },
        "timeout": {
            **DURATION_SCHEMA,
            "description": "Statement timeout, enforced by the server (default 30s).",
        },
        "migrate": {
            "type": "object",
            "description": "Apply pending <id>_<name>.up.sql migrations, one transaction each.",
            "additionalProperties": False,
            "required": ["dir", "release"],
            "properties": {
                "dir": {"type": "string", "description": "Folder of the migration files."},
                "release": {
                    "type": "string",
                    "description": "Release recorded with each applied migration.",
                },
                "to": {
                    "type": "string",
                    "description": "Stop after this migration id (default: apply all).",
                },
            },
        },
        "rollback": {
            "type": "object",
            "description": "Run the down files, newest first, of migrations applied after `to`.",
            "additionalProperties": False,
            "required": ["dir", "to"],
            "properties": {
                "dir": {"type": "string", "description": "Folder of the migration files."},
                "to": {
                    "type": "string",
                    "description": "Release (e.g. v2.3.0) or migration id to return to.",
                },
            },
        },
        "migration_status": {
            "type": "object",
            "description": "Report the applied version and pending migrations; changes nothing.",
            "additionalProperties": False,
            "required": ["dir"],
            "properties": {
                "dir": {"type": "string", "description": "Folder of the migration files."}
            },
        },
    },
    "oneOf": [{"required": [mode]} for mode in _MODES],
}


def _no_pending(fields: Mapping[str, Any], hosts: Mapping[str, Mapping[str, Any]]) -> bool:
    return not fields.get("pending") and not fields.get("drifted")


def _rows_returned(fields: Mapping[str, Any], hosts: Mapping[str, Mapping[str, Any]]) -> bool:
    return bool(fields.get("rows"))


class SqlExecutor(ExecutorBase):
    """Queries and migrations; one connection per step, closed when the step ends."""

    key: ClassVar[str] = "sql"
    schema: ClassVar[dict[str, Any]] = SCHEMA
    fields: ClassVar[dict[str, str]] = {
        "rows": "list",
        "columns": "list",
        "rowcount": "int",
        "truncated": "bool",
        "version": "str",
        "release": "str",
        "applied": "list",
        "reverted": "list",
        "pending": "list",
        "drifted": "list",
    }
    checks: ClassVar[dict[str, NamedCheck]] = {
        "migrations up to date": NamedCheck(
            "migrations up to date", "no migration is pending or changed since it ran", _no_pending
        ),
        "rows returned": NamedCheck(
            "rows returned", "the query returned at least one row", _rows_returned
        ),
    }

    async def run(self, call: StepCall) -> Result:
        spec = render_spec(call)
        if not isinstance(spec, Mapping):
            raise ExecutorError(
                "sql step must be a mapping with a dsn and a query, script or migrate"
            )
        modes = [m for m in _MODES if m in spec]
        if len(modes) != 1:
            raise ExecutorError(f"sql step needs exactly one of {', '.join(_MODES)}")
        target = parse_dsn(spec.get("dsn"), spec.get("database"), call.workdir)
        timeout = (
            to_seconds(spec["timeout"], "sql timeout")
            if "timeout" in spec
            else call.timeout or DEFAULT_TIMEOUT
        )

        def redact(text: str) -> str:
            text = text.replace(target.dsn, target.shown)
            if target.secret:
                text = text.replace(target.secret, "***")
            return call.redact(text)

        work = self._work(spec, modes[0], call)
        started = time.monotonic()
        try:
            fields, error = await _in_thread(target, timeout, work)
        except ExecutorError as exc:
            raise ExecutorError(redact(exc.message), hint=exc.hint) from None
        except TimeoutError:
            fields, error = {}, f"statement timed out after {timeout:g}s"
        elapsed = time.monotonic() - started
        if error is not None:
            return Result(ok=False, fields=fields, error=redact(error), duration=elapsed)
        return Result(ok=True, fields=fields, duration=elapsed)

    def _work(
        self, spec: Mapping[str, Any], mode: str, call: StepCall
    ) -> Callable[[_Session], tuple[dict[str, Any], str | None]]:
        def log(line: str) -> None:
            call.log(line, None)

        if mode in ("query", "script"):
            params = spec.get("params")
            limit = int(spec.get("max_rows", DEFAULT_MAX_ROWS))

            def query(session: _Session) -> tuple[dict[str, Any], str | None]:
                if mode == "script":
                    session.script(spec["script"])
                    return {"rows": [], "columns": [], "rowcount": -1, "truncated": False}, None
                columns, rows, count, truncated = session.cursor_rows(spec["query"], params, limit)
                return {
                    "rows": [
                        {
                            c: _redacted(_plain(v), call.redact)
                            for c, v in zip(columns, row, strict=True)
                        }
                        for row in rows
                    ],
                    "columns": columns,
                    "rowcount": count,
                    "truncated": truncated,
                }, None

            return query

        options = spec[mode]
        folder = Path(options["dir"])
        folder = folder if folder.is_absolute() else call.workdir / folder

        def migration(session: _Session) -> tuple[dict[str, Any], str | None]:
            from runbook_engine.executors import migrations

            found = migrations.read_folder(folder)
            if mode == "migrate":
                to = str(options["to"]).strip() if options.get("to") else None
                release = str(options["release"]).strip()
                outcome = migrations.migrate(session, found, release, to, log)
            elif mode == "rollback":  # `to` is often a captured stdout: strip its newline
                outcome = migrations.rollback(session, found, str(options["to"]).strip(), log)
            else:
                outcome = migrations.status(session, found)
            return outcome.fields(), outcome.error

        return migration

    def describe(self, call: StepCall) -> list[str]:
        spec = render_spec(call)
        target = parse_dsn(spec.get("dsn"), spec.get("database"), call.workdir)
        where = call.redact(target.shown)
        if "query" in spec:
            params = spec.get("params")
            shown = f" (params: {call.redact(value_text(params))})" if params else ""
            return [f"sql {where}: {call.redact(spec['query'])}{shown}"]
        if "script" in spec:
            return [f"sql {where}: {call.redact(spec['script'])}"]
        if "migrate" in spec:
            m = spec["migrate"]
            return [
                f"sql {where}: apply pending migrations from {m['dir']} as release {m['release']}"
            ]
        if "rollback" in spec:
            r = spec["rollback"]
            return [f"sql {where}: revert migrations from {r['dir']} back to {r['to']}"]
        return [f"sql {where}: migration status of {spec['migration_status']['dir']}"]


#: Keys whose value is SQL text: a template there may not interpolate a value.
SQL_TEXT_KEYS = ("query", "script")


def render_spec(call: StepCall) -> Any:
    """The spec rendered as data, except the SQL text: a value interpolated into it
    would become SQL syntax, so only ``| raw`` may paste one there (RB205); values
    reach the database as bound ``params``."""
    raw = call.spec
    if not isinstance(raw, Mapping):
        return call.render(raw, None)
    rendered = call.render({k: v for k, v in raw.items() if k not in SQL_TEXT_KEYS}, None)
    for key in SQL_TEXT_KEYS:
        if isinstance(raw.get(key), str):
            command = call.render_command(raw[key], None)
            if command.values:
                raise TemplateError(
                    f"sql {key}: a template value would become SQL syntax",
                    hint="write :name in the SQL and bind it under params: {name: '{{ value }}'}",
                    rule="RB205",
                )
            rendered[key] = command.script
        elif key in raw:
            rendered[key] = raw[key]
    return rendered


async def _in_thread(
    target: Target, timeout: float, work: Callable[[_Session], tuple[dict[str, Any], str | None]]
) -> tuple[dict[str, Any], str | None]:
    """Runs ``work`` on a fresh connection in a worker thread. The server enforces the
    statement timeout; if the thread still runs past it (or the run is cancelled) the
    statement is interrupted on the server before the connection is closed."""
    import asyncio
    opened: list[_Session] = []

    def blocking() -> tuple[dict[str, Any], str | None]:
        try:
            session = _open(target, timeout)
        except CannotConnect as exc:
            return {}, f"cannot connect: {exc}"
        opened.append(session)
        failures: tuple[type[Exception], ...] = (*session.errors, OSError)
        try:
            return work(session)
        except failures as exc:
            message = str(exc).strip() or type(exc).__name__
            if isinstance(session, _Sqlite) and message == "interrupted":
                import sqlite3

                if isinstance(exc, sqlite3.OperationalError):
                    message = f"statement timed out after {timeout:g}s"
            return {}, message
        finally:
            with contextlib.suppress(*session.errors):
                session.close()

    task = asyncio.ensure_future(asyncio.to_thread(blocking))
    try:
        return await asyncio.wait_for(asyncio.shield(task), timeout + 2.0)
    except (TimeoutError, asyncio.CancelledError):
        if opened:
            with contextlib.suppress(Exception):  # best effort: the connection may be closing
                await asyncio.to_thread(opened[0].interrupt)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(task), 5.0)
        raise

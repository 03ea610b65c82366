"""The sql executor against real SQLite, PostgreSQL and MariaDB databases.

Each test gets its own database (SQLite file, PostgreSQL schema, MariaDB database) with
a unique name, dropped afterwards, so the tests are safe under ``pytest -n``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runbook_engine.errors import ExecutorError
from runbook_engine.executors.base import Result, StepCall
from runbook_engine.executors.sql import SqlExecutor

PG = "postgresql://postgres@127.0.0.1:5432/test"
MARIADB = "mysql://root@127.0.0.1:3306/test"


def _unique() -> str:
    return f"rb_{uuid.uuid4().hex[:12]}"


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", marks=pytest.mark.service("postgres"), id="postgres"),
        pytest.param("mysql", marks=pytest.mark.service("mariadb"), id="mariadb"),
    ]
)
def dsn(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    name = _unique()
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'app.db'}"
    elif request.param == "postgresql":
        psycopg = pytest.importorskip("psycopg")
        try:
            admin = psycopg.connect(PG, autocommit=True, connect_timeout=3)
        except psycopg.OperationalError as exc:
            pytest.skip(f"PostgreSQL not reachable: {exc}")
        admin.execute(f"CREATE SCHEMA {name}")
        try:
            yield f"{PG}?options=-csearch_path%3D{name}"
        finally:
            admin.execute(f"DROP SCHEMA {name} CASCADE")
            admin.close()
    else:
        pymysql = pytest.importorskip("pymysql")
        try:
            admin = pymysql.connect(
                host="127.0.0.1", port=3306, user="root", password="", autocommit=True
            )
        except pymysql.MySQLError as exc:
            pytest.skip(f"MariaDB not reachable: {exc}")
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {name}")
        try:
            yield f"mysql://root@127.0.0.1:3306/{name}"
        finally:
            with admin.cursor() as cursor:
                cursor.execute(f"DROP DATABASE {name}")
            admin.close()


def run(spec: dict[str, Any], workdir: Path, **kwargs: Any) -> Result:
    return asyncio.run(SqlExecutor().run(StepCall("step", spec, workdir=workdir, **kwargs)))


def dialect(dsn: str) -> str:
    return dsn.split(":", 1)[0]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two good migrations of v2.3.0-era schema, one of v2.4.0."""
    root = tmp_path / "migrations"
    root.mkdir()
    files = {
        "20251101_create_events": (
            "CREATE TABLE events (id INTEGER PRIMARY KEY, body VARCHAR(200));",
            "DROP TABLE events;",
        ),
        "20251115_add_source": (
            "ALTER TABLE events ADD COLUMN source VARCHAR(50);",
            "ALTER TABLE events DROP COLUMN source;",
        ),
        "20251201_add_event_metadata": (
            "CREATE TABLE event_metadata (event_id INTEGER, note VARCHAR(100));\n"
            "CREATE INDEX idx_event_note ON event_metadata (note);\n"
            "-- a comment; with a semicolon\n"
            "INSERT INTO event_metadata VALUES (1, 'it''s 100% ready; really');",
            "DROP TABLE event_metadata;",
        ),
    }
    for name, (up, down) in files.items():
        (root / f"{name}.up.sql").write_text(up)
        (root / f"{name}.down.sql").write_text(down)
    return root


def test_query_binds_named_and_positional_parameters(dsn: str, tmp_path: Path) -> None:
    run({"dsn": dsn, "script": "CREATE TABLE t (id INTEGER, name VARCHAR(100))"}, tmp_path)
    hostile = "x'); DROP TABLE t; --"
    inserted = run(
        {
            "dsn": dsn,
            "query": "INSERT INTO t VALUES (:id, :name)",
            "params": {"id": 1, "name": hostile},
        },
        tmp_path,
    )
    assert inserted.ok, inserted.error
    assert inserted.fields["rowcount"] == 1
    run({"dsn": dsn, "query": "INSERT INTO t VALUES (?, ?)", "params": [2, "50% done"]}, tmp_path)

    result = run(
        {
            "dsn": dsn,
            "query": "SELECT id, name, '100%' AS pct, ':not_a_param' AS literal FROM t WHERE id >= :low ORDER BY id",
            "params": {"low": 1},
        },
        tmp_path,
    )
    assert result.ok, result.error
    assert result.fields["columns"] == ["id", "name", "pct", "literal"]
    assert result.fields["rows"] == [
        {"id": 1, "name": hostile, "pct": "100%", "literal": ":not_a_param"},
        {"id": 2, "name": "50% done", "pct": "100%", "literal": ":not_a_param"},
    ]
    assert result.fields["rowcount"] == 2
    assert result.fields["truncated"] is False


def test_max_rows_bounds_the_result_and_says_so(dsn: str, tmp_path: Path) -> None:
    run(
        {
            "dsn": dsn,
            "script": "CREATE TABLE n (i INTEGER); INSERT INTO n VALUES (1), (2), (3), (4);",
        },
        tmp_path,
    )
    result = run({"dsn": dsn, "query": "SELECT i FROM n ORDER BY i", "max_rows": 2}, tmp_path)
    assert result.fields["rows"] == [{"i": 1}, {"i": 2}]
    assert result.fields["truncated"] is True
    assert result.fields["rowcount"] == 4


def test_sql_error_fails_the_step_with_the_database_message(dsn: str, tmp_path: Path) -> None:
    result = run({"dsn": dsn, "query": "SELECT * FROM no_such_table"}, tmp_path)
    assert not result.ok
    assert "no_such_table" in (result.error or "")


def test_unbound_name_is_refused_before_anything_runs(dsn: str, tmp_path: Path) -> None:
    if dialect(dsn) == "sqlite":
        result = run({"dsn": dsn, "query": "SELECT :missing"}, tmp_path)
        assert not result.ok  # sqlite3 checks bindings itself
        return
    with pytest.raises(ExecutorError, match=":missing"):
        run({"dsn": dsn, "query": "SELECT :missing AS x", "params": {"other": 1}}, tmp_path)


def test_statement_timeout_fails_the_step(dsn: str, tmp_path: Path) -> None:
    slow = {
        "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
        "postgresql": "SELECT pg_sleep(30)",
        "mysql": "SELECT SLEEP(30) FROM DUAL",
    }[dialect(dsn)]
    result = run({"dsn": dsn, "query": slow, "timeout": "1s"}, tmp_path)
    assert not result.ok
    expected = {
        "sqlite": "timed out after 1s",
        "postgresql": "statement timeout",
        "mysql": "max_statement_time",
    }
    assert expected[dialect(dsn)] in (result.error or "")


def test_migrate_applies_pending_in_order_and_records_them(
    dsn: str, tmp_path: Path, folder: Path
) -> None:
    first = run(
        {"dsn": dsn, "migrate": {"dir": str(folder), "release": "v2.3.0", "to": "20251115"}},
        tmp_path,
    )
    assert first.ok, first.error
    assert first.fields["applied"] == ["20251101_create_events", "20251115_add_source"]
    assert first.fields["pending"] == ["20251201_add_event_metadata"]

    second = run({"dsn": dsn, "migrate": {"dir": "migrations", "release": "v2.4.0"}}, tmp_path)
    assert second.ok, second.error
    assert second.fields["applied"] == ["20251201_add_event_metadata"]
    assert second.fields["version"] == "20251201"
    assert second.fields["release"] == "v2.4.0"
    assert second.fields["pending"] == []

    again = run({"dsn": dsn, "migrate": {"dir": "migrations", "release": "v2.4.0"}}, tmp_path)
    assert again.ok and again.fields["applied"] == []

    note = run({"dsn": dsn, "query": "SELECT note FROM event_metadata"}, tmp_path)
    assert note.fields["rows"] == [{"note": "it's 100% ready; really"}]
    recorded = run(
        {
            "dsn": dsn,
            "query": "SELECT id, name, checksum FROM runbook_schema_migrations ORDER BY id",
        },
        tmp_path,
    )
    assert [r["id"] for r in recorded.fields["rows"]] == ["20251101", "20251115", "20251201"]
    assert all(len(r["checksum"]) == 64 for r in recorded.fields["rows"])

    status = run({"dsn": dsn, "migration_status": {"dir": "migrations"}}, tmp_path)
    assert status.ok
    assert SqlExecutor.checks["migrations up to date"].test(status.fields, {})


def test_failed_migration_leaves_the_last_good_version(
    dsn: str, tmp_path: Path, folder: Path
) -> None:
    (folder / "20251202_broken.up.sql").write_text(
        "CREATE TABLE half_done (x INTEGER);\nALTER TABLE no_such_table ADD COLUMN y INTEGER;"
    )
    (folder / "20251202_broken.down.sql").write_text("DROP TABLE half_done;")
    result = run({"dsn": dsn, "migrate": {"dir": "migrations", "release": "v2.4.0"}}, tmp_path)
    assert not result.ok
    assert result.error is not None
    assert result.error.startswith("migration 20251202_broken failed: ")
    assert "no_such_table" in result.error
    assert result.fields["version"] == "20251201"
    assert result.fields["pending"] == ["20251202_broken"]
    half = run({"dsn": dsn, "query": "SELECT count(*) AS n FROM half_done"}, tmp_path)
    if dialect(dsn) == "mysql":
        assert half.ok  # DDL commits implicitly in MySQL/MariaDB: documented limit
    else:
        assert not half.ok  # the whole migration was rolled back


def test_rollback_to_a_release_runs_down_files_newest_first(
    dsn: str, tmp_path: Path, folder: Path
) -> None:
    run(
        {"dsn": dsn, "migrate": {"dir": "migrations", "release": "v2.3.0", "to": "20251101"}},
        tmp_path,
    )
    run({"dsn": dsn, "migrate": {"dir": "migrations", "release": "v2.4.0"}}, tmp_path)
    result = run({"dsn": dsn, "rollback": {"dir": "migrations", "to": "v2.3.0"}}, tmp_path)
    assert result.ok, result.error
    assert result.fields["reverted"] == ["20251201_add_event_metadata", "20251115_add_source"]
    assert result.fields["version"] == "20251101"
    assert result.fields["release"] == "v2.3.0"
    assert not run({"dsn": dsn, "query": "SELECT * FROM event_metadata"}, tmp_path).ok
    assert run({"dsn": dsn, "query": "SELECT id FROM events"}, tmp_path).ok


def test_rollback_to_a_migration_id(dsn: str, tmp_path: Path, folder: Path) -> None:
    run({"dsn": dsn, "migrate": {"dir": "migrations", "release": "v2.4.0"}}, tmp_path)
    result = run({"dsn": dsn, "rollback": {"dir": "migrations", "to": "20251115"}}, tmp_path)
    assert result.ok, result.error
    assert result.fields["reverted"] == ["20251201_add_event_metadata"]
    assert result.fields["version"] == "20251115"


def test_rollback_without_down_file_reverts_nothing(dsn: str, tmp_path: Path, folder: Path) -> None:
    run({"dsn": dsn, "migrate": {"dir": "migrations", "release": "v2.4.0"}}, tmp_path)
    (folder / "20251115_add_source.down.sql").unlink()
    result = run({"dsn": dsn, "rollback": {"dir": "migrations", "to": "20251101"}}, tmp_path)
    assert not result.ok
    assert "20251115_add_source" in (result.error or "")
    assert result.fields["version"] == "20251201"
    assert result.fields["reverted"] == []


def test_changed_applied_migration_blocks_migrate(dsn: str, tmp_path: Path, folder: Path) -> None:
    run(
        {"dsn": dsn, "migrate": {"dir": "migrations", "release": "v2.3.0", "to": "20251101"}},
        tmp_path,
    )
    (folder / "20251101_create_events.up.sql").write_text("CREATE TABLE events (id INTEGER);")
    result = run({"dsn": dsn, "migrate": {"dir": "migrations", "release": "v2.4.0"}}, tmp_path)
    assert not result.ok
    assert result.fields["drifted"] == ["20251101_create_events"]
    assert result.fields["applied"] == []
    status = run({"dsn": dsn, "migration_status": {"dir": "migrations"}}, tmp_path)
    assert not SqlExecutor.checks["migrations up to date"].test(status.fields, {})


@pytest.mark.service("postgres")
def test_cancelled_run_cancels_the_statement_on_the_server(tmp_path: Path) -> None:
    psycopg = pytest.importorskip("psycopg")
    try:
        watcher = psycopg.connect(PG, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    marker = _unique()

    def active() -> int:
        row = watcher.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE %s",
            (f"%{marker}%pg_sleep%",),
        ).fetchone()
        return int(row[0]) if row else 0

    async def scenario() -> tuple[int, int]:
        task = asyncio.create_task(
            SqlExecutor().run(
                StepCall(
                    "s", {"dsn": PG, "query": f"SELECT '{marker}', pg_sleep(60)"}, workdir=tmp_path
                )
            )
        )
        seen = 0
        while not seen:  # wait until the statement is running on the server
            await asyncio.sleep(0.05)
            seen = await asyncio.to_thread(active)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return seen, await asyncio.to_thread(active)

    try:
        before, after = asyncio.run(asyncio.wait_for(scenario(), 30))
    finally:
        watcher.close()
    assert (before, after) == (1, 0)


@pytest.mark.service("postgres")
def test_password_never_appears_in_errors_or_plan(tmp_path: Path) -> None:
    dsn = "postgresql://app:s3cr3t-pw@127.0.0.1:1/test"  # port 1: nothing listens
    result = run({"dsn": dsn, "query": "SELECT 1"}, tmp_path)
    assert not result.ok
    assert "s3cr3t-pw" not in (result.error or "")
    assert "cannot connect" in (result.error or "")
    plan = SqlExecutor().describe(
        StepCall("s", {"dsn": dsn, "query": "SELECT 1"}, workdir=tmp_path)
    )
    assert "s3cr3t-pw" not in plan[0] and "app:***@127.0.0.1" in plan[0]


def test_missing_migrations_folder_is_an_executor_error(tmp_path: Path) -> None:
    with pytest.raises(ExecutorError, match="does not exist"):
        run({"database": "x.db", "migration_status": {"dir": "nowhere"}}, tmp_path)


def test_relative_sqlite_path_is_relative_to_the_workdir(tmp_path: Path) -> None:
    result = run({"database": "rel.db", "query": "SELECT 1 AS one"}, tmp_path)
    assert result.fields["rows"] == [{"one": 1}]
    assert (tmp_path / "rel.db").exists()


def test_demo_fleet_migrations_go_up_to_v2_4_0_and_back(tmp_path: Path) -> None:
    demo = Path(__file__).parents[2] / "examples" / "demo" / "migrations"
    if not demo.is_dir():
        pytest.skip("the demo fleet's migrations are not in this checkout")
    dsn = f"sqlite:///{tmp_path / 'analytics.sqlite'}"
    installed = run(
        {"dsn": dsn, "migrate": {"dir": str(demo), "release": "v2.3.0", "to": "20251101"}}, tmp_path
    )
    assert installed.ok, installed.error
    up = run({"dsn": dsn, "migrate": {"dir": str(demo), "release": "v2.4.0"}}, tmp_path)
    assert up.ok, up.error
    assert up.fields["applied"] == ["20251201_add_event_metadata", "20251215_create_indexes"]
    down = run({"dsn": dsn, "rollback": {"dir": str(demo), "to": "v2.3.0\n"}}, tmp_path)
    assert down.ok, down.error
    assert down.fields["reverted"] == ["20251215_create_indexes", "20251201_add_event_metadata"]
    assert (down.fields["version"], down.fields["release"]) == ("20251101", "v2.3.0")
    tables = run(
        {"dsn": dsn, "query": "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"},
        tmp_path,
    )
    assert [r["name"] for r in tables.fields["rows"]] == ["events", "runbook_schema_migrations"]


@pytest.mark.service("mariadb")
def test_cancelled_run_kills_the_query_on_mariadb(tmp_path: Path) -> None:
    pymysql = pytest.importorskip("pymysql")
    try:
        watcher = pymysql.connect(
            host="127.0.0.1", port=3306, user="root", password="", autocommit=True
        )
    except pymysql.MySQLError as exc:
        pytest.skip(f"MariaDB not reachable: {exc}")
    marker = _unique()

    def active() -> int:
        with watcher.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*) FROM information_schema.processlist"
                " WHERE info LIKE %s AND id <> CONNECTION_ID() AND command = 'Query'",
                (f"%{marker}%SLEEP%",),
            )
            row = cursor.fetchone()
        return int(row[0]) if row else 0

    async def scenario() -> tuple[int, int]:
        task = asyncio.create_task(
            SqlExecutor().run(
                StepCall(
                    "s",
                    {"dsn": MARIADB, "query": f"SELECT '{marker}', SLEEP(60)"},
                    workdir=tmp_path,
                )
            )
        )
        seen = 0
        while not seen:
            await asyncio.sleep(0.05)
            seen = await asyncio.to_thread(active)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return seen, await asyncio.to_thread(active)

    try:
        before, after = asyncio.run(asyncio.wait_for(scenario(), 30))
    finally:
        watcher.close()
    assert (before, after) == (1, 0)


def test_secret_values_in_rows_are_redacted(tmp_path: Path) -> None:
    result = run(
        {"database": "s.db", "query": "SELECT 'user=ops password=hunter2' AS line"},
        tmp_path,
        redact=lambda text: text.replace("hunter2", "***"),
    )
    assert result.fields["rows"] == [{"line": "user=ops password=***"}]


def test_unreachable_database_fails_the_step(tmp_path: Path) -> None:
    result = run(
        {"database": str(tmp_path / "no" / "such" / "dir" / "x.db"), "query": "SELECT 1"}, tmp_path
    )
    assert not result.ok
    assert (result.error or "").startswith("cannot connect: folder")


def test_a_value_pasted_into_sql_text_is_refused_and_params_carry_it(tmp_path: Path) -> None:
    """`query: SELECT '{{ name }}'` let a value become SQL; now only bound params can."""
    from runbook_engine.errors import TemplateError
    from runbook_engine.testing import make_call

    def run(spec: dict[str, Any], workdir: Path, **kwargs: Any) -> Result:
        return asyncio.run(SqlExecutor().run(make_call(spec, workdir=workdir, **kwargs)))

    dsn = f"sqlite:///{tmp_path / 'values.db'}"
    run({"dsn": dsn, "script": "CREATE TABLE t (name TEXT)"}, tmp_path)
    hostile = "x'); DROP TABLE t; --"
    with pytest.raises(TemplateError) as info:
        run(
            {"dsn": dsn, "query": "INSERT INTO t VALUES ('{{ name }}')"},
            tmp_path,
            values={"name": hostile},
        )
    assert info.value.rule == "RB205"
    bound = run(
        {"dsn": dsn, "query": "INSERT INTO t VALUES (:name)", "params": {"name": "{{ name }}"}},
        tmp_path,
        values={"name": hostile},
    )
    assert bound.ok, bound.error
    rows = run({"dsn": dsn, "query": "SELECT name FROM t"}, tmp_path)
    assert rows.fields["rows"] == [{"name": hostile}]

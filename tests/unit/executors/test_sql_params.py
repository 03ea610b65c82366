"""Placeholder translation and statement splitting of the sql executor (pure functions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook_engine.executors.sql import parse_dsn, split_statements, to_driver_style


@pytest.mark.parametrize(
    ("sql", "dialect", "named", "expected", "names"),
    [
        ("SELECT :a, :b_2", "postgresql", True, "SELECT %(a)s, %(b_2)s", ["a", "b_2"]),
        ("SELECT ?, ?", "mysql", False, "SELECT %s, %s", ["?", "?"]),
        ("SELECT x::text, :v", "postgresql", True, "SELECT x::text, %(v)s", ["v"]),
        (
            "SELECT ':no', \"col:x\" FROM t",
            "postgresql",
            True,
            "SELECT ':no', \"col:x\" FROM t",
            [],
        ),
        ("SELECT 'it''s :no' , :yes", "postgresql", True, "SELECT 'it''s :no' , %(yes)s", ["yes"]),
        ("SELECT 'a\\' :no', :yes", "mysql", True, "SELECT 'a\\' :no', %(yes)s", ["yes"]),
        ("SELECT 1 -- :no\n, :yes", "postgresql", True, "SELECT 1 -- :no\n, %(yes)s", ["yes"]),
        ("SELECT /* :no ? */ ?", "mysql", False, "SELECT /* :no ? */ %s", ["?"]),
        (
            "SELECT $tag$ :no ? $tag$, :y",
            "postgresql",
            True,
            "SELECT $tag$ :no ? $tag$, %(y)s",
            ["y"],
        ),
        ("SELECT 100 % 7, '5%'", "mysql", True, "SELECT 100 %% 7, '5%%'", []),
        ("SELECT `a:b` FROM t", "mysql", True, "SELECT `a:b` FROM t", []),
        ("SELECT :a, ?", "postgresql", True, "SELECT %(a)s, ?", ["a"]),
    ],
)
def test_placeholders_become_driver_style(
    sql: str, dialect: str, named: bool, expected: str, names: list[str]
) -> None:
    assert to_driver_style(sql, dialect, named) == (expected, names)


def test_statements_split_outside_quotes_and_comments() -> None:
    script = "CREATE TABLE a (x TEXT DEFAULT ';');\n-- comment; here\nINSERT INTO a VALUES ('b;c');\n/* ; */ ;  \n"
    assert split_statements(script) == [
        "CREATE TABLE a (x TEXT DEFAULT ';')",
        "-- comment; here\nINSERT INTO a VALUES ('b;c')",
    ]


def test_password_is_masked_in_the_shown_dsn() -> None:
    target = parse_dsn("mysql://app:p%40ss@db:3306/app", None, Path("."))
    assert target.dialect == "mysql"
    assert target.shown == "mysql://app:***@db:3306/app"
    assert target.secret == "p@ss"


def test_sqlite_dsn_forms() -> None:
    assert parse_dsn("sqlite:////abs/app.db", None, Path("/work")).dsn == "/abs/app.db"
    assert parse_dsn("sqlite:///rel/app.db", None, Path("/work")).dsn == "/work/rel/app.db"
    assert parse_dsn("sqlite:///:memory:", None, Path("/work")).dsn == ":memory:"
    assert parse_dsn(None, "data/app.db", Path("/work")).dsn == "/work/data/app.db"

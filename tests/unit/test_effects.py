"""What a step does to the world (engine/effects.py), the lint rules on
`changes: false` (RB118, RB119), and the plan's per-step verdict."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runbook_engine import effects
from runbook_engine.effects import classify, sql_reads_only
from runbook_engine.errors import Span
from runbook_engine.lint import analyze
from runbook_engine.model import Step

ROOT = Path(__file__).resolve().parents[2]


def step(executor: str, spec: Any, **kwargs: Any) -> Step:
    return Step(id="s", phase=kwargs.pop("phase", "p"), executor=executor, spec=spec, span=Span("x", 1, 1), **kwargs)


@pytest.mark.parametrize(
    ("executor", "spec", "extra", "effect"),
    [
        ("http", {"url": "http://h/health"}, {}, "read-only"),
        ("http", {"url": "http://h/x", "method": "head"}, {}, "read-only"),
        ("http", {"url": "http://h/v1/ingest", "method": "POST"}, {}, "changes"),
        ("http", {"url": "http://h/x", "method": "{{ verb }}"}, {}, "unknown"),
        ("sql", {"dsn": "sqlite:///x", "query": "SELECT COUNT(*) AS count FROM events"}, {}, "read-only"),
        ("sql", {"dsn": "d", "query": "-- count\n  with t as (select 1) select * from t"}, {}, "read-only"),
        ("sql", {"dsn": "d", "query": "WITH gone AS (DELETE FROM events RETURNING *) SELECT count(*) FROM gone"}, {}, "changes"),
        ("sql", {"dsn": "d", "query": "UPDATE events SET x = 1"}, {}, "changes"),
        ("sql", {"dsn": "d", "migrate": {"dir": "m", "release": "v2"}}, {}, "changes"),
        ("sql", {"dsn": "d", "rollback": {"dir": "m", "to": "v1"}}, {}, "changes"),
        ("sql", {"dsn": "d", "migration_status": {"dir": "m"}}, {}, "read-only"),
        ("sql", {"dsn": "d", "script": "select 1"}, {}, "changes"),
        ("shell", "cat /opt/app/VERSION", {}, "unknown"),
        ("ssh", "cat /opt/app/VERSION", {"changes": False}, "read-only"),
        ("http", {"url": "http://h/health"}, {"changes": True}, "changes"),
        ("shell", "test -f x", {"phase": "prerequisites"}, "read-only"),
        ("monitor", {"for": "1m", "every": "5s", "probe": {"http": {"url": "http://h"}}}, {}, "read-only"),
        ("monitor", {"for": "1m", "every": "5s", "probe": {"shell": "curl h"}}, {}, "unknown"),
        ("notify", {"channel": "ops", "message": "hi"}, {}, "changes"),
        ("copy", {"src": "a", "dest": "b"}, {}, "changes"),
        ("wait", "30s", {}, "read-only"),
        ("manual", "confirm", {}, "unknown"),
        ("ansible", {"playbook": "p.yml"}, {}, "unknown"),
    ],
)
def test_classify(executor: str, spec: Any, extra: dict[str, Any], effect: str) -> None:
    assert classify(step(executor, spec, **extra)).effect == effect


def test_a_plugin_says_its_effect(monkeypatch: pytest.MonkeyPatch) -> None:
    class Probe:
        @staticmethod
        def effect(spec: Any) -> str:
            return "read-only" if spec.get("read") else "changes"

    from runbook_engine.executors import registry

    monkeypatch.setattr(registry, "executor_class", lambda key: Probe)
    assert effects.executor_effect("probe", {"read": True}).effect == "read-only"
    assert effects.executor_effect("probe", {}).effect == "changes"


WRITERS = ["insert", "update", "delete", "merge", "create", "alter", "drop", "truncate", "replace", "pragma"]


@given(
    before=st.text(alphabet="abc ()*,=1\n", max_size=20),
    writer=st.sampled_from(WRITERS),
    after=st.text(alphabet="abc ()*,=1\n", max_size=20),
    upper=st.booleans(),
)
def test_a_query_naming_a_writing_statement_never_counts_as_read_only(
    before: str, writer: str, after: str, upper: bool
) -> None:
    word = writer.upper() if upper else writer
    assert not sql_reads_only(f"SELECT {before} {word} {after}")


def lint_text(tmp_path: Path, body: str) -> list[tuple[str, int, int, str]]:
    path = tmp_path / "rb.yaml"
    path.write_text(textwrap.dedent(body))
    analysis = analyze(str(path))
    return [(f.rule, f.span.line, f.span.col, f.severity) for f in analysis.findings if f.span]


def test_lint_refuses_changes_false_on_a_post(tmp_path: Path) -> None:
    findings = lint_text(tmp_path, """\
        runbook: 1
        name: rb
        phases:
          - id: p
            steps:
              - id: ingest
                http: {method: POST, url: "http://127.0.0.1/v1/ingest"}
                changes: false
    """)
    assert findings == [("RB118", 8, 18, "error")]


def test_lint_warns_on_changes_false_for_a_command_that_writes(tmp_path: Path) -> None:
    findings = lint_text(tmp_path, """\
        runbook: 1
        name: rb
        phases:
          - id: p
            steps:
              - id: keep
                shell: cat VERSION > /tmp/before.txt
                changes: false
              - id: fine
                shell: cat VERSION 2>&1 >/dev/null; grep -c ok log
                changes: false
              - id: unpack
                ssh: tar -xzf app.tar.gz
                hosts: all
                changes: false
    """)
    assert findings == [("RB119", 8, 18, "warning"), ("RB119", 15, 18, "warning")]


def test_the_monthly_runbook_lints_clean_of_effect_rules() -> None:
    analysis = analyze(str(ROOT / "runbooks" / "monthly-update.yaml"))
    assert not [f for f in analysis.findings if f.rule in ("RB118", "RB119")]

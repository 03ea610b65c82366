"""`runbook plan` speaks the runbook's language: no Python repr (``params=None``,
``{'url': …}``) and no Jinja internals (``StrictUndefined``, ``'dict object'``)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from click.testing import CliRunner

from runbook_engine.cli.main import cli

BOOK = """
runbook: 1
name: words
phases:
  - id: one
    steps:
      - id: count
        sql: {dsn: "sqlite:///{{ db }}", query: "SELECT 1"}
      - id: count-by
        sql: {dsn: "sqlite:///{{ db }}", query: "SELECT :n", params: {n: 2}}
      - id: post
        hosts: web
        http:
          url: http://127.0.0.1:9/
          json: {a: "{{ host.vars.missing | tojson }}"}
      - id: key
        hosts: web
        http: {url: "http://127.0.0.1:9/{{ host.vars.missing }}"}
      - id: watch
        hosts: web
        monitor:
          for: 20s
          every: 5s
          probe: {http: {url: "http://127.0.0.1:9/health"}}
      - id: pause
        wait: 2s
vars:
  db: {type: string, default: /tmp/words.db}
"""


def test_plan_has_no_python_repr_and_no_jinja_internals(tmp_path: Path) -> None:
    (tmp_path / "book.yaml").write_text(textwrap.dedent(BOOK))
    (tmp_path / "hosts").write_text("[web]\nw1 ansible_host=127.0.0.1\n")
    result = CliRunner().invoke(
        cli, ["plan", str(tmp_path / "book.yaml"), "-i", str(tmp_path / "hosts")]
    )
    assert result.exit_code == 0, result.output
    out = result.output
    for leak in ("params=None", "None", "StrictUndefined", "'dict object'", "{'", "TypeError"):
        assert leak not in out, (leak, out)
    assert "SELECT 1\n" in out and "SELECT :n (params: n: 2)" in out
    assert "undefined template variable: no key 'missing'" in out
    assert "monitor for 20s, a sample every 5s; probe: http: {url: http://127.0.0.1:9/health}" in out

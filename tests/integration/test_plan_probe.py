"""`runbook plan` says what each step does to the world; `plan --probe` runs the steps
that only read — against a real HTTP server and a real SQLite file — and nothing else:
the server sees no POST, the database no write, the filesystem no deploy."""

from __future__ import annotations

import http.server
import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

RUNBOOK_BIN = str(Path(sys.executable).parent / "runbook")

BOOK = """\
runbook: 1
name: probe
vars:
  port: {type: int, required: true}
  db: {type: string, required: true}
prerequisites:
  - check: the release is staged
    shell: test -f release.txt
phases:
  - id: look
    steps:
      - id: read-version
        shell: cat VERSION
        changes: false
        capture: {version: stdout}
      - id: health
        http: {url: "http://127.0.0.1:{{ port }}/v1/health"}
        capture: {reported: json.version}
      - id: read-token
        shell: echo s3cr3t-token
        changes: false
        secret_output: true
        capture: {token: stdout}
      - id: count-events
        sql: {dsn: "{{ db }}", query: SELECT COUNT(*) AS count FROM events}
        capture: {events: "rows[0].count"}
  - id: change
    steps:
      - id: deploy
        shell: echo "with {{ steps['read-token'].token }} deploying over {{ steps['read-version'].version }} ({{ steps['health'].reported }}, {{ steps['count-events'].events }} events)" > deployed.txt
      - id: ingest
        http: {method: POST, url: "http://127.0.0.1:{{ port }}/v1/ingest", json: {test: data}}
      - id: write-event
        sql: {dsn: "{{ db }}", query: "INSERT INTO events (name) VALUES ('probe')"}
"""


class Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        self.seen.append(f"GET {self.path}")
        body = json.dumps({"status": "healthy", "version": "v2.3.0"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        self.seen.append(f"POST {self.path}")
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def server() -> Iterator[tuple[int, list[str]]]:
    seen: list[str] = []
    handler = type("Handler", (Recorder,), {"seen": seen})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], seen
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.service("http")
def test_probe_runs_only_what_reads(tmp_path: Path, server: tuple[int, list[str]]) -> None:
    port, seen = server
    (tmp_path / "book.yaml").write_text(BOOK)
    (tmp_path / "VERSION").write_text("v2.3.0\n")
    (tmp_path / "release.txt").write_text("x")
    db = tmp_path / "events.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE events (name TEXT)")
        conn.executemany("INSERT INTO events VALUES (?)", [("a",), ("b",)])
    args = [RUNBOOK_BIN, "plan", "book.yaml", "--var", f"port={port}", "--var", f"db=sqlite:///{db}"]

    plain = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert plain.returncode == 0, plain.stderr
    assert "Effects: 4 step(s) only read, 2 change something, 1 unknown" in plain.stdout
    assert "**look.health** — health (http; read-only: an http GET)" in plain.stdout
    assert "**change.ingest** — ingest (http; changes: an http POST)" in plain.stdout
    assert "**change.write-event** — write-event (sql; changes: a sql statement that writes)" in plain.stdout
    assert "**change.deploy** — deploy (shell; unknown:" in plain.stdout
    assert "<read-version.version>" in plain.stdout
    assert seen == []

    probed = subprocess.run([*args, "--probe"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert probed.returncode == 0, probed.stderr
    out = probed.stdout
    assert "probed: succeeded; captured version = 'v2.3.0'" in out
    assert "probed: succeeded; captured reported = 'v2.3.0'" in out
    assert "probed: succeeded; captured events = 2" in out
    assert "deploying over v2.3.0 (v2.3.0, 2 events)" in out  # later templates see real values
    assert "with *** deploying" in out and "s3cr3t-token" not in out + probed.stderr
    assert seen == ["GET /v1/health"]  # the POST was not sent
    assert not (tmp_path / "deployed.txt").exists()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone() == (2,)


def test_probe_needs_the_required_vars(tmp_path: Path) -> None:
    (tmp_path / "book.yaml").write_text(BOOK)
    done = subprocess.run([RUNBOOK_BIN, "plan", "book.yaml", "--probe"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "required var 'port' has no value" in done.stderr


def test_probe_skips_what_its_executor_says_takes_time(tmp_path: Path) -> None:
    """``wait`` declares ``probed_by_plan = False``: the plan asks the class, so a long
    wait is reported, not slept through."""
    (tmp_path / "book.yaml").write_text(
        "runbook: 1\nname: slow\nphases:\n  - id: settle\n    steps:\n"
        "      - id: soak\n        wait: 2h\n"
    )
    done = subprocess.run([RUNBOOK_BIN, "plan", "book.yaml", "--probe"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "not probed (wait steps take time)" in done.stdout

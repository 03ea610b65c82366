"""Live Prometheus metrics of a real `runbook run`: the endpoint is scraped while a
step still runs and parsed with prometheus-client's parser; the textfile holds the
final state. No secret and no unbounded value (run id, host, output) is a label."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

RUNBOOK_BIN = str(Path(sys.executable).parent / "runbook")
SECRET = "tok-live-metrics-s3cret"

BOOK = """
runbook: 1
name: metered
vars:
  token: {type: string, secret: true, env: METRICS_TEST_TOKEN}
decisions:
  - condition: Slow step
    when: steps.quick.duration >= 0
    severity: medium
    action: warn
  - condition: Quick step printed a large number
    when: steps.quick.stdout > 5
    severity: high
    action: warn
phases:
  - id: down
    downtime: begins
    steps:
      - id: quick
        shell: echo "using {{ token }}" > /dev/null
      - id: flaky
        shell: test -f flaked || { touch flaked; exit 1; }
        retries: 1
  - id: up
    downtime: ends
    steps:
      - id: hold
        shell: touch holding; while [ ! -f go ]; do sleep 0.05; done
"""

ALLOWED_LABELS = {"runbook", "phase", "step", "executor", "status", "severity", "action", "le"}


def families(text: str) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    found: dict[str, list[tuple[str, dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(family.name, []).append((sample.name, sample.labels, sample.value))
    return found


def value(found: dict, family: str, sample: str, **labels: str) -> float:
    for name, got, val in found.get(family, []):
        if name == sample and all(got.get(k) == v for k, v in labels.items()):
            return val
    raise AssertionError(f"no {sample} {labels} in {sorted(found)}")


def test_live_endpoint_during_a_run_and_the_textfile_after(tmp_path: Path) -> None:
    (tmp_path / "book.yaml").write_text(textwrap.dedent(BOOK))
    runner = subprocess.Popen(
        [
            RUNBOOK_BIN, "run", "book.yaml", "--runs-dir", "runs", "--metrics-port", "0",
            "--metrics-textfile", "run.prom",
        ],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "METRICS_TEST_TOKEN": SECRET},
    )
    try:
        assert runner.stdout is not None
        port = None
        for line in runner.stdout:
            match = re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", line)
            if match:
                port = int(match.group(1))
                break
        assert port, "no metrics endpoint announced"
        deadline = time.monotonic() + 60
        while not (tmp_path / "holding").exists():
            assert time.monotonic() < deadline and runner.poll() is None, "hold never started"
            time.sleep(0.05)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
            live = answer.read().decode()
        found = families(live)
        rb = {"runbook": "metered"}
        assert value(found, "runbook_run_in_progress", "runbook_run_in_progress", **rb) == 1
        assert value(
            found, "runbook_step_duration_seconds", "runbook_step_duration_seconds_count",
            step="quick", phase="down", executor="shell", status="succeeded", **rb,
        ) == 1
        assert value(
            found, "runbook_step_retries", "runbook_step_retries_total", step="flaky", **rb
        ) == 1
        assert value(
            found, "runbook_decisions", "runbook_decisions_total", severity="medium",
            action="warn", **rb,
        ) == 1
        assert value(
            found, "runbook_decisions_unevaluable", "runbook_decisions_unevaluable", **rb
        ) >= 1
        assert value(found, "runbook_downtime_seconds", "runbook_downtime_seconds", **rb) > 0
        assert "runbook_runs_total" not in live.split("# TYPE runbook_runs_total counter")[-1]
        for samples in found.values():
            for _, labels, _ in samples:
                assert set(labels) <= ALLOWED_LABELS, labels
        assert SECRET not in live
        (tmp_path / "go").touch()
        assert runner.wait(timeout=60) == 0
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    final = families((tmp_path / "run.prom").read_text())
    assert value(final, "runbook_runs", "runbook_runs_total", status="succeeded", runbook="metered") == 1
    assert value(final, "runbook_run_in_progress", "runbook_run_in_progress", runbook="metered") == 0
    assert SECRET not in (tmp_path / "run.prom").read_text()


def test_pushgateway_gets_the_run_when_the_runner_stops(tmp_path: Path) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[tuple[str, bytes]] = []

    class Gateway(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:  # noqa: N802 (http.server's naming)
            received.append((self.path, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        (tmp_path / "book.yaml").write_text(textwrap.dedent(BOOK))
        (tmp_path / "go").touch()
        done = subprocess.run(
            [
                RUNBOOK_BIN, "run", "book.yaml", "--runs-dir", "runs",
                "--pushgateway", f"http://127.0.0.1:{server.server_address[1]}",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "METRICS_TEST_TOKEN": SECRET, "NO_PROXY": "127.0.0.1"},
        )
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        server.shutdown()
        server.server_close()
    [(path, body)] = received
    assert path == "/metrics/job/runbook/runbook/metered"
    found = families(body.decode())
    assert value(found, "runbook_runs", "runbook_runs_total", status="succeeded", runbook="metered") == 1
    assert SECRET not in body.decode()

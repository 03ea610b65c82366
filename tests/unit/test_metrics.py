from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from journal.run_events import SECRET, rolled_back_update, successful_update, typed
from prometheus_client.parser import text_string_to_metric_families

from runbook_engine.metrics import push, serve, write_textfile
from runbook_engine.redaction import Redactor


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_textfile_holds_step_durations_outcome_and_downtime(tmp_path: Path) -> None:
    path = tmp_path / "runbook.prom"
    write_textfile(successful_update(), path)
    got = samples(path.read_text())
    rb = ("runbook", "monthly-update")
    assert got[("runbook_downtime_seconds", (rb,))] == 32 * 60
    assert got[("runbook_run_duration_seconds", (rb,))] == 50 * 60
    assert got[("runbook_runs_total", (rb, ("status", "succeeded")))] == 1
    assert got[("runbook_rollback", (rb,))] == 0
    assert (
        got[
            (
                "runbook_step_last_duration_seconds",
                (("phase", "deploy"), rb, ("status", "succeeded"), ("step", "run-migrations")),
            )
        ]
        == 14 * 60
    )
    assert got[("runbook_step_attempts", (("phase", "deploy"), rb, ("step", "extract")))] == 2

    def total(sample: str, phase: str) -> float:
        return sum(
            v
            for (name, labels), v in got.items()
            if name == sample and ("phase", phase) in labels and ("status", "succeeded") in labels
        )

    assert total("runbook_step_duration_seconds_count", "verify") == 2
    assert total("runbook_step_duration_seconds_sum", "prepare") == 600
    labels = {
        dict(labels)["step"]: dict(labels)
        for (name, labels), _ in got.items()
        if name == "runbook_step_duration_seconds_count"
    }
    assert set(labels["run-migrations"]) == {"runbook", "phase", "step", "executor", "status"}
    assert got[("runbook_step_retries_total", (("phase", "deploy"), rb, ("step", "extract")))] == 1
    assert got[("runbook_decisions_total", (("action", "warn"), rb, ("severity", "medium")))] == 1
    assert got[("runbook_run_in_progress", (rb,))] == 0
    assert got[("runbook_success_target_met", (("metric", "downtime"), rb))] == 1


def test_failed_targets_and_rollback_are_visible(tmp_path: Path) -> None:
    path = tmp_path / "runbook.prom"
    events = rolled_back_update()
    events[0] = {**events[0], "success": {"total_duration": "< 60m", "error_rate": "< 1%"}}
    write_textfile(events, path)
    got = samples(path.read_text())
    rb = ("runbook", "monthly-update")
    assert got[("runbook_runs_total", (rb, ("status", "rolled_back")))] == 1
    assert got[("runbook_rollback", (rb,))] == 1
    assert got[("runbook_success_target_met", (("metric", "total_duration"), rb))] == 0
    assert got[("runbook_success_target_met", (("metric", "error_rate"), rb))] == -1


def test_no_secret_in_metrics(tmp_path: Path) -> None:
    events = rolled_back_update()
    events = [
        {**e, "step": f"smoke-{SECRET}"} if e.get("step") == "smoke-ingest" else e for e in events
    ]
    path = tmp_path / "runbook.prom"
    write_textfile(events, path, redactor=Redactor([SECRET]))
    text = path.read_text()
    assert SECRET not in text
    assert 'step="smoke-***"' in text


class _Gateway(BaseHTTPRequestHandler):
    received: list[tuple[str, str, bytes]] = []

    def do_PUT(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.received.append(("PUT", self.path, body))
        self.send_response(202)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def gateway() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    received: list[tuple[str, str, bytes]] = []
    handler = type("Gateway", (_Gateway,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


def test_push_sends_the_run_to_a_pushgateway(
    gateway: tuple[str, list[tuple[str, str, bytes]]],
) -> None:
    url, received = gateway
    push(successful_update(), url)
    ((method, path, body),) = received
    assert method == "PUT"
    assert path == "/metrics/job/runbook/runbook/monthly-update"
    got = samples(body.decode())
    assert got[("runbook_downtime_seconds", (("runbook", "monthly-update"),))] == 32 * 60


def test_serve_exposes_the_run_over_http() -> None:
    server = serve(successful_update(), 0)
    try:
        port = server.server_address[1]
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with direct.open(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            text = response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
    assert samples(text)[("runbook_rollback", (("runbook", "monthly-update"),))] == 0


def _recorded_run(runs_dir: Path) -> None:
    from runbook_engine.journal import Journal

    journal = Journal.create(
        runs_dir,
        runbook_name="monthly-update",
        runbook_path="rb.yaml",
        runbook_sha256="r",
        vars_sha256="v",
        inventory=None,
        initiator="alice",
    )
    for event in successful_update():
        journal.append(typed(event))
    journal.close("succeeded", 0)


def test_report_command_exports_metrics(
    tmp_path: Path, gateway: tuple[str, list[tuple[str, str, bytes]]]
) -> None:
    from click.testing import CliRunner

    from runbook_engine.cli.main import cli

    url, received = gateway
    _recorded_run(tmp_path / "runs")
    prom = tmp_path / "textfile" / "runbook.prom"
    prom.parent.mkdir()
    result = CliRunner().invoke(
        cli,
        [
            "report",
            "last",
            "--runs-dir",
            str(tmp_path / "runs"),
            "--metrics-textfile",
            str(prom),
            "--pushgateway",
            url,
        ],
    )
    assert result.exit_code == 0, result.output
    got = samples(prom.read_text())
    assert (
        got[
            (
                "runbook_success_target_met",
                (("metric", "total_duration"), ("runbook", "monthly-update")),
            )
        ]
        == 1
    )
    assert len(received) == 1


def test_unreachable_pushgateway_is_one_clear_error(tmp_path: Path) -> None:
    import socket

    from runbook_engine.cli.main import main

    _recorded_run(tmp_path / "runs")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(SystemExit) as info:
        main(
            [
                "report",
                "last",
                "--runs-dir",
                str(tmp_path / "runs"),
                "--pushgateway",
                f"http://127.0.0.1:{port}",
            ]
        )
    assert info.value.code == 2

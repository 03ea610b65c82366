"""Fan-out keys mean the same for every executor that fans out, and lint rejects them
where they cannot apply (issue 10, defect 7)."""

from __future__ import annotations

import asyncio
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from runbook_engine.executors.http import HttpExecutor
from runbook_engine.executors.shell import ShellExecutor
from runbook_engine.lint import analyze_document
from runbook_engine.loader import load_text
from runbook_engine.testing import local_hosts, make_call

#: Fails when two hosts hold the lock at once.
EXCLUSIVE = "mkdir {{ host.vars.lock }} || exit 9; sleep 0.2; rmdir {{ host.vars.lock }}"


def run(executor: Any, spec: Any, hosts: tuple[Any, ...], options: dict[str, Any]) -> Any:
    async def go() -> Any:
        try:
            return await executor.run(make_call(spec, hosts, options=options))
        finally:
            await executor.close()

    return asyncio.run(go())


def _hosts(tmp_path: Path, count: int) -> tuple[Any, ...]:
    from dataclasses import replace

    lock = str(tmp_path / "lock")
    return tuple(
        replace(h, vars={**h.vars, "lock": lock})
        for h in local_hosts(tmp_path, [f"h{i}" for i in range(count)])
    )


def test_shell_serial_one_runs_one_host_at_a_time(tmp_path: Path) -> None:
    """Regression: `serial: 1` on a shell step was silently ignored."""
    hosts = _hosts(tmp_path, 3)
    together = run(ShellExecutor(), EXCLUSIVE, hosts, {})
    assert not together.ok  # without serial the hosts overlap (the check can fail)
    one_by_one = run(ShellExecutor(), EXCLUSIVE, hosts, {"serial": 1})
    assert one_by_one.ok, one_by_one.error


def test_shell_max_fail_percentage_stops_the_rollout(tmp_path: Path) -> None:
    hosts = _hosts(tmp_path, 4)
    result = run(
        ShellExecutor(),
        "exit {{ 3 if host.name == 'h0' else 0 }}",
        hosts,
        {"serial": 1, "max_fail_percentage": 0},
    )
    assert not result.ok
    assert result.hosts["h0"]["rc"] == 3
    assert all(result.hosts[f"h{i}"]["skipped"] for i in (1, 2, 3))
    assert "batch 1" in (result.fields["stopped"] or "")


class _Slow(BaseHTTPRequestHandler):
    active = 0
    peak = 0
    lock = threading.Lock()

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        with _Slow.lock:
            _Slow.active += 1
            _Slow.peak = max(_Slow.peak, _Slow.active)
        time.sleep(0.2)
        with _Slow.lock:
            _Slow.active -= 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def slow_server() -> Any:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Slow.peak = 0
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_http_serial_one_asks_one_host_at_a_time(tmp_path: Path, slow_server: int) -> None:
    """Regression: `serial: 1` on an http step was silently ignored."""
    hosts = _hosts(tmp_path, 3)
    spec = {"url": f"http://127.0.0.1:{slow_server}/health"}
    result = run(HttpExecutor(), spec, hosts, {"serial": 1})
    assert result.ok, result.error
    assert _Slow.peak == 1
    _Slow.peak = 0
    result = run(HttpExecutor(), spec, hosts, {})
    assert result.ok and _Slow.peak == 3


def lint(step: str) -> list[str]:
    source = (
        "runbook: 1\nname: x\nphases:\n  - id: p\n    steps:\n      - id: s\n" + step
    )
    return [f"{f.rule}: {f.message}" for f in analyze_document(load_text(source, "rb.yaml")).findings]


def test_lint_rejects_rollout_keys_an_executor_cannot_honour() -> None:
    assert lint("        wait: 1s\n        serial: 1\n") == [
        "RB114: step 's': the wait executor does not fan out over hosts, so 'serial' has no effect"
    ]
    assert lint(
        "        hosts: all\n        ansible: {module: ping}\n        max_fail_percentage: 10\n"
    ) == [
        "RB114: step 's': the ansible executor cannot honour 'max_fail_percentage' (it honours: forks)"
    ]


def test_lint_rejects_rollout_keys_on_a_step_without_hosts() -> None:
    assert lint("        shell: echo hi\n        serial: 1\n") == [
        "RB114: step 's' has no hosts:, so 'serial' has no effect"
    ]


def test_lint_accepts_rollout_keys_where_they_apply() -> None:
    assert lint("        hosts: all\n        shell: echo hi\n        serial: 1\n        max_errors: 1\n") == []
    assert lint("        hosts: all\n        ansible: {module: ping}\n        forks: 5\n") == []

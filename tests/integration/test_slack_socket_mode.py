"""Slack approvals over Socket Mode against a local stand-in for Slack: an HTTP server
answers ``apps.connections.open`` with the ws:// URL of a local WebSocket server, which
sends ``interactive`` envelopes like Slack does and records the client's acks. The
console dials out; nothing ever calls into it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import websockets
from console_harness import RUNBOOK_BIN, Console

from runbook_engine import slack

APP_TOKEN = "xapp-1-A0TEST-socket-mode-token"

BOOK = """
runbook: 1
name: socket-demo
phases:
  - id: p
    steps:
      - id: go-live
        manual:
          prompt: Release manager approves going live
          approvers: [dba-lead]
        timeout: 1h
      - id: live
        shell: echo live
"""


class SocketModeSlack:
    """Slack's two parts of Socket Mode: the Web API (HTTP) and the WebSocket."""

    def __init__(self) -> None:
        self.envelopes: list[dict[str, Any]] = []
        self.acks: list[dict[str, Any]] = []
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.opened: list[str] = []  # the Authorization header of each apps.connections.open
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        threading.Thread(target=self._serve_websocket, daemon=True).start()
        assert self.ready.wait(10)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.path == "/api/apps.connections.open":
                    outer.opened.append(self.headers.get("Authorization", ""))
                    answer = {"ok": True, "url": f"ws://127.0.0.1:{outer.ws_port}/link"}
                else:
                    outer.posts.append((self.path, json.loads(body)))
                    answer = {"ok": True}
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def _serve_websocket(self) -> None:
        async def handler(connection: Any) -> None:
            await connection.send(json.dumps({"type": "hello", "num_connections": 1}))
            for envelope in list(self.envelopes):
                await connection.send(json.dumps(envelope))
                while True:
                    message = json.loads(await connection.recv())
                    if message.get("envelope_id"):
                        self.acks.append(message)
                        break
            await connection.wait_closed()

        async def main() -> None:
            async with websockets.serve(handler, "127.0.0.1", 0) as server:
                self.ws_port = next(iter(server.sockets)).getsockname()[1]
                self.ready.set()
                await asyncio.Future()

        self.loop.run_until_complete(main())

    def click(self, envelope_id: str, run_id: str, user: str) -> None:
        self.envelopes.append({
            "envelope_id": envelope_id,
            "type": "interactive",
            "accepts_response_payload": False,
            "payload": {
                "type": "block_actions",
                "user": {"id": user, "username": user.lower()},
                "actions": [{
                    "action_id": slack.APPROVE,
                    "value": json.dumps({"run": run_id, "step": "go-live"}),
                }],
                "response_url": f"{self.url}/response/{envelope_id}",
            },
        })  # fmt: skip


@pytest.fixture
def slack_app() -> Iterator[SocketModeSlack]:
    made = SocketModeSlack()
    yield made
    made.http.shutdown()


@pytest.fixture
def console(tmp_path: Path, slack_app: SocketModeSlack) -> Console:
    return Console(tmp_path, slack_app_token=APP_TOKEN, slack_api_url=f"{slack_app.url}/api/")


def wait_for(condition: Any, limit: float = 30) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_socket_mode_click_votes_for_the_mapped_user_only(
    console: Console, slack_app: SocketModeSlack
) -> None:
    run_id = console.paused_run(book=BOOK)
    slack_app.click("env-stranger", run_id, "U0STRANGER")
    slack_app.click("env-lead", run_id, "U0LEAD")
    with console.serving():
        wait_for(lambda: len(slack_app.acks) == 2)
        assert console.wait_finished(run_id) == "succeeded"
        wait_for(lambda: any(p == "/response/env-lead" for p, _ in slack_app.posts))
    assert slack_app.opened == [f"Bearer {APP_TOKEN}"]
    assert [a["envelope_id"] for a in slack_app.acks] == ["env-stranger", "env-lead"]
    (vote,) = console.votes(run_id)
    assert vote["by"] == "dba-lead" and vote["source"] == "slack"
    assert vote["identity"] == {"name": "dba-lead", "method": "slack", "slack_user": "U0LEAD"}
    replies = dict(slack_app.posts)
    assert "not mapped to an approver" in replies["/response/env-stranger"]["text"]
    assert replies["/response/env-stranger"]["response_type"] == "ephemeral"
    assert "approved by dba-lead" in replies["/response/env-lead"]["text"]


def test_socket_mode_needs_the_app_token_in_the_environment(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SLACK_APP_TOKEN"}
    done = subprocess.run(
        [RUNBOOK_BIN, "serve", "--slack-socket-mode", "--runs-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    assert done.returncode == 2
    assert "SLACK_APP_TOKEN" in done.stderr and "Traceback" not in done.stderr

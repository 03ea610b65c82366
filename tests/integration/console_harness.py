"""A real `runbook serve` app on uvicorn, on an ephemeral 127.0.0.1 port in a thread,
over runs made by the real `runbook run`; shared by the console, Slack and browser
tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from runbook_engine.serve import ServeConfig, create_app
from runbook_engine.serve.users import add_user

RUNBOOK_BIN = str(Path(sys.executable).parent / "runbook")
SECRET = "s3cr3t-deploy-token-4711"

#: A demo-like runbook: a deploy that prints, an approval gate with typed inputs, and
#: a verification phase that prints per host; the secret var must never show.
BOOK = """
runbook: 1
name: console-demo
title: Monthly Application Update (console)
vars:
  version: {type: string, default: v2.4.0}
  token: {type: string, secret: true, env: CONSOLE_TEST_TOKEN}
phases:
  - id: deploy
    title: Deploy Application Update
    steps:
      - id: deploy-code
        shell: echo "deploying {{ version }} with {{ token }}"
      - id: dba-approval
        manual:
          prompt: DBA approves the schema migration
          approvers: [dba-lead, dba-oncall]
          inputs:
            ticket: {type: string, pattern: 'CHG-[0-9]+', description: Change ticket}
            hosts: {type: int, description: Hosts to migrate}
          on_timeout: abort
        timeout: TIMEOUT
      - id: run-migrations
        shell: for i in 1 2 3; do echo "migration $i of 3 applied"; sleep 0.3; done
  - id: verify
    title: Post-Deployment Verification
    steps:
      - id: smoke
        shell: echo "smoke ok, token {{ token }}"
"""


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class Console:
    """The server, its runs directory and users, and helpers to make runs."""

    def __init__(self, root: Path, **config: Any) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.runs = root / "runs"
        self.users = root / "users.yaml"
        add_user(self.users, "dba-lead", "lead-password", slack="U0LEAD")
        add_user(self.users, "dba-oncall", "oncall-password", slack="U0ONCALL")
        add_user(self.users, "viewer", "viewer-password")
        self.config = ServeConfig(
            runs_dir=self.runs, users_file=self.users, workdir=root, **config
        )
        self.env = {**os.environ, "CONSOLE_TEST_TOKEN": SECRET, "NO_COLOR": "1"}
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def paused_run(
        self, timeout: str = "1h", approvers: str | None = None, book: str = BOOK
    ) -> str:
        text = textwrap.dedent(book).replace("TIMEOUT", timeout)
        if approvers is not None:
            text = text.replace("approvers: [dba-lead, dba-oncall]", approvers)
        (self.root / "book.yaml").write_text(text)
        before = set(self.runs.iterdir()) if self.runs.exists() else set()
        done = subprocess.run(
            [RUNBOOK_BIN, "run", "book.yaml", "--runs-dir", str(self.runs)],
            cwd=self.root, capture_output=True, text=True, timeout=120,
            stdin=subprocess.DEVNULL, env=self.env,
        )  # fmt: skip
        assert done.returncode == 5, done.stdout + done.stderr
        (new,) = [p.name for p in set(self.runs.iterdir()) - before if (p / "journal.jsonl").exists()]
        return new

    @contextmanager
    def serving(self) -> Iterator[Console]:
        os.environ["CONSOLE_TEST_TOKEN"] = SECRET  # the resume child inherits it
        sock = free_socket()
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(create_app(self.config), log_level="info", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]})
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        try:
            yield self
        finally:
            self._server.should_exit = True
            self._thread.join(10)
            sock.close()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, follow_redirects=False, timeout=30)

    @contextmanager
    def login(self, user: str, password: str) -> Iterator[httpx.Client]:
        with self.client() as client:
            answer = client.post("/login", data={"user": user, "password": password})
            assert answer.status_code == 303, answer.text
            yield client

    def csrf(self, client: httpx.Client, run_id: str) -> str:
        page = client.get(f"/runs/{run_id}").text
        marker = 'name="csrf" value="'
        start = page.index(marker) + len(marker)
        return page[start : page.index('"', start)]

    def votes(self, run_id: str) -> list[dict[str, Any]]:
        """Each journaled vote: an action of an operator transaction, with who cast it."""
        from runbook_engine.journal import Journal

        found = []
        for event in Journal.open(self.runs, run_id).events():
            if event["event"] == "operator_actions":
                base = {k: v for k, v in event.items() if k != "actions"}
                found += [{**base, **action} for action in event["actions"]]
        return found

    def wait_finished(self, run_id: str, limit: float = 60) -> str:
        from runbook_engine.journal import Journal, replay

        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            state = replay(Journal.open(self.runs, run_id).events())
            if state.finished_at:
                return state.status
            time.sleep(0.2)
        raise AssertionError(f"run {run_id} did not finish")

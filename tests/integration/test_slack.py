"""Slack approvals against a local stand-in that plays Slack: it receives the gate's
Block Kit message and the decided update, and the test posts signed callbacks to the
console's /slack/actions like Slack would: correct and wrong signatures, stale
timestamps, replays, unknown users."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from console_harness import Console
from test_journal_events import lines_round_trip

from runbook_engine import slack
from runbook_engine.journal import Journal

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"

BOOK = """
runbook: 1
name: slack-demo
vars:
  slack_webhook: {type: string, secret: true, env: SLACK_TEST_WEBHOOK}
notify:
  chat:
    slack: {webhook: "{{ slack_webhook }}", console_url: "http://127.0.0.1:1/"}
phases:
  - id: p
    steps:
      - id: deploy
        shell: echo deploy
      - id: go-live
        manual:
          prompt: Release manager approves going live
          approvers: [dba-lead]
        timeout: 1h
      - id: live
        shell: echo live
      - id: announce
        notify: {channel: chat, subject: Release, message: "went live"}
        expect: delivered
"""


class SlackStandIn:
    """Records every JSON POST: the incoming webhook and the response_url."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("content-length", 0))
                outer.posts.append((self.path, json.loads(self.rfile.read(length))))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def callback(
        self, run_id: str, step: str, user: str, action: str = slack.APPROVE
    ) -> bytes:
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower()},
            "actions": [{"action_id": action, "value": json.dumps({"run": run_id, "step": step})}],
            "response_url": f"{self.url}/response/1",
        }
        return urlencode({"payload": json.dumps(payload)}).encode()


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    server = SlackStandIn()
    yield server
    server.server.shutdown()


@pytest.fixture
def console(tmp_path: Path, standin: SlackStandIn, monkeypatch: pytest.MonkeyPatch) -> Console:
    monkeypatch.setenv("SLACK_TEST_WEBHOOK", f"{standin.url}/hooks/ops")
    made = Console(tmp_path, slack_signing_secret=SIGNING_SECRET)
    made.env["SLACK_TEST_WEBHOOK"] = f"{standin.url}/hooks/ops"
    return made


def signed(body: bytes, secret: str = SIGNING_SECRET, at: float | None = None) -> dict[str, str]:
    stamp = str(int(time.time() if at is None else at))
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": slack.signature(secret, stamp, body),
        "Content-Type": "application/x-www-form-urlencoded",
    }


def votes(console: Console, run_id: str) -> list[dict[str, Any]]:
    return console.votes(run_id)


def test_a_waiting_gate_is_posted_with_buttons(console: Console, standin: SlackStandIn) -> None:
    run_id = console.paused_run(book=BOOK)
    ((path, message),) = standin.posts
    assert path == "/hooks/ops"
    buttons = message["blocks"][1]["elements"]
    assert [b["action_id"] for b in buttons] == [slack.APPROVE, slack.REJECT]
    assert json.loads(buttons[0]["value"]) == {"run": run_id, "step": "go-live"}
    assert "Release manager approves going live" in message["blocks"][0]["text"]["text"]
    events = Journal.open(console.runs, run_id).events()
    announced = [e for e in events if e["event"] == "gate_announced"]
    assert [(e["channel"], e["delivered"]) for e in announced] == [("chat", True)]
    assert "gate_announced" in lines_round_trip(Journal.open(console.runs, run_id).path)
    assert standin.url not in json.dumps(events)  # the webhook URL is a secret


def test_a_signed_approval_continues_the_run_and_updates_the_message(
    console: Console, standin: SlackStandIn
) -> None:
    run_id = console.paused_run(book=BOOK)
    body = standin.callback(run_id, "go-live", "U0LEAD")
    with console.serving(), console.client() as client:
        headers = signed(body)
        answer = client.post("/slack/actions", content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        assert console.wait_finished(run_id) == "succeeded"
        replay = client.post("/slack/actions", content=body, headers=headers)
        assert replay.status_code == 401
        clicked_again = client.post("/slack/actions", content=body, headers=signed(body, at=time.time() + 1))
        assert "not recorded" in clicked_again.json()["text"]
    (vote,) = votes(console, run_id)
    assert vote["by"] == "dba-lead" and vote["source"] == "slack"
    assert vote["identity"] == {"name": "dba-lead", "method": "slack", "slack_user": "U0LEAD"}
    (update,) = [body for path, body in standin.posts if path == "/response/1"]
    assert update["replace_original"] is True
    assert "approved by dba-lead" in update["text"] and "actions" not in json.dumps(update)
    notified = [body for path, body in standin.posts if path == "/hooks/ops"][-1]
    assert notified["blocks"] == [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Release*\nwent live"}}
    ]


def test_replayed_callbacks_are_refused(console: Console, standin: SlackStandIn) -> None:
    run_id = console.paused_run(book=BOOK)
    body = standin.callback(run_id, "go-live", "U0LEAD", slack.REJECT)
    headers = signed(body)
    with console.serving(), console.client() as client:
        assert client.post("/slack/actions", content=body, headers=headers).status_code == 200
        again = client.post("/slack/actions", content=body, headers=headers)
        assert again.status_code == 401 and "replayed" in again.text
        assert console.wait_finished(run_id) == "failed"  # on_reject: abort
    assert [v["action"] for v in votes(console, run_id)] == ["reject"]


@pytest.mark.parametrize(
    "headers",
    [
        lambda body: signed(body, secret="not-the-signing-secret"),
        lambda body: signed(body, at=time.time() - 301),
        lambda body: {"X-Slack-Signature": "v0=00", "Content-Type": "application/x-www-form-urlencoded"},
    ],
    ids=["wrong-secret", "outside-5-minutes", "no-timestamp"],
)
def test_badly_signed_callbacks_are_refused(
    console: Console, standin: SlackStandIn, headers: Any
) -> None:
    run_id = console.paused_run(book=BOOK)
    body = standin.callback(run_id, "go-live", "U0LEAD")
    with console.serving(), console.client() as client:
        answer = client.post("/slack/actions", content=body, headers=headers(body))
        assert answer.status_code == 401
        tampered = body.replace(b"U0LEAD", b"U0ONCALL")
        forged = client.post("/slack/actions", content=tampered, headers=signed(body))
        assert forged.status_code == 401 and "bad signature" in forged.text
    assert votes(console, run_id) == []


def test_an_unknown_slack_user_is_not_an_approver(console: Console, standin: SlackStandIn) -> None:
    run_id = console.paused_run(book=BOOK)
    with console.serving(), console.client() as client:
        stranger = standin.callback(run_id, "go-live", "U0STRANGER")
        answer = client.post("/slack/actions", content=stranger, headers=signed(stranger))
        assert answer.status_code == 200 and "not mapped to an approver" in answer.json()["text"]
        # a mapped user who is not among the gate's approvers
        oncall = standin.callback(run_id, "go-live", "U0ONCALL")
        refused = client.post("/slack/actions", content=oncall, headers=signed(oncall))
        assert "dba-oncall is not an approver" in refused.json()["text"]
    assert votes(console, run_id) == []

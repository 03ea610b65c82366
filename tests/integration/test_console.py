"""`runbook serve` over real HTTP: login, the run list and page, votes with CSRF and
authorization, the supervised resume, the event stream, reports, verify, metrics —
and the security rules: 401, 403, CSRF, no double vote, late approvals, no secret."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from console_harness import SECRET, Console


@pytest.fixture
def console(tmp_path: Path) -> Console:
    return Console(tmp_path)


def operator_events(console: Console, run_id: str) -> list[dict[str, Any]]:
    return console.votes(run_id)


def test_every_page_needs_a_login(console: Console) -> None:
    run_id = console.paused_run()
    with console.serving(), console.client() as anonymous:
        for path in ("/", f"/runs/{run_id}", f"/runs/{run_id}/events",
                     f"/runs/{run_id}/report/html", f"/runs/{run_id}/verify"):  # fmt: skip
            assert anonymous.get(path).status_code == 401, path
        page = anonymous.get("/", headers={"accept": "text/html"})
        assert page.status_code == 401 and 'action="/login"' in page.text
        posted = anonymous.post(f"/runs/{run_id}/gates/dba-approval", data={"action": "approve"})
        assert posted.status_code == 401
        wrong = anonymous.post("/login", data={"user": "dba-lead", "password": "nope"})
        assert wrong.status_code == 401 and COOKIE_NAME not in wrong.cookies
    assert operator_events(console, run_id) == []


COOKIE_NAME = "runbook_session"


def test_the_session_cookie_is_httponly_and_samesite(console: Console) -> None:
    with console.serving(), console.client() as client:
        answer = client.post("/login", data={"user": "viewer", "password": "viewer-password"})
        cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie


def test_run_list_shows_the_paused_gate(console: Console) -> None:
    run_id = console.paused_run()
    with console.serving(), console.login("viewer", "viewer-password") as client:
        page = client.get("/")
        assert page.status_code == 200
        assert run_id in page.text and "paused" in page.text
        assert "dba-approval" in page.text and "approvers: dba-lead, dba-oncall" in page.text
        assert "inputs needed: ticket, hosts" in page.text and "deadline" in page.text


def test_a_user_who_is_not_an_approver_gets_403(console: Console) -> None:
    run_id = console.paused_run()
    with console.serving(), console.login("viewer", "viewer-password") as client:
        csrf = console.csrf(client, run_id)
        answer = client.post(
            f"/runs/{run_id}/gates/dba-approval",
            data={"csrf": csrf, "action": "approve", "input:ticket": "CHG-1", "input:hosts": "3"},
        )
        assert answer.status_code == 403 and "viewer is not an approver" in answer.text
    assert operator_events(console, run_id) == []


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_a_missing_or_wrong_csrf_token_gets_403(console: Console, token: str | None) -> None:
    run_id = console.paused_run()
    with console.serving(), console.login("dba-lead", "lead-password") as client:
        data = {"action": "approve", "input:ticket": "CHG-1", "input:hosts": "3"}
        if token:
            data["csrf"] = token
        answer = client.post(f"/runs/{run_id}/gates/dba-approval", data=data)
        assert answer.status_code == 403 and "CSRF" in answer.text
    assert operator_events(console, run_id) == []


def test_an_approval_continues_the_run_and_the_stream_shows_it(
    console: Console, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    run_id = console.paused_run()
    with console.serving(), console.login("dba-lead", "lead-password") as client:
        csrf = console.csrf(client, run_id)
        bad = client.post(
            f"/runs/{run_id}/gates/dba-approval",
            data={"csrf": csrf, "action": "approve", "input:ticket": "nope", "input:hosts": "3"},
        )
        assert bad.status_code == 400 and "does not match" in bad.text
        answer = client.post(
            f"/runs/{run_id}/gates/dba-approval",
            data={"csrf": csrf, "action": "approve", "input:ticket": "CHG-77", "input:hosts": "3"},
        )
        assert answer.status_code == 303, answer.text
        seen: list[dict] = []
        with client.stream("GET", f"/runs/{run_id}/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    seen.append(json.loads(line[6:]))
        assert seen[-1]["event"] == "run_finished" and seen[-1]["status"] == "succeeded"
        lines = [e["line"] for e in seen if e["event"] == "step_output"]
        assert "migration 3 of 3 applied" in lines
        assert console.wait_finished(run_id) == "succeeded"
        pages = [client.get(f"/runs/{run_id}").text, client.get("/").text]
        pages += [client.get(f"/runs/{run_id}/report/{fmt}").text
                  for fmt in ("html", "markdown", "json", "junit")]  # fmt: skip
        assert "smoke ok, token ***" in pages[0]
        verify = client.get(f"/runs/{run_id}/verify").json()
        assert verify == {"intact": True, "problems": []}
        metrics = client.get("/metrics").text
        assert 'runbook_console_runs{runbook="console-demo",status="succeeded"} 1.0' in metrics
    (vote,) = operator_events(console, run_id)
    assert vote["by"] == "dba-lead" and vote["identity"] == {"name": "dba-lead", "method": "console"}
    assert vote["inputs"] == {"ticket": "CHG-77", "hosts": 3} and vote["source"] == "console"
    resume_log = (console.runs / run_id / "console-resume.log").read_text()
    everything = pages + [json.dumps(seen), metrics, caplog.text, resume_log]
    for text in everything:
        assert SECRET not in text


def test_the_same_person_cannot_vote_twice(console: Console) -> None:
    run_id = console.paused_run(approvers="approvals: {required: 2, from: [dba-lead, dba-oncall]}")
    with console.serving(), console.login("dba-lead", "lead-password") as client:
        csrf = console.csrf(client, run_id)
        data = {"csrf": csrf, "action": "approve", "input:ticket": "CHG-1", "input:hosts": "2"}
        first = client.post(f"/runs/{run_id}/gates/dba-approval", data=data)
        assert first.status_code == 303
        assert "1 of 2 approvals" in client.get(f"/runs/{run_id}").text
        again = client.post(f"/runs/{run_id}/gates/dba-approval", data=data)
        assert again.status_code == 403 and "already voted" in again.text
        assert [v["by"] for v in operator_events(console, run_id)] == ["dba-lead"]
        with console.login("dba-oncall", "oncall-password") as other:
            second = other.post(
                f"/runs/{run_id}/gates/dba-approval",
                data={"csrf": console.csrf(other, run_id), "action": "approve"},
            )
            assert second.status_code == 303, second.text
        assert console.wait_finished(run_id) == "succeeded"
    assert [v["by"] for v in operator_events(console, run_id)] == ["dba-lead", "dba-oncall"]


def test_an_approval_after_the_deadline_takes_on_timeout(console: Console) -> None:
    run_id = console.paused_run(timeout="1s")
    import time

    time.sleep(1.2)
    with console.serving(), console.login("dba-lead", "lead-password") as client:
        csrf = console.csrf(client, run_id)
        answer = client.post(
            f"/runs/{run_id}/gates/dba-approval",
            data={"csrf": csrf, "action": "approve", "input:ticket": "CHG-1", "input:hosts": "3"},
        )
        assert answer.status_code == 303 and answer.headers["location"].endswith("done=late")
        assert console.wait_finished(run_id) == "failed"  # on_timeout: abort
    assert [(v["by"], v.get("late")) for v in operator_events(console, run_id)] == [
        ("dba-lead", True)
    ]


def test_a_trusted_proxy_header_logs_in_only_when_enabled(tmp_path: Path) -> None:
    plain = Console(tmp_path / "plain")
    with plain.serving(), plain.client() as client:
        assert client.get("/", headers={"X-Remote-User": "dba-lead"}).status_code == 401
    proxied = Console(tmp_path / "proxied", proxy_header="X-Remote-User")
    run_id = proxied.paused_run()
    with proxied.serving(), proxied.client() as client:
        assert client.get("/").status_code == 401
        assert client.get("/", headers={"X-Remote-User": "stranger"}).status_code == 401
        page = client.get(f"/runs/{run_id}", headers={"X-Remote-User": "dba-lead"})
        assert page.status_code == 200 and "signed in as <strong>dba-lead</strong>" in page.text
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        answer = client.post(
            f"/runs/{run_id}/gates/dba-approval",
            headers={"X-Remote-User": "dba-lead"},
            data={"csrf": csrf, "action": "reject"},
        )
        assert answer.status_code == 303, answer.text
        assert proxied.wait_finished(run_id) == "failed"
    (vote,) = proxied.votes(run_id)
    assert vote["identity"] == {"name": "dba-lead", "method": "proxy-header"}


def test_runbook_serve_over_tls_with_a_user_added_from_the_cli(tmp_path: Path) -> None:
    import os
    import ssl
    import subprocess
    import time

    import httpx
    from console_harness import RUNBOOK_BIN, free_socket
    from tls_certificates import certificates

    ca, cert, key = certificates(tmp_path)
    users = tmp_path / "users.yaml"
    added = subprocess.run(
        [RUNBOOK_BIN, "serve", "--users", str(users), "--add-user", "dba-lead"],
        input="tls-password\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "$argon2id$" in users.read_text() and "tls-password" not in users.read_text()
    assert oct(users.stat().st_mode & 0o777) == "0o600"
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    server = subprocess.Popen(
        [RUNBOOK_BIN, "serve", "--users", str(users), "--port", str(port), "--runs-dir",
         str(tmp_path / "runs"), "--certfile", str(cert), "--keyfile", str(key)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip
    try:
        trust = ssl.create_default_context(cafile=str(ca))
        with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=trust) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    assert client.get("/login").status_code == 200
                    break
                except httpx.ConnectError:
                    assert time.monotonic() < deadline, "runbook serve did not start"
                    time.sleep(0.2)
            answer = client.post("/login", data={"user": "dba-lead", "password": "tls-password"})
            assert answer.status_code == 303
            cookie = answer.headers["set-cookie"].lower()
            assert "secure" in cookie and "httponly" in cookie
            assert client.get("/").status_code == 200
    finally:
        server.terminate()
        server.wait(10)

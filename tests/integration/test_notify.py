"""The notify executor against a real webhook receiver and a real SMTP server
(aiosmtpd) on free 127.0.0.1 ports, reading what was actually delivered."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from tls_certificates import certificates

from runbook_engine.executors.base import Result, StepCall, StepServices
from runbook_engine.executors.notify import CHANNEL_SCHEMA, NotifyExecutor

WEBHOOK_TOKEN = "T000/B000/XXXXsecretXXXX"


class Webhook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []
    status = 200

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).received.append({"path": self.path, "json": json.loads(body)})
        self.send_response(type(self).status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


@pytest.fixture
def webhook() -> Iterator[type[Webhook]]:
    handler = type("Receiver", (Webhook,), {"received": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}/services/{WEBHOOK_TOKEN}"  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def run(spec: dict[str, Any], channels: dict[str, Any], **kwargs: Any) -> Result:
    call = StepCall("announce", spec, services=StepServices(channels=channels), **kwargs)
    return asyncio.run(NotifyExecutor().run(call))


def _redact(text: str) -> str:
    return text.replace(WEBHOOK_TOKEN, "***")


@pytest.mark.service("http")
def test_webhook_posts_slack_compatible_json(webhook: Any) -> None:
    result = run(
        {
            "channel": "ops",
            "subject": "Monthly update",
            "message": "🚀 Starting monthly application update v2.4.0",
        },
        {"ops": {"webhook": webhook.url, "fallback": "log"}},
    )
    assert result.ok
    assert result.fields == {
        "delivered": True,
        "channel": "ops",
        "fallback_used": False,
        "error": None,
    }
    assert webhook.received == [
        {
            "path": f"/services/{WEBHOOK_TOKEN}",
            "json": {"text": "*Monthly update*\n🚀 Starting monthly application update v2.4.0"},
        }
    ]


@pytest.mark.service("http")
def test_failed_webhook_falls_back_to_the_log_and_the_step_still_succeeds(webhook: Any) -> None:
    webhook.status = 500
    lines: list[str] = []
    result = run(
        {"channel": "ops", "message": "rollback started"},
        {"ops": {"webhook": webhook.url, "fallback": "log"}},
        log=lambda line, host=None: lines.append(line),
        redact=_redact,
    )
    assert result.ok
    assert result.fields["delivered"] is True
    assert result.fields["channel"] == "log"
    assert result.fields["fallback_used"] is True
    assert result.fields["error"] == "ops: webhook answered HTTP 500 Internal Server Error"
    assert "notify log: rollback started" in lines


def test_unreachable_webhook_without_fallback_is_recorded_not_fatal(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/services/{WEBHOOK_TOKEN}"
    result = run({"channel": "ops", "message": "done"}, {"ops": {"webhook": url}}, redact=_redact)
    assert result.ok
    assert result.fields["delivered"] is False
    assert "webhook unreachable" in result.fields["error"]
    assert WEBHOOK_TOKEN not in result.fields["error"]

    required = run(
        {"channel": "ops", "message": "done", "required": True}, {"ops": {"webhook": url}}
    )
    assert not required.ok
    assert (required.error or "").startswith("notification not delivered: ops: webhook unreachable")


def test_empty_webhook_variable_and_unknown_channel_are_undelivered() -> None:
    empty = run({"channel": "ops", "message": "x"}, {"ops": {"webhook": ""}})
    assert empty.fields["delivered"] is False and "empty" in empty.fields["error"]
    unknown = run({"channel": "pager", "message": "x"}, {})
    assert unknown.ok and unknown.fields["delivered"] is False
    assert "no channel named 'pager'" in unknown.fields["error"]


def test_builtin_log_channel_and_secret_redaction() -> None:
    lines: list[str] = []
    result = run(
        {"channel": "log", "subject": "Done", "message": "token tok-123 rotated\nsecond line"},
        {},
        log=lambda line, host=None: lines.append(line),
        redact=lambda text: text.replace("tok-123", "***"),
    )
    assert result.fields["delivered"] is True
    assert lines == [
        "notify log: [Done]",
        "notify log: token *** rotated",
        "notify log: second line",
    ]


def test_fallback_chains_end_at_none_or_at_a_loop() -> None:
    channels = {"a": {"webhook": "", "fallback": "b"}, "b": {"webhook": "", "fallback": "a"}}
    result = run({"channel": "a", "message": "x"}, channels)
    assert result.fields["delivered"] is False
    assert result.fields["error"].count("empty") == 2
    stop = run({"channel": "a", "message": "x"}, {"a": {"webhook": "", "fallback": "none"}})
    assert stop.fields["fallback_used"] is False and stop.fields["error"].count("empty") == 1


# --- SMTP -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
    from aiosmtpd.smtp import AuthResult

    ok = auth_data.login == b"ops" and auth_data.password == b"mail-secret"
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[tuple[int, Mailbox, Path]]:
    """An SMTP server that offers STARTTLS with a test CA's certificate and wants AUTH."""
    controller_module = pytest.importorskip("aiosmtpd.controller")
    ca, cert, key = certificates(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    mailbox = Mailbox()
    port = _free_port()
    controller = controller_module.Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        authenticator=_authenticator,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield port, mailbox, ca
    finally:
        controller.stop()


def _email_channel(port: int, ca: Path, **smtp: Any) -> dict[str, Any]:
    return {
        "smtp": {
            "host": "127.0.0.1",
            "port": port,
            "ca_file": str(ca),
            "username": "ops",
            "password": "mail-secret",
            **smtp,
        },
        "from": "runbook@example.com",
        "to": ["release@example.com", "oncall@example.com"],
    }


@pytest.mark.service("smtp")
def test_email_over_starttls_with_auth_is_delivered(smtp_server: tuple[int, Mailbox, Path]) -> None:
    port, mailbox, ca = smtp_server
    result = run(
        {
            "channel": "email",
            "subject": "Monthly update complete",
            "message": "v2.4.0 is live.\nDowntime: 31m",
        },
        {"email": _email_channel(port, ca)},
    )
    assert result.ok, result.fields
    assert result.fields["delivered"] is True
    [envelope] = mailbox.messages
    assert envelope.mail_from == "runbook@example.com"
    assert envelope.rcpt_tos == ["release@example.com", "oncall@example.com"]
    mail = message_from_bytes(envelope.content)
    assert mail["Subject"] == "Monthly update complete"
    assert mail["To"] == "release@example.com, oncall@example.com"
    assert (
        mail.get_payload(decode=True).decode().replace("\r\n", "\n").strip()
        == "v2.4.0 is live.\nDowntime: 31m"
    )


@pytest.mark.service("smtp")
def test_email_with_wrong_password_falls_back(smtp_server: tuple[int, Mailbox, Path]) -> None:
    port, mailbox, ca = smtp_server
    channel = {**_email_channel(port, ca, password="wrong"), "fallback": "log"}
    result = run({"channel": "email", "message": "x"}, {"email": channel})
    assert result.fields["channel"] == "log" and result.fields["fallback_used"] is True
    assert "535" in result.fields["error"]
    assert "wrong" not in result.fields["error"]
    assert mailbox.messages == []


@pytest.mark.service("smtp")
def test_email_refuses_an_unverified_server_certificate(
    smtp_server: tuple[int, Mailbox, Path],
) -> None:
    port, mailbox, _ = smtp_server
    channel = _email_channel(port, Path("/nonexistent"))
    del channel["smtp"]["ca_file"]
    result = run({"channel": "email", "message": "x"}, {"email": channel})
    assert result.fields["delivered"] is False
    assert "CERTIFICATE_VERIFY_FAILED" in result.fields["error"]
    assert mailbox.messages == []


def test_channel_schema_is_valid_and_strict() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(CHANNEL_SCHEMA)
    jsonschema.Draft202012Validator.check_schema(NotifyExecutor.schema)
    validator = jsonschema.Draft202012Validator(CHANNEL_SCHEMA)
    assert validator.is_valid({"webhook": "{{ webhook }}", "fallback": "log"})
    assert validator.is_valid({"smtp": {"host": "mail", "port": 587}, "from": "a@b", "to": "c@d"})
    assert not validator.is_valid({"smtp": {"host": "mail"}, "from": "a@b"})  # no recipient
    assert not validator.is_valid({"webhook": "x", "smtp": {"host": "m"}, "from": "a", "to": "b"})

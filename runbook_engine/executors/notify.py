"""The ``notify`` executor: tells people what the run is doing, through channels
declared once in the runbook's top-level ``notify:`` (Slack-compatible webhook, SMTP
e-mail, or the run log).

A notification is a courtesy, not a deployment step: when delivery fails the step
still succeeds with ``delivered: false`` (after trying the channel's ``fallback``),
unless the step says ``required: true``. Outgoing text is redacted like any report.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from runbook_engine.errors import ExecutorError
from runbook_engine.executors.base import ExecutorBase, Result, StepCall
from runbook_engine.executors.wait import to_seconds
from runbook_engine.webhook import Undelivered, post_json

DEFAULT_TIMEOUT = 10.0
LOG = "log"  # the channel that always exists and always delivers
NONE = "none"  # `fallback: none` says so explicitly

_TIMEOUT = {
    "type": ["number", "string"],
    "description": "Seconds (or e.g. 10s) before delivery counts as failed (default 10s).",
}

#: Schema of one channel under the runbook's top-level ``notify:`` mapping.
CHANNEL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A notification channel: a webhook, an SMTP e-mail, or the run log.",
    "additionalProperties": False,
    "properties": {
        "webhook": {
            "type": "string",
            "description": "Slack-compatible incoming-webhook URL (a secret var).",
        },
        "slack": {
            "type": "object",
            "description": "Slack app: Block Kit messages; gates that wait get Approve/Reject buttons.",
            "additionalProperties": False,
            "required": ["webhook"],
            "properties": {
                "webhook": {
                    "type": "string",
                    "description": "The Slack app's incoming-webhook URL (a secret var).",
                },
                "console_url": {
                    "type": "string",
                    "description": "Base URL of `runbook serve`, linked from gate messages.",
                },
                "gates": {
                    "type": "boolean",
                    "description": "Post a message with buttons for each gate that waits (default true).",
                },
            },
        },
        "smtp": {
            "type": "object",
            "description": "SMTP server that sends the e-mail.",
            "additionalProperties": False,
            "required": ["host"],
            "properties": {
                "host": {"type": "string", "description": "SMTP server name."},
                "port": {
                    "type": ["integer", "string"],
                    "description": "Port (default 465 with ssl, 587 with starttls, else 25).",
                },
                "starttls": {
                    "type": "boolean",
                    "description": "Upgrade the connection with STARTTLS (default true).",
                },
                "ssl": {
                    "type": "boolean",
                    "description": "Connect with implicit TLS (SMTPS), usually port 465.",
                },
                "ca_file": {
                    "type": "string",
                    "description": "PEM file of the CA that signed the server certificate.",
                },
                "username": {
                    "type": "string",
                    "description": "Login name, if the server wants one.",
                },
                "password": {"type": "string", "description": "Password; use a secret var."},
                "timeout": _TIMEOUT,
            },
        },
        "from": {"type": "string", "description": "Sender address of the e-mail."},
        "to": {
            "type": ["string", "array"],
            "items": {"type": "string"},
            "description": "Recipient address or addresses of the e-mail.",
        },
        "log": {
            "type": "boolean",
            "description": "Write the message to the run log (the journal).",
        },
        "fallback": {
            "type": "string",
            "description": "Channel to try when this one fails, e.g. log.",
        },
        "timeout": _TIMEOUT,
    },
    "oneOf": [
        {"required": ["webhook"]},
        {"required": ["slack"]},
        {"required": ["smtp", "from", "to"]},
        {"required": ["log"]},
    ],
}

SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Send a message through a channel declared under the runbook's top-level notify:.",
    "additionalProperties": False,
    "required": ["channel", "message"],
    "properties": {
        "channel": {
            "type": "string",
            "description": "Name of a channel declared under notify:, or log.",
        },
        "message": {"type": "string", "description": "Message text (a template)."},
        "subject": {
            "type": "string",
            "description": "Subject (e-mail subject; bold first line in chat).",
        },
        "required": {
            "type": "boolean",
            "description": "Fail the step when no channel delivered (default false: it only records it).",
        },
    },
}


class NotifyExecutor(ExecutorBase):
    """Delivers to the named channel, then to its fallback chain, until one succeeds."""

    key: ClassVar[str] = "notify"
    schema: ClassVar[dict[str, Any]] = SCHEMA
    #: Schema of one entry of the runbook's top-level ``notify:`` channel map.
    channel_schema: ClassVar[dict[str, Any]] = CHANNEL_SCHEMA
    fields: ClassVar[dict[str, str]] = {
        "delivered": "bool",
        "channel": "str",
        "fallback_used": "bool",
        "error": "str",
    }

    async def run(self, call: StepCall) -> Result:
        started = time.monotonic()
        spec = call.render(call.spec, None)
        if not isinstance(spec, Mapping) or "channel" not in spec or "message" not in spec:
            raise ExecutorError("notify step needs a channel and a message")
        channels: Mapping[str, Any] = call.services.channels
        message = call.redact(str(spec["message"]))
        subject = call.redact(str(spec["subject"])) if spec.get("subject") else None
        errors: list[str] = []
        tried: list[str] = []
        name: str | None = str(spec["channel"])
        delivered = False
        while name is not None and name not in tried:
            tried.append(name)
            channel = _channel(channels, name)
            try:
                if channel is None:
                    raise Undelivered(f"no channel named {name!r} is declared under notify:")
                await _deliver(name, channel, message, subject, call)
            except Undelivered as exc:
                errors.append(f"{name}: {call.redact(str(exc))}")
                call.log(f"notification via {name} failed: {call.redact(str(exc))}", None)
                fallback = str(channel.get("fallback") or "none") if channel else "none"
                name = None if fallback == NONE else fallback
                continue
            delivered = True
            break
        fields = {
            "delivered": delivered,
            "channel": tried[-1] if delivered else tried[0],
            "fallback_used": len(tried) > 1,
            "error": "; ".join(errors) or None,
        }
        required = bool(spec.get("required", False))
        error = None if delivered else f"notification not delivered: {fields['error']}"
        return Result(
            ok=delivered or not required,
            fields=fields,
            error=error,
            duration=time.monotonic() - started,
        )

    def describe(self, call: StepCall) -> list[str]:
        spec = call.render(call.spec, None)
        channel = _channel(call.services.channels, str(spec.get("channel")))
        how = ""
        if channel is not None:
            fallback = f", fallback {channel['fallback']}" if channel.get("fallback") else ""
            how = f" ({_kind(channel)}{fallback})"
        first = str(spec.get("message", "")).strip().splitlines()[:1]
        return [call.redact(f"notify {spec.get('channel')}{how}: {first[0] if first else ''}")]


def _channel(channels: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    if name in channels:
        return channels[name]  # type: ignore[no-any-return]
    return {"log": True} if name == LOG else None


def _kind(channel: Mapping[str, Any]) -> str:
    if channel.get("webhook") is not None:
        return "webhook"
    if channel.get("slack") is not None:
        return "slack"
    if channel.get("smtp") is not None:
        return "email"
    return "log"


def _timeout(channel: Mapping[str, Any]) -> float:
    value = channel.get("timeout", (channel.get("smtp") or {}).get("timeout", DEFAULT_TIMEOUT))
    return to_seconds(value, "notify timeout")


async def _deliver(
    name: str, channel: Mapping[str, Any], message: str, subject: str | None, call: StepCall
) -> None:
    import asyncio
    kind = _kind(channel)
    if kind == "webhook":
        await _webhook(str(channel["webhook"] or ""), message, subject, _timeout(channel))
    elif kind == "slack":
        text = f"*{subject}*\n{message}" if subject else message
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
        url = str(channel["slack"].get("webhook") or "")
        await post_json(url, {"text": text, "blocks": blocks}, _timeout(channel))
    elif kind == "email":
        await asyncio.to_thread(_email, channel, message, subject, _timeout(channel), call.workdir)
    else:
        for line in ([f"[{subject}]"] if subject else []) + message.splitlines():
            call.log(f"notify {name}: {line}", None)


async def _webhook(url: str, message: str, subject: str | None, timeout: float) -> None:
    """POSTs ``{"text": ...}``, the payload Slack, Mattermost and Rocket.Chat accept."""
    text = f"*{subject}*\n{message}" if subject else message
    await post_json(url, {"text": text}, timeout)


def _email(
    channel: Mapping[str, Any], message: str, subject: str | None, timeout: float, workdir: Path
) -> None:
    """Sends with stdlib smtplib; runs in a worker thread."""
    import smtplib
    import ssl
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    smtp = channel["smtp"]
    recipients = [channel["to"]] if isinstance(channel["to"], str) else list(channel["to"])
    mail = EmailMessage()
    mail["Subject"] = subject or (message.strip().splitlines() or ["runbook notification"])[0][:78]
    mail["From"] = str(channel["from"])
    mail["To"] = ", ".join(recipients)
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = make_msgid(domain=str(channel["from"]).rpartition("@")[2] or None)
    mail.set_content(message)

    implicit_tls = bool(smtp.get("ssl", False))
    starttls = bool(smtp.get("starttls", True)) and not implicit_tls
    port = int(smtp.get("port") or (465 if implicit_tls else 587 if starttls else 25))
    ca_file = smtp.get("ca_file")
    if ca_file and not Path(ca_file).is_absolute():
        ca_file = str(workdir / ca_file)
    try:
        context = ssl.create_default_context(cafile=ca_file)
        server: smtplib.SMTP
        if implicit_tls:
            server = smtplib.SMTP_SSL(str(smtp["host"]), port, timeout=timeout, context=context)
        else:
            server = smtplib.SMTP(str(smtp["host"]), port, timeout=timeout)
        with server:
            if starttls:
                server.starttls(context=context)
            if smtp.get("username"):
                server.login(str(smtp["username"]), str(smtp.get("password") or ""))
            refused = server.send_message(mail)
    except smtplib.SMTPException as exc:
        raise Undelivered(f"SMTP {smtp['host']}:{port}: {exc}") from None
    except OSError as exc:
        raise Undelivered(f"SMTP {smtp['host']}:{port} unreachable: {exc}") from None
    if refused:
        raise Undelivered(f"SMTP server refused {', '.join(sorted(refused))}")

"""Slack's side of approvals: the Block Kit message with Approve and Reject buttons
for a gate that waits, the same message once decided, and Slack's request signing
(HMAC-SHA256 of ``v0:{timestamp}:{body}`` with the app's signing secret) that the
console's ``/slack/actions`` callback checks. Standard library only: the notify
executor posts these messages, the console verifies the callbacks."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

#: Seconds a signed request stays acceptable (Slack's own advice: five minutes).
WINDOW = 300
APPROVE = "runbook_approve"
REJECT = "runbook_reject"


def gate_blocks(
    run_id: str,
    step: str,
    prompt: str,
    approvers: Sequence[str],
    required: int,
    console_url: str | None,
    votes: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """The message of a waiting gate: what to decide, who may, and two buttons whose
    value names the run and the step."""
    who = f"{required} of " if required > 1 else "one of "
    lines = [f"*{prompt}*", f"run `{run_id}`, step `{step}`"]
    if approvers:
        lines.append(f"approvers: {who}{', '.join(approvers)}")
    if votes:
        lines.append("so far: " + ", ".join(votes))
    if console_url:
        lines.append(f"<{console_url.rstrip('/')}/runs/{run_id}|open the run in the console>")
    value = json.dumps({"run": run_id, "step": step}, separators=(",", ":"))
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
        {
            "type": "actions",
            "block_id": f"gate:{step}",
            "elements": [
                {"type": "button", "action_id": APPROVE, "style": "primary", "value": value,
                 "text": {"type": "plain_text", "text": "Approve"}},
                {"type": "button", "action_id": REJECT, "style": "danger", "value": value,
                 "text": {"type": "plain_text", "text": "Reject"}},
            ],
        },
    ]  # fmt: skip


def decided_blocks(run_id: str, step: str, prompt: str, outcome: str) -> list[dict[str, Any]]:
    """The same message once the gate is decided: no buttons, who decided."""
    text = f"*{prompt}*\nrun `{run_id}`, step `{step}`\n{outcome}"
    return [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]


def signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    return "v0=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def check_request(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    seen: MutableMapping[str, float],
    now: float | None = None,
) -> str | None:
    """Why a callback is not from Slack (or is a replay), or None when it is. ``seen``
    remembers the signatures accepted in the last `WINDOW` seconds."""
    now = time.time() if now is None else now
    timestamp = headers.get("x-slack-request-timestamp", "")
    given = headers.get("x-slack-signature", "")
    if not timestamp.isdigit() or not given:
        return "missing X-Slack-Request-Timestamp or X-Slack-Signature"
    if abs(now - int(timestamp)) > WINDOW:
        return "request timestamp outside the 5-minute window"
    if not hmac.compare_digest(signature(secret, timestamp, body), given):
        return "bad signature"
    for old in [s for s, at in seen.items() if now - at > 2 * WINDOW]:
        del seen[old]
    if given in seen:
        return "replayed request"
    seen[given] = now
    return None

"""POSTing JSON to a chat webhook (Slack, Mattermost, Rocket.Chat) without leaking it.

Shared by the ``notify`` executor and the engine's gate announcements
(engine/approvals.py), so the engine need not import an executor to post a message.
A webhook URL holds its secret token: no error raised here names it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class Undelivered(Exception):
    """A channel could not deliver; the text says why, without the channel's secrets."""


async def post_json(url: str, payload: Mapping[str, Any], timeout: float) -> None:
    """POST ``payload`` to a webhook; `Undelivered` (without the URL, which holds the
    webhook's secret token) when it does not take it."""
    import httpx

    if not url.strip():
        raise Undelivered("the webhook URL is empty (is its variable set?)")
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.post(url, json=payload)
    except httpx.TimeoutException:
        raise Undelivered(f"webhook did not answer within {timeout:g}s") from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise Undelivered(f"webhook unreachable: {str(exc).replace(url, '<webhook>')}") from None
    if response.status_code >= 300:
        raise Undelivered(
            f"webhook answered HTTP {response.status_code} {response.reason_phrase}".rstrip()
        )

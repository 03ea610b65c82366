"""Slack Socket Mode: the console dials out to Slack over a WebSocket and receives the
button clicks there, so Slack never has to reach the server (no public URL, no inbound
firewall rule, no signing secret to keep).

Slack authenticates the connection itself with the app-level token (``xapp-…``, from
$SLACK_APP_TOKEN, never a command-line option); each ``interactive`` envelope is
acknowledged at once and its payload handed to `Console.slack_block_actions`, the very
handler a signed /slack/actions request reaches: same identity mapping, same quorum,
same operator-action path. The client is slack_sdk's built-in one (no dependency beyond
slack_sdk, in the ``serve`` extra); it runs in its own threads and reconnects by itself,
so every click is carried over to the server's event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from runbook_engine.serve.app import Console

#: Environment variable holding the Slack app-level token that opens the connection.
APP_TOKEN_ENV = "SLACK_APP_TOKEN"
#: Environment variable pointing the Web API elsewhere (a stand-in in tests).
API_URL_ENV = "RUNBOOK_SLACK_API_URL"

log = logging.getLogger(__name__)


class SocketModeListener:
    """One Socket Mode connection feeding `Console.slack_block_actions`."""

    def __init__(
        self, console: Console, app_token: str, api_url: str, loop: asyncio.AbstractEventLoop
    ) -> None:
        from slack_sdk import WebClient
        from slack_sdk.socket_mode import SocketModeClient

        self.console = console
        self.loop = loop
        self.client = SocketModeClient(
            app_token=app_token, web_client=WebClient(base_url=api_url), logger=log
        )
        self.client.socket_mode_request_listeners.append(self._on_request)

    def connect(self) -> None:
        """Blocking: asks ``apps.connections.open`` for a URL and opens the WebSocket."""
        self.client.connect()

    def close(self) -> None:
        self.client.close()

    def _on_request(self, client: Any, request: Any) -> None:
        """Runs on a slack_sdk worker thread. Slack resends an envelope that is not
        acknowledged within 3 seconds, so acknowledge first, then vote."""
        from slack_sdk.socket_mode.response import SocketModeResponse

        client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
        payload = request.payload
        if request.type != "interactive" or not isinstance(payload, dict):
            return
        if payload.get("type") != "block_actions":
            return
        future = asyncio.run_coroutine_threadsafe(self._handle(payload), self.loop)
        future.add_done_callback(_log_failure)

    async def _handle(self, payload: dict[str, Any]) -> None:
        answer = await self.console.slack_block_actions(payload)
        url = payload.get("response_url")
        if isinstance(answer, JSONResponse) and url:
            # Over HTTP the refusal is the response body; here it goes to response_url.
            await _post(str(url), bytes(answer.body))


async def _post(url: str, body: bytes) -> None:
    import httpx

    try:
        async with httpx.AsyncClient(timeout=10.0) as client:
            await client.post(url, content=body, headers={"Content-Type": "application/json"})
    except httpx.HTTPError:
        return


def _log_failure(future: Any) -> None:
    error = future.exception()
    if error is not None:
        log.error("Slack Socket Mode click not handled: %s", type(error).__name__)


def socket_mode_lifespan(
    console: Console, app_token: str, api_url: str
) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    """Open the connection when the server starts, close it when it stops."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        listener = SocketModeListener(console, app_token, api_url, asyncio.get_running_loop())
        await run_in_threadpool(listener.connect)
        try:
            yield
        finally:
            await run_in_threadpool(listener.close)

    return lifespan

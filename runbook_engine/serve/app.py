"""The console's routes. Every page needs a login (401 otherwise); every POST needs
the session's CSRF token (403 otherwise); a vote needs a user the gate accepts (403
otherwise) and goes through `answer_gate`, the operator-action path `resume` uses."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from runbook_engine import slack
from runbook_engine.engine.approvals import voter_refused
from runbook_engine.engine.votes import VoteRequest, VoteResult, answer_gate
from runbook_engine.errors import RunbookError, RunError
from runbook_engine.identity import Identity
from runbook_engine.journal import Journal
from runbook_engine.journal.events import RunFinished, decode
from runbook_engine.serve.sessions import COOKIE, LIFETIME, Session, SessionStore, csrf_ok
from runbook_engine.serve.supervisor import Supervisor
from runbook_engine.serve.users import Users, load_users
from runbook_engine.serve.views import GateView, run_list, run_page

#: Environment variable holding the Slack app's signing secret (never an option:
#: a command line is visible in ps).
SLACK_SECRET_ENV = "RUNBOOK_SLACK_SIGNING_SECRET"
#: Seconds between two looks at a journal while an event stream is open.
POLL = 0.25
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class ServeConfig:
    """``proxy_header``: trust this request header as the logged-in user (only behind
    a reverse proxy that sets it and strips it from clients); off unless given."""

    runs_dir: Path
    users_file: Path | None = None
    proxy_header: str | None = None
    tls: bool = False
    workdir: Path = field(default_factory=Path.cwd)
    slack_signing_secret: str | None = None
    #: Set: receive Slack's button clicks over Socket Mode with this app-level token.
    slack_app_token: str | None = None
    slack_api_url: str = "https://slack.com/api/"

    @classmethod
    def from_environment(cls, socket_mode: bool = False, **values: Any) -> ServeConfig:
        """Secrets come from the environment only; ``socket_mode`` needs SLACK_APP_TOKEN."""
        from runbook_engine.serve import socket_mode as sm

        token = os.environ.get(sm.APP_TOKEN_ENV) or None
        if socket_mode and token is None:
            raise RunbookError(
                f"--slack-socket-mode needs the app-level token in ${sm.APP_TOKEN_ENV}"
            )
        return cls(
            slack_signing_secret=os.environ.get(SLACK_SECRET_ENV) or None,
            slack_app_token=token if socket_mode else None,
            slack_api_url=os.environ.get(sm.API_URL_ENV) or cls.slack_api_url,
            **values,
        )


@dataclass
class Console:
    config: ServeConfig
    users: Users
    sessions: SessionStore
    supervisor: Supervisor
    templates: Environment
    slack_seen: dict[str, float] = field(default_factory=dict)

    # -- who is asking ------------------------------------------------------------

    def session(self, request: Request) -> Session | None:
        found = self.sessions.get(request.cookies.get(COOKIE))
        header = self.config.proxy_header
        if header is None:
            return found
        name = request.headers.get(header)
        if not name or self.users.get(name) is None:
            return None
        if found is not None and found.user == name:
            return found
        token, opened = self.sessions.open(name, method="proxy-header")
        request.state.new_cookie = token
        return opened

    def page(self, request: Request, name: str, status: int = 200, **values: Any) -> Response:
        session = values.pop("session", None)
        body = self.templates.get_template(name).render(
            session=session, csrf=session.csrf if session else "", **values
        )
        response = HTMLResponse(body, status_code=status, headers=HEADERS)
        self.remember(request, response)
        return response

    def remember(self, request: Request, response: Response) -> None:
        token = getattr(request.state, "new_cookie", None)
        if token:
            response.set_cookie(
                COOKIE, token, max_age=int(LIFETIME), httponly=True, samesite="strict",
                secure=self.config.tls, path="/",
            )  # fmt: skip

    def unauthenticated(self, request: Request) -> Response:
        if "text/html" in request.headers.get("accept", ""):
            return self.page(request, "login.html", 401, error=None, next=request.url.path)
        return PlainTextResponse("login required", status_code=401, headers=HEADERS)

    # -- pages ----------------------------------------------------------------------

    async def login_form(self, request: Request) -> Response:
        return self.page(request, "login.html", error=None, next=request.query_params.get("next", "/"))

    async def login(self, request: Request) -> Response:
        form = await request.form()
        name, password = str(form.get("user", "")), str(form.get("password", ""))
        user = await run_in_threadpool(self.users.check_password, name, password)
        target = str(form.get("next") or "/")
        if not target.startswith("/") or target.startswith("//"):
            target = "/"
        if user is None:
            return self.page(request, "login.html", 401, error="wrong user or password", next=target)
        token, _ = self.sessions.open(user.name)
        response = RedirectResponse(target, status_code=303, headers=HEADERS)
        request.state.new_cookie = token
        self.remember(request, response)
        return response

    async def posted(self, request: Request) -> tuple[Session, Any] | Response:
        """The session and form of a POST, or the 401/403 answer: a login and the
        session's CSRF token are needed."""
        session = self.session(request)
        if session is None:
            return self.unauthenticated(request)
        form = await request.form()
        if not csrf_ok(session, str(form.get("csrf", ""))):
            return PlainTextResponse("bad CSRF token", status_code=403, headers=HEADERS)
        return session, form

    async def logout(self, request: Request) -> Response:
        checked = await self.posted(request)
        if isinstance(checked, Response):
            return checked
        self.sessions.close(request.cookies.get(COOKIE))
        response = RedirectResponse("/login", status_code=303, headers=HEADERS)
        response.delete_cookie(COOKIE, path="/")
        return response

    async def runs(self, request: Request) -> Response:
        session = self.session(request)
        if session is None:
            return self.unauthenticated(request)
        listings = await run_in_threadpool(run_list, self.config.runs_dir)
        return self.page(request, "runs.html", session=session, listings=listings)

    async def run(self, request: Request) -> Response:
        session = self.session(request)
        if session is None:
            return self.unauthenticated(request)
        return await self._run_page(request, session, request.path_params["run_id"])

    async def _run_page(
        self, request: Request, session: Session, run_id: str, status: int = 200, error: str | None = None
    ) -> Response:
        try:
            page = await run_in_threadpool(run_page, self.config.runs_dir, run_id)
        except RunError as exc:
            return PlainTextResponse(exc.message, status_code=404, headers=HEADERS)
        return self.page(
            request, "run.html", status, session=session, run=page, error=error,
            resuming=self.supervisor.running(page.run_id), done=request.query_params.get("done"),
        )  # fmt: skip

    async def events(self, request: Request) -> Response:
        """Server-Sent Events: the run's journal lines after ``after`` (or the
        Last-Event-ID), as they are written, until the run finishes."""
        if self.session(request) is None:
            return self.unauthenticated(request)
        try:
            journal = Journal.open(self.config.runs_dir, request.path_params["run_id"])
        except RunError as exc:
            return PlainTextResponse(exc.message, status_code=404, headers=HEADERS)
        start = request.headers.get("last-event-id") or request.query_params.get("after") or "0"
        after = int(start) if start.isdigit() else 0

        async def stream() -> AsyncIterator[str]:
            nonlocal after
            yield ": live\n\n"
            while True:
                fresh = [e for e in await run_in_threadpool(journal.events) if e["seq"] > after]
                for event in fresh:
                    after = int(event["seq"])
                    data = {k: v for k, v in event.items() if k not in ("prev", "hash", "identity")}
                    yield f"id: {after}\ndata: {json.dumps(data, default=str)}\n\n"
                    if isinstance(decode(event), RunFinished):
                        return
                if await request.is_disconnected():
                    return
                await asyncio.sleep(POLL)

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={**HEADERS, "X-Accel-Buffering": "no"}
        )

    async def vote(self, request: Request) -> Response:
        checked = await self.posted(request)
        if isinstance(checked, Response):
            return checked
        session, form = checked
        run_id, step = request.path_params["run_id"], request.path_params["step"]
        action = str(form.get("action", "approve"))
        if action not in ("approve", "reject"):
            return PlainTextResponse("action must be approve or reject", status_code=400, headers=HEADERS)
        inputs = {
            key.removeprefix("input:"): str(value)
            for key, value in form.items()
            if key.startswith("input:") and str(value) != ""
        }
        identity = Identity(name=session.user, method=session.method)
        gate, initiator = await run_in_threadpool(self._gate, run_id, step)
        if gate is not None:
            refused = voter_refused(gate.gate, session.user, action, initiator)
            if refused or any(v.by == session.user for v in gate.votes):
                why = refused or f"{session.user} already voted on this gate"
                return await self._run_page(request, session, run_id, 403, why)
        try:
            result = await self._answer(run_id, VoteRequest(step, identity, action, inputs, "console"))
        except RunbookError as exc:
            status = 409 if "lock" in exc.message else 400
            return await self._run_page(request, session, run_id, status, exc.message)
        done = "late" if result.late else result.action
        response = RedirectResponse(f"/runs/{run_id}?done={done}", status_code=303, headers=HEADERS)
        self.remember(request, response)
        return response

    def _gate(self, run_id: str, step: str) -> tuple[GateView | None, str]:
        """The waiting gate the vote is for, and the run's initiator."""
        try:
            page = run_page(self.config.runs_dir, run_id)
        except RunError:
            return None, ""
        return next((g for g in page.gates if g.step == step), None), page.initiator or ""

    async def _answer(self, run_id: str, request: VoteRequest) -> VoteResult:
        """The vote, then the run continued when the gate is decided (or late)."""
        result = await run_in_threadpool(answer_gate, self.config.runs_dir, run_id, request)
        if result.decided:
            journal = Journal.open(self.config.runs_dir, run_id)
            await self.supervisor.resume(journal.run_id)
        return result

    async def report(self, request: Request) -> Response:
        if self.session(request) is None:
            return self.unauthenticated(request)
        from runbook_engine.report import FORMATS, inputs_from_run_dir, render_report, targets_of

        fmt = request.path_params["fmt"]
        if fmt not in FORMATS:
            return PlainTextResponse(f"format must be one of {', '.join(FORMATS)}", 404, headers=HEADERS)
        try:
            journal = Journal.open(self.config.runs_dir, request.path_params["run_id"])
        except RunError as exc:
            return PlainTextResponse(exc.message, status_code=404, headers=HEADERS)
        events = journal.events()
        inputs = inputs_from_run_dir(journal.dir, journal.meta.get("runbook_sha256"))
        success, budgets = targets_of(events, inputs)
        text = render_report(
            events,
            fmt,
            run_id=journal.run_id,
            success=success,
            budgets=budgets,
            durations=inputs.durations if inputs else frozenset(),
        )
        kinds = {"markdown": "text/markdown", "json": "application/json",
                 "junit": "application/xml", "html": "text/html"}  # fmt: skip
        return Response(text, media_type=f"{kinds[fmt]}; charset=utf-8", headers=HEADERS)

    async def verify(self, request: Request) -> Response:
        if self.session(request) is None:
            return self.unauthenticated(request)
        from runbook_engine.engine.approvals import signature_problems
        from runbook_engine.journal import verify_run

        try:
            journal = Journal.open(self.config.runs_dir, request.path_params["run_id"])
        except RunError as exc:
            return PlainTextResponse(exc.message, status_code=404, headers=HEADERS)
        problems = await run_in_threadpool(verify_run, journal)
        if not problems:
            problems = await run_in_threadpool(signature_problems, journal.events(), journal.run_id)
        return JSONResponse({"intact": not problems, "problems": problems}, headers=HEADERS)

    async def metrics(self, request: Request) -> Response:
        """Prometheus text: runs per runbook and status, gates waiting per runbook
        (run ids and names only, never values or output)."""
        from prometheus_client import CollectorRegistry, Gauge, generate_latest

        listings = await run_in_threadpool(run_list, self.config.runs_dir)
        registry = CollectorRegistry()
        runs = Gauge("runbook_console_runs", "Runs in the runs directory.", ["runbook", "status"], registry=registry)
        gates = Gauge("runbook_console_gates_waiting", "Manual gates waiting for an operator.", ["runbook"], registry=registry)
        for listing in listings:
            runs.labels(listing.row.runbook, listing.row.status).inc()
            gates.labels(listing.row.runbook).inc(len(listing.gates))
        return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ("console.js", "console.css"):
            return PlainTextResponse("not found", status_code=404)
        text = (Path(__file__).parent / "templates" / name).read_text(encoding="utf-8")
        kind = "text/javascript" if name.endswith(".js") else "text/css"
        return Response(text, media_type=kind, headers={**HEADERS, "Cache-Control": "max-age=300"})

    # -- Slack ------------------------------------------------------------------------

    async def slack_actions(self, request: Request) -> Response:
        """Slack's interactivity callback: a signed ``payload`` form field."""
        secret = self.config.slack_signing_secret
        if not secret:
            return PlainTextResponse("Slack is not configured", status_code=404)
        body = await request.body()
        refused = slack.check_request(secret, request.headers, body, self.slack_seen)
        if refused:
            return PlainTextResponse(refused, status_code=401)
        try:
            payload = json.loads(parse_qs(body.decode("utf-8"))["payload"][0])
        except (KeyError, IndexError, ValueError, TypeError):
            return PlainTextResponse("not a block_actions payload", status_code=400)
        return await self.slack_block_actions(payload)

    async def slack_block_actions(self, payload: Any) -> Response:
        """A button click whose origin is already verified (a signed /slack/actions
        request, or a Socket Mode envelope): map the Slack user, vote, update the message."""
        try:
            action = payload["actions"][0]
            target = json.loads(action["value"])
            slack_user = str(payload["user"]["id"])
        except (KeyError, IndexError, ValueError, TypeError):
            return PlainTextResponse("not a block_actions payload", status_code=400)
        user = self.users.by_slack_id(slack_user)
        if user is None:
            return _ephemeral(f"Slack user {slack_user} is not mapped to an approver of this console")
        kind = "reject" if action.get("action_id") == slack.REJECT else "approve"
        identity = Identity(name=user.name, method="slack", evidence={"slack_user": slack_user})
        request_ = VoteRequest(str(target["step"]), identity, kind, {}, "slack")
        try:
            result = await self._answer(str(target["run"]), request_)
        except RunbookError as exc:
            return _ephemeral(f"not recorded: {exc.message}")
        if payload.get("response_url"):
            await _update_message(str(payload["response_url"]), target, result)
        return Response(status_code=200)


def _ephemeral(text: str) -> Response:
    return JSONResponse({"response_type": "ephemeral", "replace_original": False, "text": text})


async def _update_message(url: str, target: Mapping[str, Any], result: VoteResult) -> None:
    """Replace the gate's message with who decided (Slack's ``response_url``)."""
    import httpx

    if result.late:
        outcome = "⌛ answered after the deadline: the gate takes its on_timeout"
    elif result.action == "reject":
        outcome = f"❌ rejected by {result.by}"
    elif result.decided:
        outcome = f"✅ approved by {result.by}"
    else:
        outcome = f"👍 {result.by} approved ({result.approvals} of {result.required})"
    blocks = slack.decided_blocks(str(target["run"]), str(target["step"]), "Approval", outcome)
    try:
        async with httpx.AsyncClient(timeout=10.0) as client:
            await client.post(url, json={"replace_original": True, "text": outcome, "blocks": blocks})
    except httpx.HTTPError:
        return


def create_app(config: ServeConfig) -> Starlette:
    console = Console(
        config=config,
        users=load_users(config.users_file),
        sessions=SessionStore(),
        supervisor=Supervisor(config.runs_dir, config.workdir),
        templates=Environment(
            loader=PackageLoader("runbook_engine.serve", "templates"),
            autoescape=select_autoescape(["html"]),
        ),
    )
    routes = [
        Route("/", console.runs),
        Route("/login", console.login_form, methods=["GET"]),
        Route("/login", console.login, methods=["POST"]),
        Route("/logout", console.logout, methods=["POST"]),
        Route("/runs/{run_id}", console.run),
        Route("/runs/{run_id}/events", console.events),
        Route("/runs/{run_id}/gates/{step}", console.vote, methods=["POST"]),
        Route("/runs/{run_id}/report/{fmt}", console.report),
        Route("/runs/{run_id}/verify", console.verify),
        Route("/metrics", console.metrics),
        Route("/static/{name}", console.static),
        Route("/slack/actions", console.slack_actions, methods=["POST"]),
    ]
    lifespan = None
    if config.slack_app_token:
        from runbook_engine.serve.socket_mode import socket_mode_lifespan

        lifespan = socket_mode_lifespan(console, config.slack_app_token, config.slack_api_url)
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.console = console
    return app

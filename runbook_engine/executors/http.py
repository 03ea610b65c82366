"""The ``http`` executor: smoke tests and API calls with httpx, on one URL or fanned
out across hosts (``url: http://{{ host.address }}:8080/v1/health``).

TLS is verified by default and redirects are not followed unless asked: a smoke test
that silently lands on a login page must not pass. Bodies are read up to a bound so a
misbehaving endpoint cannot flood the journal.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from runbook_engine.errors import ExecutorError
from runbook_engine.executors.base import ExecutorBase, Host, NamedCheck, Result, StepCall
from runbook_engine.executors.fanout import ROLLOUT_KEYS, Rollout, fan_out
from runbook_engine.executors.wait import DURATION_SCHEMA, to_seconds

if TYPE_CHECKING:
    import httpx

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_BODY = 1024 * 1024
DEFAULT_CONCURRENCY = 10

SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Send an HTTP request (to each host when the step has hosts) and report status, JSON and latency.",
    "additionalProperties": False,
    "required": ["url"],
    "properties": {
        "url": {
            "type": "string",
            "description": "Request URL; may use {{ host.address }} when the step has hosts.",
        },
        "method": {
            "type": "string",
            "description": "HTTP method (default GET).",
            "enum": [
                "GET",
                "HEAD",
                "POST",
                "PUT",
                "PATCH",
                "DELETE",
                "OPTIONS",
                "get",
                "head",
                "post",
                "put",
                "patch",
                "delete",
                "options",
            ],
        },
        "headers": {
            "type": "object",
            "description": "Request headers.",
            "additionalProperties": {"type": "string"},
        },
        "query": {
            "type": "object",
            "description": "Query-string parameters, URL-encoded for you.",
            "additionalProperties": {"type": ["string", "number", "boolean"]},
        },
        "json": {"description": "Request body sent as JSON (sets Content-Type: application/json)."},
        "body": {"type": "string", "description": "Raw request body (use json for JSON)."},
        "auth": {
            "type": "object",
            "description": "Credentials, from secret vars: {basic: {username, password}} or {bearer: TOKEN}.",
            "additionalProperties": False,
            "properties": {
                "basic": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["username", "password"],
                    "properties": {
                        "username": {"type": "string", "description": "User name."},
                        "password": {
                            "type": "string",
                            "description": "Password; use a secret var.",
                        },
                    },
                },
                "bearer": {"type": "string", "description": "Bearer token; use a secret var."},
            },
            "minProperties": 1,
            "maxProperties": 1,
        },
        "verify": {
            "type": "boolean",
            "description": "Verify the server's TLS certificate (default true).",
        },
        "ca_file": {
            "type": "string",
            "description": "PEM file of the CA that signed the server certificate.",
        },
        "client_cert": {"type": "string", "description": "PEM client certificate for mutual TLS."},
        "client_key": {
            "type": "string",
            "description": "PEM key of client_cert (if not in the same file).",
        },
        "timeout": {**DURATION_SCHEMA, "description": "Whole-request timeout (default 30s)."},
        "follow_redirects": {
            "type": "boolean",
            "description": "Follow 3xx redirects (default false).",
        },
        "max_body": {
            "type": "integer",
            "minimum": 0,
            "description": f"Bytes of the response body kept (default {DEFAULT_MAX_BODY}); `truncated` says when cut.",
        },
        "ok_status": {
            "type": "array",
            "items": {"type": "integer"},
            "description": "Statuses that count as success (default: any status below 400).",
        },
        "concurrency": {
            "type": "integer",
            "minimum": 1,
            "description": f"Hosts requested at once when fanning out (default {DEFAULT_CONCURRENCY}).",
        },
    },
    "not": {"required": ["json", "body"]},
}

_RESPONSE_FIELDS = {
    "status": "int",
    "headers": "map",
    "json": "json",
    "json_error": "str",
    "text": "str",
    "truncated": "bool",
    "latency": "duration",
    "url": "str",
}


def _all_ok(fields: Mapping[str, Any], hosts: Mapping[str, Mapping[str, Any]]) -> bool:
    return fields.get("failed") == 0


#: Characters a value keeps in the part of a URL before its query: the path's own
#: separators. ``?``, ``#``, ``%``, spaces and the rest are percent-encoded.
_PATH_SAFE = "/:@!$&'()*+,;=-._~[]"


def url_with_values(call: StepCall, template: str, host: Host | None) -> str:
    """The URL with every interpolated value percent-encoded for where it stands: in
    the query or fragment completely (``&``, ``=`` and ``#`` stay data), before them
    everything but the path's separators (a value may hold a base URL or a path)."""
    from urllib.parse import quote

    command = call.render_command(template, host)
    if not command.values:
        return command.script

    def reference(index: int, context: str, before: str) -> str:
        value = command.values[index]
        in_query = "?" in before or "#" in before
        return quote(value, safe="" if in_query else _PATH_SAFE)

    return command.refer(reference)


class HttpExecutor(ExecutorBase):
    """One ``httpx.AsyncClient`` per TLS configuration, kept for the whole run."""

    key: ClassVar[str] = "http"
    schema: ClassVar[dict[str, Any]] = SCHEMA
    fields: ClassVar[dict[str, str]] = {
        **_RESPONSE_FIELDS,
        "unreachable": "int",
        "failed": "int",
        "stopped": "str",
    }
    host_fields: ClassVar[dict[str, str]] = {
        **_RESPONSE_FIELDS,
        "unreachable": "bool",
        "failed": "bool",
        "skipped": "bool",
        "error": "str",
    }
    rollout_keys: ClassVar[frozenset[str]] = ROLLOUT_KEYS
    checks: ClassVar[dict[str, NamedCheck]] = {
        "all endpoints healthy": NamedCheck(
            "all endpoints healthy", "every endpoint answered with a success status", _all_ok
        )
    }

    def __init__(self) -> None:
        self._clients: dict[tuple[Any, ...], httpx.AsyncClient] = {}

    async def run(self, call: StepCall) -> Result:
        started = time.monotonic()
        targets: list[Host | None] = list(call.hosts) or [None]
        specs = [self._spec(call, host) for host in targets]
        if not specs[0].get("verify", True):
            call.log("TLS verification is off for this step: certificates are not checked", None)
        stopped = None
        if call.hosts:
            by_host = {h.name: spec for h, spec in zip(call.hosts, specs, strict=True)}
            forks = {"forks": int(specs[0].get("concurrency", DEFAULT_CONCURRENCY))}
            outcome = await fan_out(
                call.hosts,
                Rollout.from_options(forks, call.options),
                lambda host: self._answer(call, by_host[host.name]),
                _not_run,
            )
            answers = [outcome.hosts[h.name] for h in call.hosts]
            stopped = outcome.stopped
        else:
            answers = [await self._answer(call, specs[0])]
        failed = [i for i, a in enumerate(answers) if a["failed"]]
        worst = next(
            (i for i in failed if answers[i]["status"] is None), failed[0] if failed else 0
        )
        top = {name: answers[worst][name] for name in _RESPONSE_FIELDS}
        top["latency"] = max(a["latency"] for a in answers)
        top["unreachable"] = sum(1 for a in answers if a["unreachable"])
        top["failed"] = len(failed)
        top["stopped"] = stopped
        hosts: dict[str, dict[str, Any]] = {}
        if call.hosts:
            hosts = {
                host.name: {k: v for k, v in a.items() if k != "ok"}
                for host, a in zip(call.hosts, answers, strict=True)
            }
        error = None
        if failed:
            reasons = [
                (f"{call.hosts[i].name}: " if call.hosts else "") + str(answers[i]["error"])
                for i in failed[:5]
            ]
            more = f" (and {len(failed) - 5} more)" if len(failed) > 5 else ""
            prefix = f"{len(failed)} of {len(answers)} hosts failed: " if call.hosts else ""
            error = prefix + "; ".join(reasons) + more
            if stopped:
                error += f"; rollout stopped: {stopped}"
        return Result(
            ok=not failed and stopped is None, fields=top, hosts=hosts, error=error, duration=time.monotonic() - started
        )

    def _spec(self, call: StepCall, host: Host | None) -> Mapping[str, Any]:
        raw = call.spec
        if not isinstance(raw, Mapping) or not raw.get("url"):
            raise ExecutorError("http step needs a mapping with a url")
        spec = dict(call.render({k: v for k, v in raw.items() if k != "url"}, host))
        spec["url"] = url_with_values(call, str(raw["url"]), host)
        return spec

    async def _client(self, call: StepCall, spec: Mapping[str, Any]) -> httpx.AsyncClient:
        try:
            import httpx
        except ImportError as exc:  # pragma: no cover - httpx is a core dependency
            raise ExecutorError("the http executor needs httpx", hint="pip install httpx") from exc
        verify = bool(spec.get("verify", True))
        files = tuple(
            self._path(call, spec.get(k)) for k in ("ca_file", "client_cert", "client_key")
        )
        key = (verify, *files)
        if key not in self._clients:
            import ssl  # here, not at import: lint reads this module for its schema only

            context: ssl.SSLContext | bool
            try:
                if verify:
                    context = ssl.create_default_context(cafile=files[0])
                else:
                    context = ssl.create_default_context()
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                if files[1]:
                    context.load_cert_chain(files[1], files[2])
            except (OSError, ssl.SSLError) as exc:
                raise ExecutorError(f"cannot load TLS files for the http step: {exc}") from None
            self._clients[key] = httpx.AsyncClient(verify=context)
        return self._clients[key]

    @staticmethod
    def _path(call: StepCall, value: Any) -> str | None:
        if not value:
            return None
        path = Path(str(value))
        return str(path if path.is_absolute() else call.workdir / path)

    async def _answer(self, call: StepCall, spec: Mapping[str, Any]) -> dict[str, Any]:
        """One request's fields, with the verdict words the rollout judges by."""
        answer = await self._request(call, spec)
        return {**answer, "failed": not answer["ok"], "skipped": False}

    async def _request(self, call: StepCall, spec: Mapping[str, Any]) -> dict[str, Any]:
        import httpx

        client = await self._client(call, spec)
        timeout = (
            to_seconds(spec["timeout"], "http timeout")
            if "timeout" in spec
            else call.timeout or DEFAULT_TIMEOUT
        )
        max_body = int(spec.get("max_body", DEFAULT_MAX_BODY))
        headers = {str(k): str(v) for k, v in (spec.get("headers") or {}).items()}
        auth = spec.get("auth") or {}
        basic = None
        if "bearer" in auth:
            headers["Authorization"] = f"Bearer {auth['bearer']}"
        elif "basic" in auth:
            basic = httpx.BasicAuth(str(auth["basic"]["username"]), str(auth["basic"]["password"]))
        url = str(spec["url"])
        answer = _no_answer(call.redact(url))
        started = time.perf_counter()
        try:
            async with client.stream(
                str(spec.get("method", "GET")).upper(),
                url,
                headers=headers,
                params=spec.get("query"),
                json=spec.get("json"),
                content=spec.get("body"),
                auth=basic,
                timeout=timeout,
                follow_redirects=bool(spec.get("follow_redirects", False)),
            ) as response:
                body, truncated = await _read_bounded(response, max_body)
                answer["latency"] = time.perf_counter() - started
                answer["status"] = response.status_code
                answer["url"] = call.redact(str(response.url))
                answer["headers"] = {k: call.redact(v) for k, v in response.headers.items()}
                text = body.decode(response.encoding or "utf-8", errors="replace")
                answer["truncated"] = truncated
                answer["text"] = call.redact(
                    text + (f"\n… [truncated after {max_body} bytes]" if truncated else "")
                )
                answer["json"], answer["json_error"] = _json(
                    text, response.headers.get("content-type", ""), truncated
                )
                answer["json"] = _redact_json(answer["json"], call)
                answer["ok"] = _status_ok(response.status_code, spec.get("ok_status"))
                if not answer["ok"]:
                    answer["error"] = (
                        f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
                    )
        except httpx.TimeoutException as exc:
            answer["latency"] = time.perf_counter() - started
            answer["unreachable"] = isinstance(exc, httpx.ConnectTimeout)
            answer["error"] = f"no answer within {timeout:g}s ({type(exc).__name__})"
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            answer["latency"] = time.perf_counter() - started
            answer["unreachable"] = isinstance(exc, httpx.ConnectError)
            answer["error"] = call.redact(str(exc) or type(exc).__name__)
        return answer

    def describe(self, call: StepCall) -> list[str]:
        lines = []
        targets: list[Host | None] = list(call.hosts) or [None]
        for host in targets:
            spec = self._spec(call, host)
            line = f"{str(spec.get('method', 'GET')).upper()} {spec['url']}"
            if "json" in spec:
                line += f" json={json.dumps(spec['json'], sort_keys=True, default=str)}"
            elif "body" in spec:
                line += f" body={len(str(spec['body']))} bytes"
            lines.append(call.redact(line))
        return lines

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()


def _no_answer(url: str) -> dict[str, Any]:
    """A host's fields before (or without) a response: the one shape every path fills."""
    return {
        "ok": False,
        "status": None,
        "headers": {},
        "json": None,
        "json_error": None,
        "text": "",
        "truncated": False,
        "latency": 0.0,
        "url": url,
        "unreachable": False,
        "error": None,
    }


def _not_run(host: Host, why: str) -> dict[str, Any]:
    """A host the rollout stopped before: no request was sent."""
    return {**_no_answer(""), "error": f"not run: {why}", "failed": False, "skipped": True}


async def _read_bounded(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks)[:limit], True
    return b"".join(chunks), False


def _json(text: str, content_type: str, truncated: bool) -> tuple[Any, str | None]:
    """The parsed body when the server says it is JSON (or it plainly looks like it)."""
    declared = "json" in content_type.lower()
    if not declared and not text.lstrip().startswith(("{", "[")):
        return None, None
    if truncated:
        return None, "body truncated before the end; JSON not parsed" if declared else None
    try:
        return json.loads(text), None
    except ValueError as exc:
        return None, f"invalid JSON: {exc}" if declared else None


def _redact_json(value: Any, call: StepCall) -> Any:
    if isinstance(value, str):
        return call.redact(value)
    if isinstance(value, list):
        return [_redact_json(v, call) for v in value]
    if isinstance(value, dict):
        return {k: _redact_json(v, call) for k, v in value.items()}
    return value


def _status_ok(status: int, ok_status: Any) -> bool:
    if ok_status:
        return status in {int(s) for s in ok_status}
    return status < 400

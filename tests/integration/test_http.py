"""The http executor against real HTTP(S) servers on free 127.0.0.1 ports.

The TLS cases use a CA and a server certificate generated at test time, so "verify by
default" and "custom CA" are checked against a real handshake.
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from tls_certificates import certificates

from runbook_engine.executors.base import Host, Result, StepCall
from runbook_engine.executors.http import HttpExecutor
from runbook_engine.testing import make_call

pytestmark = pytest.mark.service("http")

TOKEN = "tok-9f8e7d6c5b4a"


class Handler(BaseHTTPRequestHandler):
    """Routes of a tiny application: health, ingest and a few ways to misbehave."""

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _send(
        self, status: int, body: bytes, content_type: str = "application/json", **headers: str
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/v1/health":
            self._send(200, b'{"status": "healthy", "version": "v2.4.0"}', X_App="demo")
        elif path == "/echo":
            echoed = {
                "query": self.path.partition("?")[2],
                "auth": self.headers.get("Authorization"),
            }
            self._send(200, json.dumps(echoed).encode())
        elif path == "/slow":
            time.sleep(3)
            self._send(200, b"{}")
        elif path == "/broken":
            self._send(500, b'{"error": "database unavailable"}')
        elif path == "/invalid":
            self._send(200, b'{"status": "heal', "application/json")
        elif path == "/moved":
            self._send(302, b"", "text/plain", Location="/v1/health")
        elif path == "/big":
            self._send(200, b"x" * 5000, "text/plain")
        elif path == "/secure":
            expected = "Basic " + base64.b64encode(b"ops:" + TOKEN.encode()).decode()
            if self.headers.get("Authorization") == expected:
                self._send(200, b'{"ok": true}')
            else:
                self._send(401, b'{"ok": false}')
        else:
            self._send(404, b"not found", "text/plain")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        payload = json.loads(self.rfile.read(length) or b"null")
        answer = {
            "status": "accepted",
            "received": payload,
            "type": self.headers.get("Content-Type"),
        }
        self._send(200 if self.path == "/v1/ingest" else 404, json.dumps(answer).encode())


def serve(context: ssl.SSLContext | None = None) -> tuple[ThreadingHTTPServer, threading.Thread]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    return server, thread


@pytest.fixture
def base_url() -> Iterator[str]:
    server, thread = serve()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def run(spec: dict[str, Any], **kwargs: Any) -> Result:
    async def go() -> Result:
        executor = HttpExecutor()
        try:
            return await executor.run(StepCall("smoke", spec, **kwargs))
        finally:
            await executor.close()

    return asyncio.run(go())


def test_health_json_status_headers_latency(base_url: str) -> None:
    result = run({"url": f"{base_url}/v1/health"})
    assert result.ok, result.error
    assert result.fields["status"] == 200
    assert result.fields["json"] == {"status": "healthy", "version": "v2.4.0"}
    assert result.fields["json_error"] is None
    assert result.fields["headers"]["x-app"] == "demo"
    assert result.fields["latency"] > 0
    assert result.fields["failed"] == 0 and result.fields["unreachable"] == 0
    assert HttpExecutor.checks["all endpoints healthy"].test(result.fields, result.hosts)


def test_post_json_as_the_seed_ingest_smoke_test(base_url: str) -> None:
    result = run({"method": "POST", "url": f"{base_url}/v1/ingest", "json": {"test": "data"}})
    assert result.fields["json"]["status"] == "accepted"
    assert result.fields["json"]["received"] == {"test": "data"}
    assert result.fields["json"]["type"] == "application/json"


def test_server_error_fails_the_step_but_keeps_the_body(base_url: str) -> None:
    result = run({"url": f"{base_url}/broken"})
    assert not result.ok
    assert result.fields["status"] == 500
    assert result.fields["json"] == {"error": "database unavailable"}
    assert result.error == "HTTP 500 Internal Server Error"
    assert not HttpExecutor.checks["all endpoints healthy"].test(result.fields, result.hosts)


def test_ok_status_overrides_the_default_verdict(base_url: str) -> None:
    assert run({"url": f"{base_url}/nowhere", "ok_status": [404]}).ok
    assert not run({"url": f"{base_url}/v1/health", "ok_status": [204]}).ok


def test_invalid_json_is_null_with_an_error_field(base_url: str) -> None:
    result = run({"url": f"{base_url}/invalid"})
    assert result.ok
    assert result.fields["json"] is None
    assert result.fields["json_error"].startswith("invalid JSON")
    assert result.fields["text"] == '{"status": "heal'


def test_slow_endpoint_times_out(base_url: str) -> None:
    result = run({"url": f"{base_url}/slow", "timeout": "300ms"})
    assert not result.ok
    assert result.fields["status"] is None
    assert "no answer within 0.3s" in (result.error or "")
    assert result.fields["unreachable"] == 0  # it answered the connection, just not in time


def test_redirects_are_not_followed_unless_asked(base_url: str) -> None:
    held = run({"url": f"{base_url}/moved"})
    assert held.fields["status"] == 302
    assert held.fields["headers"]["location"] == "/v1/health"
    followed = run({"url": f"{base_url}/moved", "follow_redirects": True})
    assert followed.fields["status"] == 200
    assert followed.fields["url"].endswith("/v1/health")


def test_body_is_bounded_and_truncation_marked(base_url: str) -> None:
    result = run({"url": f"{base_url}/big", "max_body": 1000})
    assert result.fields["truncated"] is True
    assert result.fields["text"].startswith("x" * 1000)
    assert result.fields["text"].endswith("[truncated after 1000 bytes]")


def test_query_and_bearer_token_are_sent_and_the_token_redacted(base_url: str) -> None:
    result = run(
        {
            "url": f"{base_url}/echo",
            "query": {"since": "5m", "q": "a b"},
            "auth": {"bearer": TOKEN},
        },
        redact=lambda text: text.replace(TOKEN, "***"),
    )
    assert result.fields["json"]["query"] == "since=5m&q=a+b"
    assert (
        result.fields["json"]["auth"] == "Bearer ***"
    )  # the server saw the token; the report does not
    assert TOKEN not in result.fields["text"]


def test_basic_auth(base_url: str) -> None:
    assert run(
        {"url": f"{base_url}/secure", "auth": {"basic": {"username": "ops", "password": TOKEN}}}
    ).ok
    assert run({"url": f"{base_url}/secure"}).fields["status"] == 401


def test_fan_out_renders_the_url_per_host_and_aggregates(base_url: str, tmp_path: Path) -> None:
    port = base_url.rsplit(":", 1)[1]
    hosts = (
        Host("app-01", "127.0.0.1", vars={"http_port": port, "path": "/v1/health"}),
        Host("app-02", "127.0.0.1", vars={"http_port": port, "path": "/broken"}),
        Host(
            "app-03", "127.0.0.1", vars={"http_port": "1", "path": "/v1/health"}
        ),  # nothing listens
    )
    call = make_call(
        {
            "url": "http://{{ host.address }}:{{ host.vars.http_port }}{{ host.vars.path }}",
            "timeout": "5s",
        },
        hosts,
        workdir=tmp_path,
    )

    async def go() -> Result:
        executor = HttpExecutor()
        try:
            return await executor.run(call)
        finally:
            await executor.close()

    result = asyncio.run(go())
    assert not result.ok
    assert result.hosts["app-01"]["status"] == 200
    assert result.hosts["app-01"]["json"]["version"] == "v2.4.0"
    assert result.hosts["app-02"]["status"] == 500
    assert result.hosts["app-03"]["unreachable"] is True
    assert result.hosts["app-03"]["status"] is None
    assert result.fields["failed"] == 2
    assert result.fields["unreachable"] == 1
    assert result.fields["status"] is None  # the worst host: no answer at all
    assert (result.error or "").startswith("2 of 3 hosts failed: app-02: HTTP 500")
    plan = HttpExecutor().describe(call)
    assert plan == [
        f"GET http://127.0.0.1:{port}/v1/health",
        f"GET http://127.0.0.1:{port}/broken",
        "GET http://127.0.0.1:1/v1/health",
    ]


# --- TLS ------------------------------------------------------------------------------


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    ca, cert, key = certificates(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server, thread = serve(context)
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", ca
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_tls_is_verified_by_default(tls_server: tuple[str, Path]) -> None:
    url, _ = tls_server
    result = run({"url": f"{url}/v1/health"})
    assert not result.ok
    assert "CERTIFICATE_VERIFY_FAILED" in (result.error or "")
    assert result.fields["unreachable"] == 1


def test_tls_with_the_custom_ca(tls_server: tuple[str, Path], tmp_path: Path) -> None:
    url, ca = tls_server
    result = run({"url": f"{url}/v1/health", "ca_file": ca.name}, workdir=ca.parent)
    assert result.ok, result.error
    assert result.fields["json"]["status"] == "healthy"


def test_tls_verification_can_be_switched_off_and_says_so(tls_server: tuple[str, Path]) -> None:
    url, _ = tls_server
    lines: list[str] = []
    result = run(
        {"url": f"{url}/v1/health", "verify": False}, log=lambda line, host=None: lines.append(line)
    )
    assert result.ok, result.error
    assert any("TLS verification is off" in line for line in lines)


def test_schema_is_a_valid_draft_2020_12_fragment() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(HttpExecutor.schema)
    validator = jsonschema.Draft202012Validator(HttpExecutor.schema)
    assert validator.is_valid(
        {"url": "http://x/", "method": "POST", "json": {"a": 1}, "timeout": "5s"}
    )
    assert not validator.is_valid({"url": "http://x/", "json": {}, "body": "x"})
    assert not validator.is_valid({"url": "http://x/", "retry": 3})


def test_values_in_the_url_are_percent_encoded_for_where_they_stand(base_url: str) -> None:
    """A value in the query could add parameters (`&admin=1`) or cut the URL (`#`)."""
    from urllib.parse import parse_qs

    call = make_call(
        {"url": "{{ base }}/echo?q={{ q }}&page={{ page }}"},
        values={"base": base_url, "q": "a b&admin=1#frag", "page": "2?x=/"},
    )
    result = asyncio.run(HttpExecutor().run(call))
    assert result.ok, result.error
    query = result.fields["json"]["query"]
    assert parse_qs(query) == {"q": ["a b&admin=1#frag"], "page": ["2?x=/"]}

"""The prometheus executor against a local HTTP server that answers like the Prometheus
HTTP API (``/api/v1/query``, response shapes copied from the Prometheus documentation).

Run without installing: ``PYTHONPATH=plugins/runbook-plugin-prometheus/src pytest
plugins/runbook-plugin-prometheus/tests``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from runbook_plugin_prometheus import PrometheusExecutor

from runbook_engine.executors.base import Executor, Result, StepCall

ANSWERS: dict[str, tuple[int, dict[str, Any]]] = {
    "up": (
        200,
        {
            "status": "success",
            "data": {
                "resultType": "vector",
                "result": [
                    {
                        "metric": {"__name__": "up", "instance": "app-01:8080"},
                        "value": [1764547200, "1"],
                    },
                    {
                        "metric": {"__name__": "up", "instance": "app-02:8080"},
                        "value": [1764547200, "0"],
                    },
                ],
            },
        },
    ),
    "scalar(42)": (
        200,
        {"status": "success", "data": {"resultType": "scalar", "result": [1764547200, "42"]}},
    ),
    "absent_metric": (200, {"status": "success", "data": {"resultType": "vector", "result": []}}),
    "0/0": (
        200,
        {
            "status": "success",
            "data": {
                "resultType": "vector",
                "result": [{"metric": {}, "value": [1764547200, "NaN"]}],
            },
            "warnings": ["division by zero"],
        },
    ),
    "rate(x[": (
        400,
        {
            "status": "error",
            "errorType": "bad_data",
            "error": "1:8: parse error: unclosed left bracket",
        },
    ),
}


class FakePrometheus(BaseHTTPRequestHandler):
    seen: list[dict[str, list[str]]] = []

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        type(self).seen.append({**query, "auth": [self.headers.get("Authorization", "")]})
        status, body = ANSWERS.get(
            query["query"][0], (404, {"status": "error", "error": "unknown"})
        )
        if parts.path != "/api/v1/query":
            status, body = 404, {}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def prometheus() -> Iterator[tuple[str, type[FakePrometheus]]]:
    handler = type("Handler", (FakePrometheus,), {"seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def run(spec: dict[str, Any], **kwargs: Any) -> Result:
    return asyncio.run(PrometheusExecutor().run(StepCall("probe", spec, **kwargs)))


@pytest.mark.service("http")
def test_vector_answer_gives_value_and_samples(prometheus: tuple[str, Any]) -> None:
    url, handler = prometheus
    result = run({"url": url, "query": "up", "timeout": "5s", "bearer": "tok"}, redact=lambda t: t)
    assert result.ok, result.error
    assert result.fields["value"] == 1.0
    assert result.fields["count"] == 2
    assert result.fields["samples"][1] == {
        "metric": {"__name__": "up", "instance": "app-02:8080"},
        "value": 0.0,
    }
    assert handler.seen == [{"query": ["up"], "timeout": ["5s"], "auth": ["Bearer tok"]}]
    assert PrometheusExecutor.checks["query returns data"].test(result.fields, {})


@pytest.mark.service("http")
def test_scalar_empty_and_nan_answers(prometheus: tuple[str, Any]) -> None:
    url, _ = prometheus
    assert run({"url": url, "query": "scalar(42)"}).fields["value"] == 42.0
    empty = run({"url": url, "query": "absent_metric"})
    assert empty.ok and empty.fields["value"] is None and empty.fields["count"] == 0
    assert not PrometheusExecutor.checks["query returns data"].test(empty.fields, {})
    nan = run({"url": url, "query": "0/0"})
    assert nan.fields["value"] is None and nan.fields["warnings"] == ["division by zero"]


@pytest.mark.service("http")
def test_bad_query_fails_with_prometheus_own_words(prometheus: tuple[str, Any]) -> None:
    url, _ = prometheus
    result = run({"url": url, "query": "rate(x["})
    assert not result.ok
    assert (
        result.error
        == "Prometheus refused the query: bad_data: 1:8: parse error: unclosed left bracket"
    )


def test_unreachable_prometheus_fails_the_step() -> None:
    result = run({"url": "http://127.0.0.1:1", "query": "up", "timeout": "2s"})
    assert not result.ok and "unreachable" in (result.error or "")


def test_the_class_is_a_complete_executor() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    assert isinstance(PrometheusExecutor(), Executor)
    jsonschema.Draft202012Validator.check_schema(PrometheusExecutor.schema)
    assert all(
        kind in {"number", "list", "int", "str"} for kind in PrometheusExecutor.fields.values()
    )
    assert not jsonschema.Draft202012Validator(PrometheusExecutor.schema).is_valid(
        {"url": "x", "query": "up", "q": 1}
    )


def test_entry_point_is_declared() -> None:
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    entry = project["project"]["entry-points"]["runbook_engine.executors"]["prometheus"]
    module, _, name = entry.partition(":")
    assert (module, name) == (PrometheusExecutor.__module__, PrometheusExecutor.__name__)

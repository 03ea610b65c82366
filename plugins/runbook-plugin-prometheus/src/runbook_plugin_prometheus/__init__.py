"""A runbook-engine executor that asks Prometheus a PromQL question.

It turns the seed's "check the monitoring dashboard" items (error rate, queue depth,
response times) into steps whose answers predicates can judge::

    - id: error-rate
      prometheus:
        url: "{{ prometheus_url }}"
        query: sum(rate(http_requests_total{code=~"5.."}[5m]))
      expect: value < 0.01

Installed as a plugin through the ``runbook_engine.executors`` entry point, exactly
like the built-in executors.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from runbook_engine.durations import parse_duration
from runbook_engine.errors import ExecutorError
from runbook_engine.executors.base import ExecutorBase, NamedCheck, Result, StepCall

__all__ = ["PrometheusExecutor"]

DEFAULT_TIMEOUT = 10.0


def _returns_data(fields: Mapping[str, Any], hosts: Mapping[str, Mapping[str, Any]]) -> bool:
    return bool(fields.get("count"))


def _number(text: Any) -> float | None:
    """Prometheus sends sample values as strings; NaN and ±Inf become null (not JSON)."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


class PrometheusExecutor(ExecutorBase):
    """Runs one instant query against the Prometheus HTTP API (``/api/v1/query``)."""

    key: ClassVar[str] = "prometheus"
    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "description": "Evaluate a PromQL instant query; the first sample is `value`, all are `samples`.",
        "additionalProperties": False,
        "required": ["url", "query"],
        "properties": {
            "url": {
                "type": "string",
                "description": "Base URL of Prometheus, e.g. http://prometheus:9090.",
            },
            "query": {"type": "string", "description": "PromQL expression."},
            "time": {
                "type": "string",
                "description": "Evaluation time (RFC 3339 or Unix seconds); default now.",
            },
            "timeout": {
                "type": ["number", "string"],
                "description": "Query timeout, also passed to Prometheus (default 10s).",
            },
            "bearer": {
                "type": "string",
                "description": "Bearer token for a protected Prometheus; a secret var.",
            },
            "ca_file": {
                "type": "string",
                "description": "PEM file of the CA of an HTTPS Prometheus.",
            },
        },
    }
    fields: ClassVar[dict[str, str]] = {
        "value": "number",
        "samples": "list",
        "count": "int",
        "result_type": "str",
        "warnings": "list",
    }
    checks: ClassVar[dict[str, NamedCheck]] = {
        "query returns data": NamedCheck(
            "query returns data", "the query returned at least one sample", _returns_data
        )
    }

    async def run(self, call: StepCall) -> Result:
        import httpx

        spec = call.render(call.spec, None)
        try:
            timeout = parse_duration(spec.get("timeout", call.timeout or DEFAULT_TIMEOUT))
        except ValueError as exc:
            raise ExecutorError(f"prometheus timeout: {exc}") from None
        params = {"query": spec["query"], "timeout": f"{timeout:g}s"}
        if spec.get("time"):
            params["time"] = str(spec["time"])
        headers = {"Authorization": f"Bearer {spec['bearer']}"} if spec.get("bearer") else {}
        verify: Any = True
        if spec.get("ca_file"):
            import ssl

            verify = ssl.create_default_context(cafile=str(call.workdir / spec["ca_file"]))
        started = time.monotonic()
        try:
            async with httpx.AsyncClient(timeout=timeout + 1, verify=verify) as client:
                response = await client.get(
                    f"{str(spec['url']).rstrip('/')}/api/v1/query", params=params, headers=headers
                )
            body = response.json()
        except httpx.HTTPError as exc:
            return Result(ok=False, error=call.redact(f"Prometheus unreachable: {exc}"))
        except ValueError:
            return Result(
                ok=False, error=f"Prometheus answered HTTP {response.status_code} without JSON"
            )
        elapsed = time.monotonic() - started
        if body.get("status") != "success":
            reason = f"{body.get('errorType', 'error')}: {body.get('error', 'HTTP ' + str(response.status_code))}"
            return Result(
                ok=False,
                error=call.redact(f"Prometheus refused the query: {reason}"),
                duration=elapsed,
            )
        data = body.get("data") or {}
        result_type = str(data.get("resultType", ""))
        raw = data.get("result")
        if result_type in ("scalar", "string"):
            samples = [
                {"metric": {}, "value": _number(raw[1]) if result_type == "scalar" else raw[1]}
            ]
        elif result_type == "matrix":
            samples = [
                {"metric": s.get("metric", {}), "value": _number(s["values"][-1][1])}
                for s in raw or []
            ]
        else:
            samples = [
                {"metric": s.get("metric", {}), "value": _number(s["value"][1])} for s in raw or []
            ]
        fields = {
            "value": samples[0]["value"] if samples else None,
            "samples": samples,
            "count": len(samples),
            "result_type": result_type,
            "warnings": list(body.get("warnings") or []),
        }
        return Result(ok=True, fields=fields, duration=elapsed)

    def describe(self, call: StepCall) -> list[str]:
        spec = call.render(call.spec, None)
        return [call.redact(f"prometheus {spec['url']}: {spec['query']}")]

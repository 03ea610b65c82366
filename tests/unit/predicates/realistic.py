"""Results shaped like the executors' real ones (SPEC §5), for evaluating predicates."""

from __future__ import annotations

from runbook_engine.executors.base import NamedCheck
from runbook_engine.predicates import EvalContext

NOW = 1_764_000_000.0

VARS = {"version": "v2.4.0", "deploy_dir": "/opt/deployments"}

STEP_STATUS = {
    "prepare.verify-package": "succeeded",
    "prepare.record-versions": "succeeded",
    "shutdown.stop-services": "succeeded",
    "deploy.deploy-code": "succeeded",
    "migrate.run-migrations": "succeeded",
    "verify.smoke-ingest": "failed",
    "verify.smoke-health": "succeeded",
    "verify.check-logs": "skipped",
    "rollback.restore": "pending",
}

ROOTS = {
    "vars": VARS,
    "steps": {
        "record-versions": {
            "status": "succeeded",
            "succeeded": True,
            "failed": False,
            "previous_version": "v2.3.0",
        },
        "run-migrations": {
            "status": "succeeded",
            "succeeded": True,
            "failed": False,
            "skipped": False,
        },
    },
    "probe": {"latency_p95": 0.450, "error_rate": 0.002},
    "baseline": {"latency_p95": 0.180, "error_rate": 0.001},
}


def _checksum(fields, hosts):
    return fields.get("rc") == 0 and ": OK" in fields.get("stdout", "")


CHECKS = {
    "checksum matches": NamedCheck("checksum matches", "the SHA-256 checksum matches", _checksum),
    "service running": NamedCheck(
        "service running",
        "the service is running on every host",
        lambda fields, hosts: all("Running: Yes" in h.get("stdout", "") for h in hosts.values()),
    ),
    "stopped": NamedCheck(
        "stopped",
        "the service is stopped on every host",
        lambda fields, hosts: all("Stopped: Yes" in h.get("stdout", "") for h in hosts.values()),
    ),
}


def _recap(ok, changed, failed=0, unreachable=0):
    return {
        "ok": ok,
        "changed": changed,
        "unreachable": unreachable,
        "failed": failed,
        "skipped": 0,
        "rescued": 0,
        "ignored": 0,
    }


def ctx(kind: str) -> EvalContext:
    """A context for one realistic result; ``kind`` names the scenario."""
    common = {"roots": ROOTS, "step_status": STEP_STATUS, "checks": CHECKS, "now": NOW}
    if kind == "ansible":  # stop-services: everything green
        hosts = {f"app-0{i}": _recap(10, 3) for i in (1, 2, 3)}
        return EvalContext(
            fields={"failed": 0, "unreachable": 0, "ok": 30, "changed": 9}, hosts=hosts, **common
        )
    if kind == "ansible-bad":  # one host failed, one unreachable
        hosts = {
            "app-01": _recap(10, 3),
            "app-02": _recap(6, 1, failed=1),
            "app-03": _recap(0, 0, unreachable=1),
        }
        return EvalContext(
            fields={"failed": 1, "unreachable": 1, "ok": 16, "changed": 4}, hosts=hosts, **common
        )
    if kind == "ssh":  # record-versions / verify config on every host
        hosts = {
            name: {
                "rc": 0,
                "stdout": "Configuration valid\nv2.4.0\n",
                "stderr": "",
                "duration": 0.21,
                "unreachable": False,
            }
            for name in ("app-01", "app-02", "app-03")
        }
        return EvalContext(fields={"rc": 0, "duration": 0.4}, hosts=hosts, **common)
    if kind == "ssh-versions":
        hosts = {
            name: {
                "rc": 0,
                "stdout": "v2.4.0\n",
                "stderr": "",
                "duration": 0.1,
                "unreachable": False,
            }
            for name in ("app-01", "app-02")
        }
        hosts["app-03"] = {
            "rc": 255,
            "stdout": "",
            "stderr": "Connection refused",
            "duration": 3.0,
            "unreachable": True,
        }
        return EvalContext(fields={"rc": 255, "duration": 3.0}, hosts=hosts, **common)
    if kind == "shell":  # sha256sum -c
        fields = {
            "rc": 0,
            "exit_code": 0,
            "stdout": "app-v2.4.0.tar.gz: OK\n",
            "stderr": "",
            "duration": 1.5,
        }
        return EvalContext(fields=fields, **common)
    if kind == "http":
        fields = {
            "status": 200,
            "headers": {"content-type": "application/json"},
            "json": {
                "status": "accepted",
                "version": "v2.4.0",
                "items": [{"id": 1}, {"id": 2}],
                "updated_at": "2025-11-24T15:59:00Z",
            },
            "text": '{"status": "accepted"}',
            "latency": 0.042,
        }
        return EvalContext(fields=fields, **common)
    if kind == "sql":
        fields = {
            "rows": [{"count": 1532, "latest": "2025-11-24"}],
            "rowcount": 1,
            "columns": ["count", "latest"],
        }
        return EvalContext(fields=fields, **common)
    if kind == "monitor":
        samples = [{"latency_p95": v, "errors": 0} for v in (0.20, 0.22, 0.25, 0.31)]
        fields = {"samples": samples, "first": samples[0], "last": samples[-1], "trend": 0.036}
        return EvalContext(fields=fields, **common)
    if kind == "decisions":
        return EvalContext(
            host_failures={"deploy": frozenset({"app-02"}), "prepare": frozenset()}, **common
        )
    raise KeyError(kind)


PHRASES = tuple(CHECKS)

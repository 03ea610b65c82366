"""Procedures of other shapes than the seed (tests/fixtures/import/): each draft lints
clean and keeps what its procedure says."""

from __future__ import annotations

from typing import Any

import pytest
from import_helpers import FIXTURES, imported, steps

from runbook_engine.executors.registry import executor_classes
from runbook_engine.importer import import_markdown


def load(name: str) -> tuple[Any, dict[str, Any]]:
    raw = (FIXTURES / name).read_bytes()
    return imported(raw.decode("utf-8"), name)


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.md")))
def test_every_fixture_lints_clean(name: str) -> None:
    result, data = load(name)
    assert result.steps == len(steps(data)) > 0


def test_emergency_procedure_without_phases_and_nested_numbered_commands() -> None:
    result, data = load("emergency-database-failover.md")
    assert [p["title"] for p in data["phases"]] == ["Immediate Actions"]
    by_title = {s["title"]: s for s in steps(data)}
    assert list(by_title) == [
        "Confirm the primary is really down",
        "Put the API in maintenance mode",
        "Drain the workers",
        "Promote the replica",
        "Check it accepts writes",
        "Point the application at the new primary",
        "Leave maintenance mode",
        "Smoke test",
        "Announce in #incident-db",
    ]
    assert by_title["Put the API in maintenance mode"]["ansible"] == {"module": "shell", "args": "touch {{ api_dir }}/MAINTENANCE"}
    assert by_title["Drain the workers"]["expect"] == "all failed == 0"
    assert by_title["Promote the replica"]["ssh"] == "sudo -u postgres pg_ctl promote -D /var/lib/postgresql/15/main"
    assert by_title["Check it accepts writes"]["sql"]["query"] == "SELECT pg_is_in_recovery()"
    assert data["vars"]["db_dsn"]["default"] == "postgresql://ops@db-replica-01.prod.example.com/app"
    point = by_title["Point the application at the new primary"]["ansible"]
    assert point == {"playbook": "switch-db.yml", "limit": "api_tier", "extra_vars": {"db_host": "db-replica-01.prod.example.com"}}
    assert data["inventory"] == "/etc/ansible/prod/hosts"
    assert by_title["Smoke test"]["http"] == {"url": "https://api.prod.example.com/healthz"}
    assert by_title["Smoke test"]["expect"] == 'status == 200 and json.db == "ok"'
    assert by_title["Announce in #incident-db"]["notify"]["channel"] == "incident-db"
    decisions = {d["condition"]: d for d in data["decisions"]}
    assert decisions["Smoke test fails"]["when"] == "failed(immediate-actions.smoke-test)"
    assert decisions["Smoke test fails"]["action"] == "rollback"
    assert decisions["Replica promotion fails"]["when"] == "failed(immediate-actions.promote-the-replica)"
    assert "# TODO: expected: Expected: no response" in result.yaml


def test_weekly_shutdown_hands_off_and_waits() -> None:
    raw = (FIXTURES / "weekly-shutdown-handoff.md").read_bytes()
    assert b"\r\n" in raw  # the fixture keeps its Windows line endings
    result, data = load("weekly-shutdown-handoff.md")
    assert data["frequency"] == "Weekly (Saturday night)"
    assert data["window"]["max_duration"] == "6h"
    assert data["owners"] == ["ops-on-call", "backup-team"]
    assert data["prerequisites"] == ["Backup ticket opened with the storage team", "No deployment scheduled this weekend"]
    by_title = {s["title"]: s for s in steps(data)}
    handoff = by_title["Hand off to the backup team"]
    assert "wait for the backup team to confirm" in handoff["manual"]["prompt"]
    assert by_title["Wait for the storage replication"]["wait"] == "30m"
    assert by_title["Start the services — wait 60s"]["wait"] == "60s"
    stop = by_title["Stop the services"]
    assert stop["ansible"]["extra_vars"] == {"service_action": "stop", "drain": "true"}
    assert stop["ansible"]["playbook"] == "/opt/ansible/backup-orchestration/orchestrate.yml"
    assert stop["on_failure"] == "rollback" and stop["expect"] == "all failed == 0"
    assert data["inventory"] == "/opt/ansible/backup-orchestration/inventory/prod"
    assert by_title["Announce the shutdown"]["notify"]["channel"] == "ops-weekly"
    assert "\r" not in result.yaml


def test_troubleshooting_guide_of_symptom_cause_fix_sections() -> None:
    result, data = load("troubleshooting-guide.md")
    assert [p["title"] for p in data["phases"]] == [
        "Symptom: Queue backlog keeps growing",
        "Symptom: HTTP 503 from the ingestion API",
        "Symptom: Disk full on an ingestion host",
    ]
    assert data["phases"][0]["description"].startswith("Cause: The consumers are stuck")
    first = data["phases"][0]["steps"]
    assert [s["ssh"] for s in first] == [
        "systemctl status ingest-consumer",
        "journalctl -u ingest-consumer --since '-10 min' | tail -50",
        "/opt/ingest/bin/skip-message --queue events --count 1",
    ]
    assert first[2]["expect"] == 'stdout contains "skipped 1 message" on all hosts'
    assert "add a `when:`" in result.yaml  # "If a poison message is the cause, skip it"
    http = data["phases"][1]["steps"][0]
    assert http["http"] == {"url": "http://ingest-lb.internal:8080/v1/health"} and http["expect"] == "status == 200"
    powershell = data["phases"][1]["steps"][1]
    assert powershell["manual"]["prompt"] == "Get-Service -Name IngestGateway | Restart-Service"
    assert [s["title"] for s in data["phases"][2]["steps"]] == ["Find the big files", "Compress them", "Confirm space is back"]
    assert "alternatives, not a sequence" in result.yaml


def test_tables_non_shell_fences_emoji_and_mojibake() -> None:
    result, data = load("mixed-formats.md")
    assert data["title"] == "Cache Cluster Rotation — Runbook 🚀"  # repaired from â€” and ðŸš€
    assert data["description"] == "Rotates the Redis cache nodes one at a time. It’s safe during business hours."
    assert data["window"] == {"schedule": "Any weekday 10:00-16:00 UTC", "max_duration": "90m", "timezone": "UTC"}
    by_title = {s["title"]: s for s in steps(data)}
    version = by_title["Record the current version"]
    assert version["shell"] == "redis-cli -h cache-01 INFO server | grep redis_version"  # "$ " prompt dropped
    assert version["expect"] == 'stdout contains "redis_version:7.0.15"'
    manifest = by_title["Check the release manifest"]["manual"]["prompt"]
    assert "```yaml\nrelease: 7.2.4" in manifest and '```json\n{"maxmemory": "4gb"}' in manifest
    docker = by_title["Restart the node — docker inspect"]
    assert docker["shell"].startswith("docker inspect -f '{% raw %}{{% endraw %}{.State.Health.Status}}'")
    assert docker["expect"] == 'stdout contains "healthy"'
    assert by_title["Restart the node — wait 30s"]["wait"] == "30s"
    sql = by_title["Verify in the database"]
    assert sql["sql"]["dsn"] == "{{ db_dsn }}" and sql["expect"] == "rows[0].count > 0"
    assert data["vars"]["db_dsn"]["default"] == "mysql://ops@db-01/inventory"
    marker = by_title["Write the marker file"]
    assert marker["shell"] == "cat <<EOF > /tmp/rotation.done\nrotated at $(date)\nEOF"
    restore = data["rollback"]["steps"][0]
    if "copy" in executor_classes():
        assert restore["title"] == "Restore the previous config — copy redis-7.0.conf"
        assert restore["copy"] == {"src": "redis-7.0.conf", "dest": "/etc/redis/redis.conf"} and restore["hosts"] == "cache-01"
        tls = by_title["Copy the new config — copy tls"]
        assert tls["copy"] == {"src": "tls/", "dest": "/etc/redis/tls/", "mode": "0640"}
    else:
        assert restore["shell"] == "scp redis-7.0.conf cache-01:/etc/redis/redis.conf"
    assert data["success"] == {"total_duration": "< 90m", "downtime": "< 1m"}
    assert "Error budget burn" in result.yaml


def test_the_template_escape_renders_the_command_as_written() -> None:
    from runbook_engine.templating import Renderer

    result, data = load("mixed-formats.md")
    docker = next(s for s in steps(data) if s["title"] == "Restart the node — docker inspect")
    rendered = Renderer({}).render_command(docker["shell"])
    rendered = getattr(rendered, "script", rendered)  # a ShellCommand since values travel as data
    assert rendered == "docker inspect -f '{{.State.Health.Status}}' redis-exporter && echo \"nodes: ${#NODES[@]}\""


@pytest.mark.parametrize(
    "text",
    [
        "",
        "just a sentence",
        "# Only a title",
        "```\n```",
        "| a | b |\n|---|---|\n| 1 | 2 |",
        "## Steps\n\n1. \n2. `",
        "# T\n\n## Phase 1: X (-5 minutes)\n\n### 1.1 Y\n\n```bash\n'\n```",
        "- [ ] a\n- [x] b\n\n```bash\nssh\n```\n",
        "# T\r\n\r\n```bash\r\necho {{ x }} {% y %} {# z\r\n```\r\n",
    ],
)
def test_odd_documents_still_give_a_clean_draft(text: str) -> None:
    result, data = imported(text)
    assert data["phases"] and result.steps >= 1


def test_a_document_without_steps_gets_a_manual_step_and_a_todo() -> None:
    result = import_markdown("Some notes, no procedure.")
    assert "no commands or steps" in result.yaml and result.todos >= 1


def test_front_matter_setext_step_paragraphs_and_a_command_table() -> None:
    _, data = load("certificate-renewal.md")
    assert data["title"] == "Certificate Renewal" and data["owners"] == ["security"]
    assert [p["title"] for p in data["phases"]] == ["Procedure"]
    by_title = {s["title"]: s for s in steps(data)}
    assert by_title["Check expiry"]["shell"] == "openssl x509 -enddate -noout -in {{ ssl_dir }}/edge.pem"  # indented code
    assert by_title["Request the certificate"]["shell"] == "certbot renew --cert-name edge"  # **Step 1**: … `command`
    assert by_title["Reload nginx"]["shell"] == "sudo systemctl reload nginx"  # **Step 2**: names the next fence
    head = by_title["Reload nginx — HEAD https://edge.example.com"]
    assert head["http"] == {"url": "https://edge.example.com", "method": "HEAD"} and head["expect"] == "status == 200"
    assert by_title["Check"]["shell"] == "openssl s_client -connect edge.example.com:443 </dev/null"  # a Command column


def test_bullets_with_commands_admonitions_and_waits_in_lists() -> None:
    _, data = load("kafka-broker-patching.md")
    assert [(p["title"], p.get("budget")) for p in data["phases"]] == [("Drain", "20m"), ("Patch", None), ("Restore", None)]
    by_title = {s["title"]: s for s in steps(data)}
    leadership = by_title["Move partition leadership"]  # "Run `kafka-leader-election.sh …`" under "Step 1: …"
    assert leadership["shell"].startswith("kafka-leader-election.sh --bootstrap-server kafka-01:9092")
    assert "⚠️ Warning: Do one broker at a time." in leadership["description"]
    assert by_title["Then check under-replicated partitions"]["expect"] == 'stdout == ""'
    assert by_title["Wait 2 minutes for the controller to notice."]["wait"] == "2m"
    assert by_title["Start"]["expect"] == "all rc == 0"
    assert "grafana.internal" in by_title["Verify"]["manual"]["prompt"]


def test_numbered_commands_in_phases_a_rollback_section_and_an_if_then_matrix() -> None:
    _, data = load("nginx-config-rollout.md")
    assert [p["title"] for p in data["phases"]] == ["Validate", "Rollout"]
    assert data["inventory"] == "hosts.ini"
    reload_ = data["phases"][1]["steps"][1]
    assert reload_["ansible"] == {"module": "service", "args": "name=nginx state=reloaded", "become": True}
    assert reload_["expect"] == "all failed == 0"
    assert data["rollback"]["steps"][0]["ansible"] == {
        "playbook": "nginx.yml",
        "extra_vars": {"nginx_conf_version": "previous"},
        "tags": "config",
    }
    decisions = {d["condition"]: (d["when"], d["action"]) for d in data["decisions"]}
    assert decisions == {
        "nginx -t fails": ("failed(validate.test-the-config-on-every-web-node)", "abort"),  # found in the commands
        "Reload fails on any host": ("failed(rollout.reload)", "rollback"),
    }

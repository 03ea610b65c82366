"""The demo fleet (examples/demo) as the monthly update meets it: real HTTP services,
real tarballs and checksums, real SQLite, real processes, and real ansible-playbook."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"
APP_HOSTS = ("app-01", "app-02", "app-03")


def fleet_py(root: Path, command: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(DEMO / "fleet.py"), command, "--root", str(root), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def fleet_state(root: Path) -> dict[str, Any]:
    result = fleet_py(root, "state", "--json")
    assert result.returncode == 0, result.stderr
    state: dict[str, Any] = json.loads(result.stdout)
    return state


def inventory(root: Path) -> dict[str, dict[str, str]]:
    """Host name -> its vars (plus ``group``, and the host's paths under its
    ``host_root``), read from the INI inventory init wrote."""
    hosts: dict[str, dict[str, str]] = {}
    common: dict[str, str] = {}
    group = ""
    for line in (root / "inventory" / "hosts").read_text().splitlines():
        if line.startswith("["):
            group = line.strip("[]")
        elif line and not line.startswith("#") and group == "all:vars":
            key, _, value = line.partition("=")
            common[key] = value
        elif line and not line.startswith("#"):
            name, *pairs = line.split()
            hosts[name] = {"group": group, **dict(pair.split("=", 1) for pair in pairs)}
    for name, host in hosts.items():
        view = Path(host["host_root"])
        hosts[name] = {
            **common,
            **host,
            "app_dir": str(view / "opt" / "app"),
            "backup_dir": str(view / "opt" / "backups"),
            "log_dir": str(view / "var" / "log" / "app"),
            "tmp_dir": str(view / "tmp"),
            "migrations_dir": str(view / "opt" / "app" / "migrations"),
            "db_path": str(root / "db" / "analytics.sqlite"),
        }
        if host["group"] == "app_tier":
            hosts[name]["service_script"] = str(view / "scripts" / "service.sh")
            hosts[name]["http_url"] = f"http://{host['ansible_host']}:8080"
    return hosts


def sent_events(db_path: str) -> list[tuple[str]]:
    """Events the tests sent (the services' own traffic left out), once stored."""
    deadline = time.monotonic() + 10
    while True:
        with sqlite3.connect(db_path) as db:
            rows = db.execute(
                "SELECT payload FROM events WHERE payload NOT LIKE '%traffic%'"
                " AND created_at > datetime('now', '-5 minutes')"
            ).fetchall()
        if rows or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def http(method: str, url: str, body: object = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def sh(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60)


def service(host: dict[str, str], action: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [host["service_script"], action], capture_output=True, text=True, timeout=60
    )


def alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped is not running)."""
    if Path("/proc/self").exists():
        try:
            return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def port_refused(url: str) -> bool:
    try:
        http("GET", f"{url}/v1/health")
    except urllib.error.URLError:
        return True
    return False


def apply_migrations(db_path: str, migrations: Path, release: str) -> list[str]:
    """Pending up files in id order, recorded as the sql executor's contract says."""
    applied = []
    db = sqlite3.connect(db_path)
    try:
        done = {row[0] for row in db.execute("SELECT id FROM runbook_schema_migrations")}
        for up in sorted(migrations.glob("*.up.sql")):
            migration_id, _, name = up.name.removesuffix(".up.sql").partition("_")
            if migration_id in done:
                continue
            db.executescript(up.read_text())
            checksum = hashlib.sha256(up.read_bytes()).hexdigest()
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            with db:
                db.execute(
                    "INSERT INTO runbook_schema_migrations VALUES (?, ?, ?, ?, ?)",
                    (migration_id, name, release, checksum, stamp),
                )
            applied.append(migration_id)
    finally:
        db.close()
    return applied


def revert_migrations(db_path: str, migrations: Path, to_release: str) -> list[str]:
    """Down files, newest first, of every migration recorded under another release."""
    reverted = []
    db = sqlite3.connect(db_path)
    try:
        rows = db.execute(
            "SELECT id, name FROM runbook_schema_migrations WHERE release != ? ORDER BY id DESC",
            (to_release,),
        ).fetchall()
        for migration_id, name in rows:
            db.executescript((migrations / f"{migration_id}_{name}.down.sql").read_text())
            with db:
                db.execute("DELETE FROM runbook_schema_migrations WHERE id = ?", (migration_id,))
            reverted.append(migration_id)
    finally:
        db.close()
    return reverted


def deploy(root: Path, hosts: dict[str, dict[str, str]], version: str) -> None:
    """Seed phase 3.1 on every host: extract the release over /opt/app."""
    tarball = root / "deployments" / f"app-{version}.tar.gz"
    for host in hosts.values():
        result = sh(f"tar -xzf {tarball} --strip-components=1 -C {host['app_dir']}")
        assert result.returncode == 0, result.stderr


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "demo"
    result = fleet_py(root, "init")
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        yield root
    finally:
        fleet_py(root, "stop")


def test_init_lays_out_hosts_releases_database_and_inventory(fleet: Path) -> None:
    hosts = inventory(fleet)
    assert {name: host["group"] for name, host in hosts.items()} == {
        "app-01": "app_tier",
        "app-02": "app_tier",
        "app-03": "app_tier",
        "db-coord-01": "db",
    }
    assert len({host["ansible_host"] for host in hosts.values()}) == 4  # one address each
    for name, host in hosts.items():
        assert host["ansible_connection"] == "local"
        assert host["ansible_host"].startswith("127.")
        assert host["ansible_python_interpreter"] == sys.executable
        assert host["host_root"] == str(fleet / "hosts" / name)
        app_dir = Path(host["app_dir"])
        assert (app_dir / "VERSION").read_text() == "v2.3.0\n"
        assert Path(host["backup_dir"]).is_dir()
        assert {p.name for p in Path(host["log_dir"]).iterdir()} >= {"ingestion.log", "app.log"}
        check = sh(f"{app_dir}/bin/validate-config {app_dir}/config/app.yml")
        assert (check.returncode, check.stdout) == (0, "Configuration valid\n")
    for name in APP_HOSTS:
        assert os.access(hosts[name]["service_script"], os.X_OK)
    assert not (fleet / "hosts" / "db-coord-01" / "scripts" / "service.sh").exists()
    assert (fleet / "deployments" / "configs" / "v2.4.0" / "app.yml").is_file()
    assert (fleet / "deployments" / "scripts" / "service.sh").is_file()

    deployments = fleet / "deployments"
    checked = sh(f"cd {deployments} && sha256sum -c *.sha256")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count(": OK") == 3
    with tarfile.open(deployments / "app-v2.4.0.tar.gz") as tar:
        names = set(tar.getnames())
        config = tar.extractfile("app/config/app.yml").read().decode()  # type: ignore[union-attr]
        env = tar.extractfile("app/config/app.env").read().decode()  # type: ignore[union-attr]
    assert all(name == "app" or name.startswith("app/") for name in names)
    assert {
        "app/VERSION",
        "app/bin/app_server.py",
        "app/bin/validate-config",
        "app/migrations/20251101_create_events.up.sql",
        "app/migrations/20251201_add_event_metadata.up.sql",
        "app/migrations/20251201_add_event_metadata.down.sql",
        "app/migrations/20251215_create_indexes.up.sql",
        "app/migrations/20251215_create_indexes.down.sql",
    } <= names
    assert "metadata_enabled: true" in config
    assert "API_VERSION=v2" in env

    run_vars = dict(
        line.split(": ", 1)
        for line in (fleet / "vars.yaml").read_text().splitlines()
        if not line.startswith("#")
    )
    assert json.loads(run_vars["deploy_dir"]) == str(deployments)
    assert json.loads(run_vars["monitor_for"]) == "20s"
    assert json.loads(run_vars["db_dsn"]) == f"sqlite:///{fleet / 'db' / 'analytics.sqlite'}"


def test_every_app_host_serves_the_installed_release(fleet: Path) -> None:
    state = fleet_state(fleet)
    for name in APP_HOSTS:
        host = state["hosts"][name]
        assert host["running"] and alive(host["pid"])
        status, body = http("GET", f"http://{host['address']}:{host['port']}/v1/health")
        assert status == 200
        assert body["status"] == "healthy" and body["version"] == "v2.3.0"
    database = state["database"]
    assert database["schema_release"] == "v2.3.0"
    assert database["tables"] == ["events", "runbook_schema_migrations"]
    (migration,) = database["migrations"]
    up = (
        fleet
        / "hosts"
        / "db-coord-01"
        / "opt"
        / "app"
        / "migrations"
        / "20251101_create_events.up.sql"
    )
    assert migration["id"] == "20251101" and migration["name"] == "create_events"
    assert migration["checksum"] == hashlib.sha256(up.read_bytes()).hexdigest()


def test_ingest_writes_a_database_row_and_an_accepted_log_line(fleet: Path) -> None:
    host = inventory(fleet)["app-02"]
    status, body = http("POST", f"{host['http_url']}/v1/ingest", {"test": "data"})
    assert (status, body) == (200, {"status": "accepted"})
    assert sent_events(host["db_path"]) == [('{"test": "data"}',)]  # through the queue
    log = sh(f"tail -20 {host['log_dir']}/ingestion.log | grep -i accepted")
    assert log.returncode == 0
    stamp = datetime.strptime(log.stdout.split()[0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert (datetime.now(UTC) - stamp).total_seconds() < 120
    scan = sh(
        f"tail -100 {host['log_dir']}/app.log | grep -i -E 'error|exception|fatal' || echo 'No errors found'"
    )
    assert scan.stdout == "No errors found\n"


def test_service_script_stops_reports_and_starts_one_host(fleet: Path) -> None:
    hosts = inventory(fleet)
    host = hosts["app-01"]
    pid = int(Path(host["tmp_dir"], "app.pid").read_text())
    running = service(host, "status")
    assert running.returncode == 0 and "Running: Yes" in running.stdout

    stopped = service(host, "stop")
    assert stopped.returncode == 0 and "force-killed" not in stopped.stdout
    assert not alive(pid) and port_refused(host["http_url"])
    status = service(host, "status")
    assert status.returncode == 3
    assert "Running: No" in status.stdout and "Stopped: Yes" in status.stdout
    assert http("GET", f"{hosts['app-02']['http_url']}/v1/health")[0] == 200

    started = service(host, "start")
    assert started.returncode == 0, started.stdout
    assert http("GET", f"{host['http_url']}/v1/health")[0] == 200


def test_deploy_v2_4_0_by_hand_then_roll_back(fleet: Path) -> None:
    """Each seed phase as the runbook runs it, against the fleet's real state."""
    hosts = inventory(fleet)
    app_hosts = {name: hosts[name] for name in APP_HOSTS}
    db_host = hosts["db-coord-01"]
    migrations = Path(db_host["migrations_dir"])
    for host in hosts.values():  # 1.3 backup
        backup = sh(f"tar -czf {host['backup_dir']}/app-v2.3.0.tar.gz -C {host['app_dir']} .")
        assert backup.returncode == 0, backup.stderr
    for host in app_hosts.values():  # 2.1 stop
        assert service(host, "stop").returncode == 0
    deploy(fleet, hosts, "v2.4.0")  # 3.1
    for host in hosts.values():  # 3.2, 3.5
        check = sh(f"{host['app_dir']}/bin/validate-config {host['app_dir']}/config/app.yml")
        assert check.stdout == "Configuration valid\n"
        assert Path(host["app_dir"], "VERSION").read_text().strip() == "v2.4.0"
    assert apply_migrations(db_host["db_path"], migrations, "v2.4.0") == ["20251201", "20251215"]
    for host in app_hosts.values():  # 4.1
        assert service(host, "start").returncode == 0

    for host in app_hosts.values():  # 5.1
        status, body = http("GET", f"{host['http_url']}/v1/health")
        assert status == 200
        assert (body["status"], body["version"], body["api_version"]) == ("healthy", "v2.4.0", "v2")
        assert http("POST", f"{host['http_url']}/v1/ingest", {"test": "data"})[0] == 200
    deadline = time.monotonic() + 10
    while len(sent_events(db_host["db_path"])) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(sent_events(db_host["db_path"])) == 3
    state = fleet_state(fleet)
    assert state["database"]["schema_release"] == "v2.4.0"
    assert "idx_event_timestamp" in state["database"]["indexes"]
    assert state["database"]["event_metadata"] >= 3  # v2.4.0 writes metadata for every event

    for host in app_hosts.values():  # 6.1 .. 6.4
        assert service(host, "stop").returncode == 0
    assert revert_migrations(db_host["db_path"], migrations, "v2.3.0") == ["20251215", "20251201"]
    for host in hosts.values():
        restore = sh(
            f"find {host['app_dir']} -mindepth 1 -delete"
            f" && tar -xzf {host['backup_dir']}/app-v2.3.0.tar.gz -C {host['app_dir']}"
        )
        assert restore.returncode == 0, restore.stderr
    for host in app_hosts.values():
        assert service(host, "start").returncode == 0

    state = fleet_state(fleet)
    assert {name: host["version"] for name, host in state["hosts"].items()} == dict.fromkeys(
        hosts, "v2.3.0"
    )
    for name in APP_HOSTS:
        answer = state["hosts"][name]["health"]
        assert answer["status"] == 200
        assert (answer["json"]["status"], answer["json"]["version"]) == ("healthy", "v2.3.0")
    assert state["database"]["schema_release"] == "v2.3.0"
    assert state["database"]["tables"] == ["events", "runbook_schema_migrations"]
    assert state["database"]["indexes"] == []
    assert len(sent_events(db_host["db_path"])) == 3


def test_broken_release_starts_but_answers_500(fleet: Path) -> None:
    hosts = inventory(fleet)
    host = hosts["app-03"]
    assert service(host, "stop").returncode == 0
    deploy(fleet, {"app-03": host, "db-coord-01": hosts["db-coord-01"]}, "v2.4.1-broken")
    migrations = Path(hosts["db-coord-01"]["migrations_dir"])
    assert apply_migrations(hosts["db-coord-01"]["db_path"], migrations, "v2.4.1-broken")
    check = sh(f"{host['app_dir']}/bin/validate-config {host['app_dir']}/config/app.yml")
    assert check.stdout == "Configuration valid\n"

    started = service(host, "start")
    assert started.returncode == 0 and "health HTTP 500" in started.stdout
    status, body = http("GET", f"{host['http_url']}/v1/health")
    assert status == 500
    assert body["status"] == "unhealthy" and body["version"] == "v2.4.1-broken"
    status, body = http("POST", f"{host['http_url']}/v1/ingest", {"test": "data"})
    assert status == 500 and body["status"] == "failed"
    scan = sh(f"tail -100 {host['log_dir']}/app.log | grep -i -E 'error|exception|fatal'")
    assert "ERROR" in scan.stdout and "source" in scan.stdout
    time.sleep(1.5)  # what the queue would have stored by now
    assert sent_events(hosts["db-coord-01"]["db_path"]) == []


def test_break_deploy_fails_the_extraction_on_one_host_only(fleet: Path) -> None:
    hosts = inventory(fleet)
    broken = fleet_py(fleet, "break-deploy", "--host", "app-02")
    assert broken.returncode == 0, broken.stderr
    for host in hosts.values():
        backup = sh(f"tar -czf {host['backup_dir']}/app-v2.3.0.tar.gz -C {host['app_dir']} .")
        assert backup.returncode == 0
    tarball = fleet / "deployments" / "app-v2.4.0.tar.gz"
    rcs = {
        name: sh(f"tar -xzf {tarball} --strip-components=1 -C {host['app_dir']}").returncode
        for name, host in hosts.items()
    }
    assert rcs == {"app-01": 0, "app-02": 2, "app-03": 0, "db-coord-01": 0}

    host = hosts["app-02"]
    assert service(host, "stop").returncode == 0
    restore = sh(
        f"rm -rf {host['app_dir']}/* && tar -xzf {host['backup_dir']}/app-v2.3.0.tar.gz"
        f" -C {host['app_dir']}"
    )
    assert restore.returncode == 0, restore.stderr
    assert service(host, "start").returncode == 0
    assert http("GET", f"{host['http_url']}/v1/health")[1]["version"] == "v2.3.0"

    unknown = fleet_py(fleet, "break-deploy", "--host", "app-09")
    assert unknown.returncode == 1 and "no host 'app-09'" in unknown.stderr


def test_stop_leaves_no_process_and_init_resets_a_running_fleet(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    assert fleet_py(root, "init").returncode == 0
    first = fleet_state(root)
    Path(first["hosts"]["app-01"]["root"], "tmp", "app.pid").unlink()  # lost pid file
    again = fleet_py(root, "init")
    try:
        assert again.returncode == 0, again.stderr
        for name in APP_HOSTS:
            assert not alive(first["hosts"][name]["pid"])
        second = fleet_state(root)
        pids = [second["hosts"][name]["pid"] for name in APP_HOSTS]
        assert all(alive(pid) for pid in pids)
        assert fleet_py(root, "status").returncode == 0
    finally:
        stopped = fleet_py(root, "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert not any(alive(pid) for pid in pids)
    assert all(
        port_refused(f"http://{second['hosts'][name]['address']}:8080") for name in APP_HOSTS
    )
    assert not list((root / "hosts").glob("*/tmp/app.pid"))
    assert fleet_py(root, "status").returncode == 3


def test_init_refuses_to_wipe_a_folder_that_is_not_a_fleet(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    result = fleet_py(tmp_path, "init")
    assert result.returncode == 1
    assert "refusing to wipe" in result.stderr and "Traceback" not in result.stderr
    assert (tmp_path / "notes.txt").read_text() == "keep me"


@pytest.mark.service("ansible")
def test_orchestrate_playbook_stops_and_reports_the_app_tier(fleet: Path, tmp_path: Path) -> None:
    playbook = Path(sys.executable).with_name("ansible-playbook")
    binary = str(playbook) if playbook.exists() else shutil.which("ansible-playbook")
    if binary is None:
        pytest.skip("ansible-playbook is not installed")
    env = {
        **os.environ,
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local"),
        "ANSIBLE_REMOTE_TEMP": str(tmp_path / "ansible-remote"),
    }

    def orchestrate(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                binary,
                "-i",
                str(fleet / "inventory" / "hosts"),
                str(DEMO / "ansible" / "orchestrate.yml"),
                *extra,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    def recap(output: str) -> dict[str, str]:
        return {
            line.split()[0]: line.split("failed=")[1].split()[0]
            for line in output.splitlines()
            if line.startswith("app-") and "failed=" in line
        }

    status = orchestrate("-e", "service_action=status", "-e", "expected_state=running")
    assert status.returncode == 0, status.stdout
    assert status.stdout.count('"Running: Yes"') == 3
    assert recap(status.stdout) == dict.fromkeys(APP_HOSTS, "0")

    stop = orchestrate("-e", "service_action=stop")
    assert stop.returncode == 0, stop.stdout
    assert recap(stop.stdout) == dict.fromkeys(APP_HOSTS, "0")
    assert all(not fleet_state(fleet)["hosts"][name]["running"] for name in APP_HOSTS)

    stopped = orchestrate("-e", "service_action=status", "-e", "expected_state=stopped")
    assert stopped.returncode == 0, stopped.stdout
    assert stopped.stdout.count('"Stopped: Yes"') == 3

    wrong = orchestrate("-e", "service_action=status", "-e", "expected_state=running")
    assert wrong.returncode != 0
    assert recap(wrong.stdout) == dict.fromkeys(APP_HOSTS, "1")


def test_isolated_fleet_where_it_cannot_be_says_why_in_one_line_and_uses_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "demo"  # under /tmp, which every isolated host replaces
    monkeypatch.setenv("RUNBOOK_FLEET_DIR", str(tmp_path / "fleets"))  # so is the place to move it to
    result = fleet_py(root, "init", "--isolated")
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        notes = [line for line in result.stdout.splitlines() if "isolated hosts unavailable" in line]
        assert len(notes) == 1 and notes[0].endswith("using the folder fleet")
        assert "fleet: folder" in result.stdout
        assert json.loads((root / "fleet.json").read_text())["kind"] == "folder"
    finally:
        fleet_py(root, "stop")


@pytest.mark.service("sshd")
def test_an_isolated_fleet_asked_for_under_tmp_is_built_outside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkout in /tmp (as CI clones it): `make demo` still gets separate hosts, in a
    folder outside /tmp that the root links to."""
    from runbook_engine import hostfleet

    reason = hostfleet.isolation_unavailable()
    if reason:
        pytest.skip(reason)
    base = hostfleet.default_fleet_base()
    monkeypatch.setenv("RUNBOOK_FLEET_DIR", str(base))
    root = tmp_path / "demo"
    try:
        result = fleet_py(root, "init", "--isolated")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "fleet: isolated" in result.stdout and f"({root} links to it)" in result.stdout
        assert root.is_symlink() and root.resolve().parent == base
        assert fleet_state(root)["hosts"]["app-01"]["hostname"] == "app-01"
    finally:
        stopped = fleet_py(root, "stop")
        shutil.rmtree(base, ignore_errors=True)
    assert stopped.returncode == 0, stopped.stderr


def _fleet_processes(members: list[dict[str, Any]]) -> set[int]:
    """Every process of the fleet's hosts: each unshare and all below it."""
    parents: dict[int, int] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                parents[int(proc.name)] = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    found = {m["pid"] for m in members}
    grew = True
    while grew:
        below = {pid for pid, parent in parents.items() if parent in found} - found
        found |= below
        grew = bool(below)
    return {pid for pid in found if pid in parents}


@pytest.mark.service("sshd")
def test_isolated_hosts_are_separate_and_stop_leaves_no_process_and_no_mount() -> None:
    from runbook_engine import hostfleet

    reason = hostfleet.isolation_unavailable()
    if reason:
        pytest.skip(reason)
    base = hostfleet.default_fleet_base()
    root = base / "demo"
    try:
        result = fleet_py(root, "init", "--isolated")
        assert result.returncode == 0 and "fleet: isolated" in result.stdout, result.stdout + result.stderr
        members = json.loads((root / "fleet.json").read_text())["members"]
        processes = _fleet_processes(members)
        assert len(processes) >= 4 * 2 + 3  # unshare + sshd per host, one app server per app host
        state = fleet_state(root)
        assert {name: host["hostname"] for name, host in state["hosts"].items()} == {
            name: name for name in state["hosts"]
        }
        assert len({host["address"] for host in state["hosts"].values()}) == 4
        # mounts live only in the hosts' namespaces, never in this one
        assert not [line for line in Path("/proc/self/mountinfo").read_text().splitlines() if str(root) in line]
        stopped = fleet_py(root, "stop")
        assert stopped.returncode == 0, stopped.stderr
        assert not {pid for pid in processes if alive(pid)}
        leftover = []
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                try:
                    if str(root) in (proc / "mountinfo").read_text():
                        leftover.append(proc.name)
                except OSError:
                    continue
        assert leftover == []
        for member in members:  # the hosts are gone: their sshd no longer answers
            with pytest.raises(OSError):
                socket.create_connection((member["address"], member["port"]), timeout=1).close()
    finally:
        fleet_py(root, "stop")
        shutil.rmtree(base, ignore_errors=True)

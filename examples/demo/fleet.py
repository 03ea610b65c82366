#!/usr/bin/env python3
"""The demo fleet that runbooks/monthly-update.yaml runs against, built on one machine.

Four "hosts" (app-01..03 and db-coord-01), each a folder laid out like the real server
(opt/app, opt/backups, var/log/app, scripts/service.sh), a real HTTP service per app
host, release tarballs with checksums and an SQLite analytics database. Stdlib only,
no root, no system services.

    python examples/demo/fleet.py init   --root .demo   # reset, build, start on v2.3.0
    python examples/demo/fleet.py start  --root .demo
    python examples/demo/fleet.py stop   --root .demo   # no process left behind
    python examples/demo/fleet.py status --root .demo
    python examples/demo/fleet.py state  --root .demo --json
    python examples/demo/fleet.py break-deploy --root .demo --host app-02
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import releases  # noqa: E402  (sits next to this script, which is not a package)

HERE = Path(__file__).resolve().parent
MARKER = "fleet.json"
APP_HOSTS = ("app-01", "app-02", "app-03")
DB_HOST = "db-coord-01"
STOP_GRACE = 10.0


class FleetError(Exception):
    """Something the operator can fix; printed as one line, no traceback."""


@dataclass(frozen=True)
class FleetHost:
    """One host of the fleet: a folder that stands for the machine's filesystem."""

    name: str
    group: str
    root: Path
    port: int | None  # None: the host runs no HTTP service (the db coordinator)

    @property
    def app_dir(self) -> Path:
        return self.root / "opt" / "app"

    @property
    def backup_dir(self) -> Path:
        return self.root / "opt" / "backups"

    @property
    def log_dir(self) -> Path:
        return self.root / "var" / "log" / "app"

    @property
    def run_dir(self) -> Path:
        return self.root / "var" / "run"

    @property
    def service_script(self) -> Path:
        return self.root / "scripts" / "service.sh"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "app.pid"

    def version(self) -> str | None:
        try:
            return (self.app_dir / "VERSION").read_text(encoding="utf-8").strip()
        except OSError:
            return None


@dataclass(frozen=True)
class Fleet:
    root: Path
    hosts: tuple[FleetHost, ...]

    @property
    def deploy_dir(self) -> Path:
        return self.root / "deployments"

    @property
    def db_path(self) -> Path:
        return self.root / "db" / "analytics.sqlite"

    @property
    def inventory(self) -> Path:
        return self.root / "inventory" / "hosts"

    @property
    def app_hosts(self) -> tuple[FleetHost, ...]:
        return tuple(host for host in self.hosts if host.port is not None)

    @property
    def db_host(self) -> FleetHost:
        return next(host for host in self.hosts if host.group == "db")

    @classmethod
    def load(cls, root: Path) -> Fleet:
        marker = root / MARKER
        try:
            data = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise FleetError(
                f"no demo fleet at {root} ({marker}: {getattr(error, 'strerror', None) or error});"
                f" build one with: python {Path(__file__).name} init --root {root}"
            ) from None
        hosts = tuple(
            FleetHost(name, spec["group"], root / "hosts" / name, spec["port"])
            for name, spec in data["hosts"].items()
        )
        return cls(root, hosts)

    def save(self) -> None:
        data = {
            "fleet": "runbook-engine demo",
            "hosts": {host.name: {"group": host.group, "port": host.port} for host in self.hosts},
        }
        (self.root / MARKER).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


# --- processes -------------------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    """Ports the kernel says are free now; held open together so they are distinct."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def is_app_server(pid: int) -> bool:
    """Alive and our app server (checked through /proc where there is one)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.parent.exists():
        return True
    try:
        return b"app_server.py" in cmdline.read_bytes()
    except OSError:
        return False


def pid_in_file(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def listening_pids(port: int) -> set[int]:
    """Pids listening on 127.0.0.1:port, from /proc (Linux); empty elsewhere."""
    inodes: set[str] = set()
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return set()
    for line in lines:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "0A" and int(local.split(":")[1], 16) == port:
            inodes.add(f"socket:[{inode}]")
    pids: set[int] = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (proc / "fd").iterdir()):
                pids.add(int(proc.name))
        except OSError:
            continue
    return pids


def wait_gone(pids: set[int], seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    alive = {pid for pid in pids if is_app_server(pid)}
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = {pid for pid in alive if is_app_server(pid)}
    return alive


def signal_process(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # it exited on its own meanwhile
        os.kill(pid, signum)


def stop_fleet(fleet: Fleet) -> list[str]:
    """TERM then KILL every app server of the fleet; returns what is still left over."""
    targets: set[int] = set()
    for host in fleet.app_hosts:
        pid = pid_in_file(host.pid_file)
        if pid is not None and is_app_server(pid):
            targets.add(pid)
        assert host.port is not None
        targets.update(pid for pid in listening_pids(host.port) if is_app_server(pid))
    for pid in targets:
        signal_process(pid, signal.SIGTERM)
    for pid in wait_gone(targets, STOP_GRACE):
        signal_process(pid, signal.SIGKILL)
    wait_gone(targets, 5.0)
    leftovers = []
    for host in fleet.app_hosts:
        host.pid_file.unlink(missing_ok=True)
        assert host.port is not None
        if port_answers(host.port):
            leftovers.append(f"{host.name}: something still answers on port {host.port}")
    leftovers.extend(f"pid {pid} survived SIGKILL" for pid in targets if is_app_server(pid))
    return leftovers


def run_service(fleet: Fleet, action: str) -> dict[str, subprocess.CompletedProcess[str]]:
    """Run ``service.sh ACTION`` on every app host at once, as the playbook would."""
    running = {
        host.name: subprocess.Popen(
            ["bash", str(host.service_script), action],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for host in fleet.app_hosts
    }
    results = {}
    for name, process in running.items():
        output, _ = process.communicate()
        results[name] = subprocess.CompletedProcess(process.args, process.returncode, output)
    return results


def health(port: int) -> dict[str, Any] | None:
    """GET /v1/health: the HTTP status and JSON body, or None when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health", timeout=3) as reply:
            return {"status": reply.status, "json": json.loads(reply.read() or b"null")}
    except urllib.error.HTTPError as error:
        try:
            body = json.loads(error.read() or b"null")
        except ValueError:
            body = None
        return {"status": error.code, "json": body}
    except (OSError, ValueError):
        return None


# --- building --------------------------------------------------------------------------


#: What a previous demo left that is the operator's record, not the fleet's state: the
#: run journals and reports survive a new `init` (`make demo-rollback` after `make demo`).
KEPT = ("runs", "report")


def reset(root: Path) -> None:
    """Stop what a previous fleet at root started, then wipe it, keeping the run
    journals and reports (`KEPT`). Refuses foreign folders."""
    if (root / MARKER).is_file():
        leftovers = stop_fleet(Fleet.load(root))
        if leftovers:
            raise FleetError("could not stop the previous fleet: " + "; ".join(leftovers))
    elif root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise FleetError(
            f"refusing to wipe {root}: it is not empty and holds no demo fleet ({MARKER})"
        )
    if not root.exists():
        return
    for entry in root.iterdir():
        if entry.name in KEPT and entry.is_dir():
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def utc_stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def init_database(fleet: Fleet) -> None:
    """The analytics database at the v2.3.0 schema, recorded as the sql executor does."""
    fleet.db_path.parent.mkdir(parents=True)
    migrations = fleet.db_host.app_dir / "migrations"
    with sqlite3.connect(fleet.db_path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(
            "CREATE TABLE runbook_schema_migrations ("
            "id TEXT PRIMARY KEY, name TEXT, release TEXT, checksum TEXT, applied_at TEXT)"
        )
        for up in sorted(migrations.glob("*.up.sql")):
            migration_id, _, name = up.name.removesuffix(".up.sql").partition("_")
            db.executescript(up.read_text(encoding="utf-8"))
            db.execute(
                "INSERT INTO runbook_schema_migrations VALUES (?, ?, ?, ?, ?)",
                (migration_id, name, releases.INSTALLED.version, sha256_file(up), utc_stamp()),
            )
    fleet.db_path.chmod(0o664)


def build_host(fleet: Fleet, host: FleetHost) -> None:
    for folder in (host.app_dir, host.backup_dir, host.log_dir, host.run_dir):
        folder.mkdir(parents=True, exist_ok=True)
    releases.install(fleet.deploy_dir / releases.INSTALLED.tarball, host.app_dir)
    for log in ("ingestion.log", "app.log"):
        (host.log_dir / log).touch()
    if host.port is None:
        return
    host.service_script.parent.mkdir(parents=True)
    shutil.copyfile(HERE / "service.sh", host.service_script)
    host.service_script.chmod(0o755)
    env = {
        "HOST_NAME": host.name,
        "HOST_ROOT": host.root,
        "APP_DIR": host.app_dir,
        "LOG_DIR": host.log_dir,
        "RUN_DIR": host.run_dir,
        "DB_PATH": fleet.db_path,
        "HTTP_PORT": host.port,
        "PYTHON": sys.executable,
    }
    lines = [f"{key}={shlex.quote(str(value))}" for key, value in env.items()]
    (host.service_script.parent / "service.env").write_text(
        "# This host's settings for service.sh, written by fleet.py init.\n"
        + "\n".join(lines)
        + "\n"
    )


def ini_value(value: object) -> str:
    text = str(value)
    return json.dumps(text) if any(c.isspace() for c in text) or not text else text


def host_vars(fleet: Fleet, host: FleetHost) -> dict[str, object]:
    """The inventory variables runbook steps use instead of the seed's fixed paths."""
    found: dict[str, object] = {
        "ansible_host": "127.0.0.1",
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "host_root": host.root,
        "app_dir": host.app_dir,
        "backup_dir": host.backup_dir,
        "log_dir": host.log_dir,
    }
    if host.port is not None:
        found |= {
            "service_script": host.service_script,
            "http_port": host.port,
            "http_url": f"http://127.0.0.1:{host.port}",
        }
    else:
        found |= {"db_path": fleet.db_path, "migrations_dir": host.app_dir / "migrations"}
    return found


def write_inventory(fleet: Fleet) -> None:
    lines = [
        "# The demo fleet, written by examples/demo/fleet.py init. Every host is a folder",
        "# on this machine, reached through the local connection; see docs/demo.md.",
    ]
    for group in ("app_tier", "db"):
        lines += ["", f"[{group}]"]
        for host in fleet.hosts:
            if host.group == group:
                pairs = " ".join(f"{k}={ini_value(v)}" for k, v in host_vars(fleet, host).items())
                lines.append(f"{host.name} {pairs}")
    fleet.inventory.parent.mkdir(parents=True)
    fleet.inventory.write_text("\n".join(lines) + "\n", encoding="utf-8")


def run_vars(fleet: Fleet) -> dict[str, str]:
    """The values runbooks/monthly-update.yaml needs for this fleet (docs/demo.md)."""
    return {
        "version": releases.TARGET.version,
        "installed_version": releases.INSTALLED.version,
        "broken_version": releases.BROKEN.version,
        "fleet_root": str(fleet.root),
        "inventory": str(fleet.inventory),
        "deploy_dir": str(fleet.deploy_dir),
        "playbook": str(HERE / "ansible" / "orchestrate.yml"),
        "db_path": str(fleet.db_path),
        "db_dsn": f"sqlite:///{fleet.db_path}",
        "migrations_dir": str(fleet.db_host.app_dir / "migrations"),
        "monitor_for": "20s",
        "monitor_every": "2s",
    }


def write_vars(fleet: Fleet) -> None:
    lines = ["# Vars for runbooks/monthly-update.yaml against this demo fleet (docs/demo.md)."]
    lines += ["# Shared with the demo's other tools: keys a runbook does not declare are ignored."]
    lines += ["x-shared: true"]
    lines += [f"{key}: {json.dumps(value)}" for key, value in run_vars(fleet).items()]
    (fleet.root / "vars.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def start_fleet(fleet: Fleet) -> list[str]:
    """Start every app service and check it answers healthy on its installed version."""
    problems = []
    for name, result in run_service(fleet, "start").items():
        if result.returncode != 0:
            problems.append(
                f"{name}: service.sh start exited {result.returncode}: {result.stdout.strip()}"
            )
    for host in fleet.app_hosts:
        assert host.port is not None
        answer = health(host.port)
        if answer is None or answer["status"] != 200:
            problems.append(f"{host.name}: /v1/health answered {answer}")
    return problems


def init(root: Path) -> Fleet:
    reset(root)
    root.mkdir(parents=True, exist_ok=True)
    ports = iter(free_ports(len(APP_HOSTS)))
    hosts = [FleetHost(name, "app_tier", root / "hosts" / name, next(ports)) for name in APP_HOSTS]
    hosts.append(FleetHost(DB_HOST, "db", root / "hosts" / DB_HOST, None))
    fleet = Fleet(root, tuple(hosts))
    fleet.save()  # first, so that a failed init can still be reset
    fleet.deploy_dir.mkdir()
    for release in releases.RELEASES:
        releases.build(release, fleet.deploy_dir)
    for host in fleet.hosts:
        build_host(fleet, host)
    init_database(fleet)
    write_inventory(fleet)
    write_vars(fleet)
    return fleet


def break_deploy(fleet: Fleet, name: str) -> Path:
    """Make the next release extraction fail on one host, and on that host only.

    A non-empty folder is left where every newer release ships a file, as a failed
    earlier attempt might leave it: ``tar`` cannot replace it (not even as root) and
    exits 2 after a partial extraction, while reading VERSION, backing up, restoring
    the backup and running v2.3.0 all still work. This is the seed's "Partial
    Deployment (Some Hosts Failed)".
    """
    host = next((host for host in fleet.hosts if host.name == name), None)
    if host is None:
        known = ", ".join(host.name for host in fleet.hosts)
        raise FleetError(f"no host {name!r} in the fleet (hosts: {known})")
    shipped = {path.name for path in releases.INSTALLED.migrations()}
    newer = sorted(p.name for p in releases.TARGET.migrations() if p.name not in shipped)
    obstacle = host.app_dir / "migrations" / newer[0]
    obstacle.mkdir(parents=True, exist_ok=True)
    (obstacle / "left-by-a-failed-attempt").write_text("this folder blocks the deploy\n")
    return obstacle


# --- reading the state -----------------------------------------------------------------


def database_state(fleet: Fleet) -> dict[str, Any]:
    db = sqlite3.connect(f"file:{fleet.db_path}?mode=ro", uri=True, timeout=10)
    try:
        db.row_factory = sqlite3.Row
        listed = db.execute(
            "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
        ).fetchall()
        tables = [row["name"] for row in listed if row["type"] == "table"]
        indexes = [row["name"] for row in listed if row["type"] == "index"]
        migrations = [
            dict(row) for row in db.execute("SELECT * FROM runbook_schema_migrations ORDER BY id")
        ]
        counts = {
            table: db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("events", "event_metadata")
            if table in tables
        }
        return {
            "path": str(fleet.db_path),
            "schema_version": migrations[-1]["id"] if migrations else None,
            "schema_release": migrations[-1]["release"] if migrations else None,
            "migrations": migrations,
            "tables": tables,
            "indexes": indexes,
            "events": counts.get("events"),
            "event_metadata": counts.get("event_metadata"),
        }
    finally:
        db.close()


def fleet_state(fleet: Fleet) -> dict[str, Any]:
    hosts: dict[str, Any] = {}
    for host in fleet.hosts:
        pid = pid_in_file(host.pid_file)
        running = host.port is not None and pid is not None and is_app_server(pid)
        hosts[host.name] = {
            "group": host.group,
            "root": str(host.root),
            "version": host.version(),
            "port": host.port,
            "service": host.port is not None,
            "running": running,
            "pid": pid if running else None,
            "health": health(host.port) if host.port is not None else None,
        }
    return {"root": str(fleet.root), "hosts": hosts, "database": database_state(fleet)}


def status_table(state: dict[str, Any]) -> Iterator[str]:
    yield f"{'HOST':<13} {'GROUP':<9} {'VERSION':<15} {'RUNNING':<8} {'PORT':<6} HEALTH"
    for name, host in state["hosts"].items():
        if not host["service"]:
            running, port, answer = "-", "-", "- (no service)"
        else:
            running, port = ("yes" if host["running"] else "no"), str(host["port"])
            found = host["health"]
            answer = (
                "no answer"
                if found is None
                else f"{found['status']} {(found['json'] or {}).get('status', '')}"
            )
        yield f"{name:<13} {host['group']:<9} {host['version'] or '?':<15} {running:<8} {port:<6} {answer}"
    db = state["database"]
    yield ""
    yield (
        f"database {db['path']}: schema {db['schema_version']} ({db['schema_release']}),"
        f" {db['events']} events, tables {', '.join(db['tables'])}"
    )


# --- command line ----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fleet.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("init", "reset the root, build the fleet and start it on v2.3.0"),
        ("start", "start every app service"),
        ("stop", "stop every process the fleet started"),
        ("status", "a table of hosts: version, running, port, health"),
        ("state", "the real state of hosts and database"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument(
            "--root", type=Path, default=Path(".demo"), help="fleet folder (default .demo)"
        )
        if name == "state":
            command.add_argument("--json", action="store_true", help="print JSON")
    fault = commands.add_parser(
        "break-deploy",
        help="make the next deploy fail on one host (partial deployment)",
        description=break_deploy.__doc__,
    )
    fault.add_argument("--root", type=Path, default=Path(".demo"), help="fleet folder")
    fault.add_argument("--host", required=True, help="the host whose deploy must fail")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    try:
        if args.command == "break-deploy":
            obstacle = break_deploy(Fleet.load(root), args.host)
            print(f"the next deploy on {args.host} will fail: {obstacle} is in the way")
            return 0
        return run(args.command, root, getattr(args, "json", False))
    except FleetError as error:
        print(f"fleet.py {args.command}: {error}", file=sys.stderr)
        return 1


def run(command: str, root: Path, as_json: bool) -> int:
    if command == "stop":
        if not (root / MARKER).is_file():
            print(f"no demo fleet at {root}: nothing to stop")
            return 0
        leftovers = stop_fleet(Fleet.load(root))
        for line in leftovers:
            print(f"left over: {line}", file=sys.stderr)
        if not leftovers:
            print(f"stopped every service of the demo fleet at {root}")
        return 1 if leftovers else 0
    if command == "init":
        fleet = init(root)
        problems = start_fleet(fleet)
    elif command == "start":
        fleet = Fleet.load(root)
        problems = start_fleet(fleet)
    else:
        fleet = Fleet.load(root)
        problems = []
    state = fleet_state(fleet)
    if as_json:
        print(json.dumps(state, indent=2))
    else:
        print("\n".join(status_table(state)))
    if command == "init" and not problems:
        print(f"\ninventory: {fleet.inventory}\nrun vars:  {fleet.root / 'vars.yaml'}")
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    if problems:
        return 1
    if command == "status":
        healthy = all(
            host["running"] and (host["health"] or {}).get("status") == 200
            for host in state["hosts"].values()
            if host["service"]
        )
        return 0 if healthy else 3
    return 0


if __name__ == "__main__":
    sys.exit(main())

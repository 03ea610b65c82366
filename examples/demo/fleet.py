#!/usr/bin/env python3
"""The demo fleet that runbooks/monthly-update.yaml runs against, built on one machine.

Four hosts (app-01..03 and db-coord-01), each laid out like the real server (/opt/app,
/opt/backups, /var/log/app, /scripts/service.sh, /tmp), a real HTTP service with a
queue per app host, release tarballs with checksums and an SQLite analytics database.

Two kinds of fleet share all of this and differ in how a host is reached:
- ``--isolated`` (root): every host is a separate machine as far as the runbook can
  tell: its own loopback address, OpenSSH server, hostname, process table and its own
  /opt, /var/log/app, /scripts and /tmp (runbook_engine.hostfleet). The seed's paths
  are the real paths on each host.
- the folder fleet (no root needed, and the fallback): each host is a folder reached
  through the local connection; the inventory's ``host_root`` is the folder that
  stands for the host's ``/``.

    python examples/demo/fleet.py init   --root .demo [--isolated]
    python examples/demo/fleet.py start  --root .demo
    python examples/demo/fleet.py stop   --root .demo   # no process, no mount left behind
    python examples/demo/fleet.py status --root .demo
    python examples/demo/fleet.py state  --root .demo --json
    python examples/demo/fleet.py break-deploy --root .demo --host app-02
    python examples/demo/fleet.py fault  --root .demo --host app-02 --kind queue-stalled
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parents[1]))  # runbook_engine, when not installed

import releases  # noqa: E402  (sits next to this script, which is not a package)

from runbook_engine import hostfleet  # noqa: E402

MARKER = "fleet.json"
APP_HOSTS = ("app-01", "app-02", "app-03")
DB_HOST = "db-coord-01"
API_PORT = 8080
SSH_PORT = 22
STOP_GRACE = 10.0
FAULTS = {
    "queue-stalled": "fault.queue-stalled",
    "log-errors": "fault.log-errors",
    "migration-conflict": "",
}


class FleetError(Exception):
    """Something the operator can fix; printed as one line, no traceback."""


@dataclass(frozen=True)
class FleetHost:
    """One host: ``root`` is the folder that holds its filesystem; ``view`` is where
    that filesystem appears to commands run on the host ("" on an isolated host,
    whose /opt is its own; the folder itself on the folder fleet)."""

    name: str
    group: str
    root: Path
    address: str
    service: bool
    view: str

    def seen(self, path: str) -> str:
        """An absolute host path as commands on the host must write it."""
        return f"{self.view}{path}"

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
    def tmp_dir(self) -> Path:
        return self.root / "tmp"

    @property
    def service_script(self) -> Path:
        return self.root / "scripts" / "service.sh"


@dataclass(frozen=True)
class Fleet:
    root: Path
    kind: str  # "isolated" or "folder"
    hosts: tuple[FleetHost, ...]
    api_port: int = API_PORT
    members: tuple[hostfleet.IsolatedHost, ...] = ()

    @property
    def isolated(self) -> bool:
        return self.kind == "isolated"

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
    def ssh_dir(self) -> Path:
        return self.root / "ssh"

    @property
    def app_hosts(self) -> tuple[FleetHost, ...]:
        return tuple(host for host in self.hosts if host.service)

    @property
    def db_host(self) -> FleetHost:
        return next(host for host in self.hosts if host.group == "db")

    def host(self, name: str) -> FleetHost:
        found = next((host for host in self.hosts if host.name == name), None)
        if found is None:
            known = ", ".join(host.name for host in self.hosts)
            raise FleetError(f"no host {name!r} in the fleet (hosts: {known})")
        return found

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
        kind = data.get("kind", "folder")
        hosts = tuple(
            FleetHost(
                name,
                spec["group"],
                root / "hosts" / name,
                spec["address"],
                spec["service"],
                "" if kind == "isolated" else str(root / "hosts" / name),
            )
            for name, spec in data["hosts"].items()
        )
        members = tuple(hostfleet.IsolatedHost.from_dict(m) for m in data.get("members", []))
        return cls(root, kind, hosts, data.get("api_port", API_PORT), members)

    def save(self) -> None:
        data = {
            "fleet": "runbook-engine demo",
            "kind": self.kind,
            "api_port": self.api_port,
            "hosts": {
                host.name: {"group": host.group, "address": host.address, "service": host.service}
                for host in self.hosts
            },
            "members": [member.as_dict() for member in self.members],
        }
        (self.root / MARKER).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    def with_members(self, members: tuple[hostfleet.IsolatedHost, ...]) -> Fleet:
        return Fleet(self.root, self.kind, self.hosts, self.api_port, members)


# --- reaching a host ------------------------------------------------------------------


def ssh_argv(fleet: Fleet, host: FleetHost) -> list[str]:
    """OpenSSH to the host's own sshd, its host key verified against the fleet's file."""
    member = next(m for m in fleet.members if m.name == host.name)
    return [
        "ssh", "-q", "-i", str(fleet.ssh_dir / "client_key"),
        "-o", f"UserKnownHostsFile={fleet.ssh_dir / 'known_hosts'}",
        "-o", "StrictHostKeyChecking=yes", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
        "-p", str(member.port), f"root@{member.address}",
    ]  # fmt: skip


def on_host(fleet: Fleet, host: FleetHost, command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a bash command on the host: over its sshd (isolated) or locally (folder)."""
    argv = [*ssh_argv(fleet, host), command] if fleet.isolated else ["bash", "-c", command]
    return subprocess.run(
        argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout
    )


def run_service(fleet: Fleet, action: str) -> dict[str, subprocess.CompletedProcess[str]]:
    """Run ``service.sh ACTION`` on every app host at once, as the playbook would."""
    running = {}
    for host in fleet.app_hosts:
        command = shlex.quote(host.seen("/scripts/service.sh")) + " " + action
        argv = [*ssh_argv(fleet, host), command] if fleet.isolated else ["bash", "-c", command]
        running[host.name] = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    results = {}
    for name, process in running.items():
        output, _ = process.communicate()
        results[name] = subprocess.CompletedProcess(process.args, process.returncode, output)
    return results


def health(address: str, port: int) -> dict[str, Any] | None:
    """GET /v1/health: the HTTP status and JSON body, or None when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://{address}:{port}/v1/health", timeout=3) as reply:
            return {"status": reply.status, "json": json.loads(reply.read() or b"null")}
    except urllib.error.HTTPError as error:
        try:
            body = json.loads(error.read() or b"null")
        except ValueError:
            body = None
        return {"status": error.code, "json": body}
    except (OSError, ValueError):
        return None


def port_answers(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


# --- stopping the folder fleet's services -----------------------------------------------


def is_app_server(pid: int, host: FleetHost | None = None) -> bool:
    """Alive, not a zombie, and an app server (of ``host``, when given: another fleet's
    server on the same address is left alone). Checked through /proc."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    ours = host is None or str(host.app_dir / "bin" / "app_server.py").encode() in cmdline
    return "\nState:\tZ" not in status and b"app_server.py" in cmdline and ours


def pid_in_file(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def listening_pids(address: str, port: int) -> set[int]:
    """Pids listening on address:port, from /proc (Linux)."""
    wanted = "".join(f"{int(part):02X}" for part in reversed(address.split(".")))
    inodes: set[str] = set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            ip, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port and ip == wanted:
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


def stop_services(fleet: Fleet) -> list[str]:
    """Folder fleet: TERM then KILL every app server (found through its pid file and
    the port it listens on); returns what is left over."""
    targets: set[int] = set()
    for host in fleet.app_hosts:
        pid = pid_in_file(host.tmp_dir / "app.pid")
        if pid is not None and is_app_server(pid, host):
            targets.add(pid)
        targets.update(
            p for p in listening_pids(host.address, fleet.api_port) if is_app_server(p, host)
        )
    for pid in targets:
        signal_process(pid, signal.SIGTERM)
    for pid in wait_gone(targets, STOP_GRACE):
        signal_process(pid, signal.SIGKILL)
    wait_gone(targets, 5.0)
    leftovers = []
    for host in fleet.app_hosts:
        (host.tmp_dir / "app.pid").unlink(missing_ok=True)
        if port_answers(host.address, fleet.api_port):
            leftovers.append(f"{host.name}: something still answers on {host.address}:{fleet.api_port}")
    leftovers.extend(f"pid {pid} survived SIGKILL" for pid in targets if is_app_server(pid))
    return leftovers


def stop_fleet(fleet: Fleet) -> list[str]:
    """Stop every process the fleet started; isolated hosts take their mounts along."""
    if not fleet.isolated:
        leftovers = stop_services(fleet)
    else:
        leftovers = []
        for member in fleet.members:
            survivors = hostfleet.stop_host(member)
            leftovers.extend(f"{member.name}: pid {pid} survived SIGKILL" for pid in survivors)
        fleet.with_members(()).save()
    hostfleet.release_block(fleet.root)
    return leftovers


# --- building --------------------------------------------------------------------------


#: What a previous demo left that is the operator's record, not the fleet's state: the
#: run journals and reports survive a new `init` (`make demo-rollback` after `make demo`).
KEPT = ("runs", "report")


def reset(root: Path) -> None:
    """Stop what a previous fleet at root started, then wipe it, keeping the run
    journals and reports (`KEPT`). Refuses foreign folders (anything beside `KEPT`
    without the fleet marker)."""
    if (root / MARKER).is_file():
        leftovers = stop_fleet(Fleet.load(root))
        if leftovers:
            raise FleetError("could not stop the previous fleet: " + "; ".join(leftovers))
    elif root.exists() and (not root.is_dir() or any(e.name not in KEPT for e in root.iterdir())):
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


def isolated_root(given: Path) -> Path:
    """Where an isolated fleet asked for at ``given`` lives.

    Every host replaces /tmp and /opt with its own, so it cannot see a fleet root under
    them (a checkout in /tmp, as CI clones it). Such a root becomes a link to a folder
    under `hostfleet.fleet_dir` (/var/tmp/runbook-fleets), named after ``given``, so
    the next init finds the same one; what an earlier demo kept there (`KEPT`: run
    journals and reports) moves along. Any other root is used as it is."""
    resolved = given.resolve()
    inside = hostfleet.overlapping_path(resolved)
    if inside is None:
        return resolved
    digest = hashlib.sha256(str(given.absolute()).encode()).hexdigest()[:12]
    target = (hostfleet.fleet_dir() / f"demo-{digest}").absolute()
    if hostfleet.overlapping_path(target) is not None:
        return resolved  # RUNBOOK_FLEET_DIR points into a host path too: choose_kind says so
    if target.exists():
        reset(target)  # what a link removed since left behind: stop it, keep its runs
    target.mkdir(parents=True, exist_ok=True)
    if resolved.exists():  # an earlier folder fleet here: stop it, move its runs along
        reset(resolved)
        for name in KEPT:
            if (resolved / name).is_dir() and not (target / name).exists():
                shutil.move(str(resolved / name), str(target / name))
        shutil.rmtree(resolved)
    given.absolute().parent.mkdir(parents=True, exist_ok=True)
    given.absolute().symlink_to(target, target_is_directory=True)
    print(f"fleet.py: {given} is under {inside}, which every host replaces;"
          f" the fleet lives in {target} ({given} links to it)")
    return target


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
    fleet.db_path.parent.chmod(0o777)


def build_host(fleet: Fleet, host: FleetHost) -> None:
    for folder in (host.app_dir, host.backup_dir, host.log_dir, host.tmp_dir, host.service_script.parent):
        folder.mkdir(parents=True, exist_ok=True)
    host.tmp_dir.chmod(0o1777)
    releases.install(fleet.deploy_dir / releases.INSTALLED.tarball, host.app_dir)
    for log in ("ingestion.log", "app.log"):
        (host.log_dir / log).touch()
    if not host.service:
        return
    shutil.copyfile(HERE / "service.sh", host.service_script)
    host.service_script.chmod(0o755)
    env = {
        "HOST_NAME": host.name,
        "APP_DIR": host.seen("/opt/app"),
        "LOG_DIR": host.seen("/var/log/app"),
        "RUN_DIR": host.seen("/tmp"),
        "QUEUE_DIR": host.seen("/tmp"),
        "DB_PATH": fleet.db_path,
        "HTTP_ADDRESS": host.address,
        "HTTP_PORT": fleet.api_port,
        "PYTHON": hostfleet.host_python() if fleet.isolated else sys.executable,
        "TRAFFIC_EVERY": 0.2,
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
    """How to reach the host. The folder fleet adds ``host_root``, the folder that
    stands for the host's ``/``; the runbook puts it before every host path."""
    if not fleet.isolated:
        return {"ansible_host": host.address, "ansible_connection": "local", "host_root": host.root}
    member = next(m for m in fleet.members if m.name == host.name)
    return {
        "ansible_host": member.address,
        "ansible_port": member.port,
        "ansible_user": "root",
        "ansible_ssh_private_key_file": fleet.ssh_dir / "client_key",
    }


def write_inventory(fleet: Fleet) -> None:
    if fleet.isolated:
        lines = [
            "# The demo fleet, written by examples/demo/fleet.py init --isolated: every host is",
            "# its own address, sshd, hostname, process table and /opt, /var/log/app, /scripts",
            "# and /tmp (docs/demo.md). Host keys are verified against known_hosts below.",
        ]
    else:
        lines = [
            "# The demo fleet, written by examples/demo/fleet.py init. Every host is a folder",
            "# on this machine (host_root), reached through the local connection; see docs/demo.md.",
        ]
    for group in ("app_tier", "db"):
        lines += ["", f"[{group}]"]
        for host in fleet.hosts:
            if host.group == group:
                pairs = " ".join(f"{k}={ini_value(v)}" for k, v in host_vars(fleet, host).items())
                lines.append(f"{host.name} {pairs}")
    python = hostfleet.host_python() if fleet.isolated else sys.executable
    lines += ["", "[all:vars]", f"ansible_python_interpreter={python}"]
    if fleet.isolated:
        lines += [
            "ansible_connection=ssh",
            f"ansible_ssh_common_args='-o UserKnownHostsFile={fleet.ssh_dir / 'known_hosts'} "
            "-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes'",
            "ansible_remote_tmp=/tmp/.ansible",
        ]
    fleet.inventory.parent.mkdir(parents=True, exist_ok=True)
    fleet.inventory.write_text("\n".join(lines) + "\n", encoding="utf-8")


def run_vars(fleet: Fleet) -> dict[str, str]:
    """The values runbooks/monthly-update.yaml needs for this fleet (docs/demo.md);
    only vars the runbook declares, and no host path: those are the seed's own."""
    return {
        "version": releases.TARGET.version,
        "deploy_dir": str(fleet.deploy_dir),
        "playbook": str(HERE / "ansible" / "orchestrate.yml"),
        "api_port": str(fleet.api_port),
        "db_dsn": f"sqlite:///{fleet.db_path}",
        "monitor_for": "20s",
        "monitor_every": "2s",
    }


def write_vars(fleet: Fleet) -> None:
    lines = ["# Vars for runbooks/monthly-update.yaml against this demo fleet (docs/demo.md)."]
    lines += [f"{key}: {json.dumps(value)}" for key, value in run_vars(fleet).items() if key != "api_port"]
    lines.append(f"api_port: {fleet.api_port}")
    (fleet.root / "vars.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def start_hosts(fleet: Fleet) -> Fleet:
    """Isolated fleet: start every host's namespaces and sshd; record host keys."""
    block = hostfleet.claim_block(
        fleet.root, len(fleet.hosts), [SSH_PORT, fleet.api_port], first=fleet.hosts[0].address
    )
    if block.addresses != tuple(host.address for host in fleet.hosts):
        raise FleetError(f"the fleet's addresses are taken: {', '.join(block.addresses)}")
    members: list[hostfleet.IsolatedHost] = []
    try:
        for host in fleet.hosts:
            members.append(
                hostfleet.start_host(
                    host.name, host.address, host.root, fleet.root / "sshd" / host.name,
                    fleet.root / "hosts", fleet.ssh_dir / "client_key.pub", port=SSH_PORT,
                )  # fmt: skip
            )
    except (RuntimeError, OSError) as error:
        for member in members:
            hostfleet.stop_host(member)
        raise FleetError(str(error)) from None
    started = fleet.with_members(tuple(members))
    started.save()
    (fleet.ssh_dir / "known_hosts").write_text(
        "".join(member.known_hosts_line() + "\n" for member in members)
    )
    return started


def start_fleet(fleet: Fleet) -> tuple[Fleet, list[str]]:
    """Start the hosts (isolated) and every app service; check each answers healthy."""
    if fleet.isolated and not any(hostfleet.host_processes(m) for m in fleet.members):
        fleet = start_hosts(fleet)
    problems = []
    for name, result in run_service(fleet, "start").items():
        if result.returncode != 0:
            problems.append(
                f"{name}: service.sh start exited {result.returncode}: {result.stdout.strip()}"
            )
    for host in fleet.app_hosts:
        answer = health(host.address, fleet.api_port)
        if answer is None or answer["status"] != 200:
            problems.append(f"{host.name}: /v1/health answered {answer}")
    return fleet, problems


def isolation_blocker() -> str | None:
    """Why this machine cannot run isolated hosts (not root, no unshare, an interpreter
    the hosts cannot see), or None; where the fleet root lies is `isolated_root`'s."""
    reason = hostfleet.isolation_unavailable()
    if reason is None:
        try:
            hostfleet.host_python()
        except RuntimeError as error:
            reason = str(error)
    return reason


def choose_kind(root: Path, isolated: bool) -> str:
    """The isolated fleet when asked for and possible; otherwise, in one line, why not."""
    if not isolated:
        return "folder"
    reason = isolation_blocker()
    inside = hostfleet.overlapping_path(root)
    if reason is None and inside is not None:
        reason = f"the fleet root {root} is under {inside}, which every host replaces"
    if reason is not None:
        print(f"fleet.py: isolated hosts unavailable ({reason}); using the folder fleet")
        return "folder"
    return "isolated"


def init(root: Path, isolated: bool = False) -> Fleet:
    reset(root)
    kind = choose_kind(root, isolated)
    root.mkdir(parents=True, exist_ok=True)  # reset kept runs/ and report/
    names = [*APP_HOSTS, DB_HOST]
    ports = [API_PORT, SSH_PORT] if kind == "isolated" else [API_PORT]
    try:
        block = hostfleet.claim_block(root, len(names), ports)
    except RuntimeError as error:
        raise FleetError(str(error)) from None
    hosts = tuple(
        FleetHost(
            name,
            "db" if name == DB_HOST else "app_tier",
            root / "hosts" / name,
            address,
            name != DB_HOST,
            "" if kind == "isolated" else str(root / "hosts" / name),
        )
        for name, address in zip(names, block.addresses, strict=True)
    )
    fleet = Fleet(root, kind, hosts)
    fleet.save()  # first, so that a failed init can still be reset
    fleet.deploy_dir.mkdir()
    for release in releases.RELEASES:
        releases.build(release, fleet.deploy_dir)
    (fleet.deploy_dir / "scripts").mkdir()
    shutil.copyfile(HERE / "service.sh", fleet.deploy_dir / "scripts" / "service.sh")
    for host in fleet.hosts:
        build_host(fleet, host)
    init_database(fleet)
    if fleet.isolated:
        hostfleet.write_client_key(fleet.ssh_dir)
        fleet = start_hosts(fleet)
    write_inventory(fleet)
    write_vars(fleet)
    return fleet


def break_deploy(fleet: Fleet, name: str) -> str:
    """Make the next release extraction fail on one host, and on that host only.

    A non-empty folder is left where every newer release ships a file, as a failed
    earlier attempt might leave it: ``tar`` cannot replace it (not even as root) and
    exits 2 after a partial extraction, while reading VERSION, backing up, restoring
    the backup and running v2.3.0 all still work. This is the seed's "Partial
    Deployment (Some Hosts Failed)".
    """
    host = fleet.host(name)
    shipped = {path.name for path in releases.INSTALLED.migrations()}
    newer = sorted(p.name for p in releases.TARGET.migrations() if p.name not in shipped)
    obstacle = host.app_dir / "migrations" / newer[0]
    obstacle.mkdir(parents=True, exist_ok=True)
    (obstacle / "left-by-a-failed-attempt").write_text("this folder blocks the deploy\n")
    return host.seen(f"/opt/app/migrations/{newer[0]}")  # as the host writes it


def set_fault(fleet: Fleet, name: str, kind: str) -> str:
    """Switch on a fault: an app host's queue stops draining (``queue-stalled``: the
    backlog grows), an app host logs minor errors (``log-errors``), or the database
    already holds a table the next migration creates (``migration-conflict``, on the
    db host)."""
    host = fleet.host(name)
    if kind == "migration-conflict":
        if host.group != "db":
            raise FleetError(f"{kind} is a fault of the database host, not of {name}")
        with sqlite3.connect(fleet.db_path) as db:  # a partial earlier attempt, as in the seed
            db.execute("CREATE TABLE event_metadata (id INTEGER PRIMARY KEY, leftover TEXT)")
        return "table event_metadata already exists: the v2.4.0 migration will fail"
    if not host.service:
        raise FleetError(f"{name} runs no service")
    (host.tmp_dir / FAULTS[kind]).write_text("set by fleet.py fault\n")
    return f"/tmp/{FAULTS[kind]}"


# --- reading the state -----------------------------------------------------------------

#: What a host reports about itself, one ``key=value`` per line, run on the host.
_HOST_REPORT = r"""
view=$1
echo "hostname=$(hostname)"
echo "version=$(cat "$view/opt/app/VERSION" 2>/dev/null)"
if [ -x "$view/scripts/service.sh" ]; then
    "$view/scripts/service.sh" status >/dev/null 2>&1; echo "service_rc=$?"
    echo "pid=$(cat "$view/tmp/app.pid" 2>/dev/null)"
fi
echo "backlog=$(find "$view/tmp" -maxdepth 1 -name '*.processing' | wc -l)"
echo "changelog=$(tail -n 1 "$view/opt/app/CHANGELOG.md" 2>/dev/null)"
echo "backups=$(ls "$view/opt/backups" 2>/dev/null | tr '\n' ' ')"
echo "shipped=$(ls "$view/tmp" 2>/dev/null | grep -c '^app-.*\.tar\.gz$')"
"""


def host_report(fleet: Fleet, host: FleetHost) -> dict[str, str]:
    """The host's own account of itself, read on the host (over its sshd, isolated)."""
    command = "bash -c " + shlex.quote(_HOST_REPORT) + " report " + shlex.quote(host.view)
    done = on_host(fleet, host, command)
    if done.returncode != 0:
        return {"error": (done.stderr or done.stdout).strip()[-300:] or f"exit {done.returncode}"}
    return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)


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
        report = host_report(fleet, host)
        running = host.service and report.get("service_rc") == "0"
        pid = report.get("pid", "")
        hosts[host.name] = {
            "group": host.group,
            "root": str(host.root),
            "address": host.address,
            "hostname": report.get("hostname"),
            "version": report.get("version") or None,
            "port": fleet.api_port if host.service else None,
            "service": host.service,
            "running": running,
            "pid": int(pid) if running and pid.isdigit() else None,
            "health": health(host.address, fleet.api_port) if host.service else None,
            "backlog": int(report.get("backlog") or 0),
            "changelog": report.get("changelog", ""),
            "backups": report.get("backups", "").split(),
            "shipped_tarballs": int(report.get("shipped") or 0),
            "error": report.get("error"),
        }
    return {
        "root": str(fleet.root),
        "kind": fleet.kind,
        "hosts": hosts,
        "database": database_state(fleet),
    }


def status_table(state: dict[str, Any]) -> Iterator[str]:
    yield f"{'HOST':<13} {'GROUP':<9} {'ADDRESS':<12} {'VERSION':<15} {'RUNNING':<8} HEALTH"
    for name, host in state["hosts"].items():
        if not host["service"]:
            running, answer = "-", "- (no service)"
        else:
            running = "yes" if host["running"] else "no"
            found = host["health"]
            answer = (
                "no answer"
                if found is None
                else f"{found['status']} {(found['json'] or {}).get('status', '')}"
            )
        yield f"{name:<13} {host['group']:<9} {host['address']:<12} {host['version'] or '?':<15} {running:<8} {answer}"
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
        ("start", "start every host (isolated) and app service"),
        ("stop", "stop every process the fleet started"),
        ("status", "a table of hosts: address, version, running, health"),
        ("state", "the real state of hosts (read on each host) and database"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument(
            "--root", type=Path, default=Path(".demo"), help="fleet folder (default .demo)"
        )
        if name == "state":
            command.add_argument("--json", action="store_true", help="print JSON")
        if name == "init":
            command.add_argument(
                "--isolated",
                action="store_true",
                help="separate hosts (namespaces, own sshd each); falls back to folders without root",
            )
    fault = commands.add_parser(
        "break-deploy",
        help="make the next deploy fail on one host (partial deployment)",
        description=break_deploy.__doc__,
    )
    fault.add_argument("--root", type=Path, default=Path(".demo"), help="fleet folder")
    fault.add_argument("--host", required=True, help="the host whose deploy must fail")
    switch = commands.add_parser("fault", help="switch on a service fault on one host", description=set_fault.__doc__)
    switch.add_argument("--root", type=Path, default=Path(".demo"), help="fleet folder")
    switch.add_argument("--host", required=True, help="the app host")
    switch.add_argument("--kind", required=True, choices=sorted(FAULTS))
    args = parser.parse_args(argv)
    root = args.root.resolve()
    try:
        if args.command == "init" and args.isolated and isolation_blocker() is None:
            root = isolated_root(args.root)
        if args.command == "break-deploy":
            obstacle = break_deploy(Fleet.load(root), args.host)
            print(f"the next deploy on {args.host} will fail: {obstacle} is in the way")
            return 0
        if args.command == "fault":
            switched = set_fault(Fleet.load(root), args.host, args.kind)
            print(f"{args.host}: {args.kind} ({switched})")
            return 0
        return run(args.command, root, getattr(args, "json", False), getattr(args, "isolated", False))
    except FleetError as error:
        print(f"fleet.py {args.command}: {error}", file=sys.stderr)
        return 1


def run(command: str, root: Path, as_json: bool, isolated: bool = False) -> int:
    if command == "stop":
        if not (root / MARKER).is_file():
            print(f"no demo fleet at {root}: nothing to stop")
            return 0
        fleet = Fleet.load(root)
        leftovers = stop_fleet(fleet)
        for line in leftovers:
            print(f"left over: {line}", file=sys.stderr)
        if not leftovers:
            print(f"stopped every process of the {fleet.kind} demo fleet at {root}")
        return 1 if leftovers else 0
    if command == "init":
        fleet, problems = start_fleet(init(root, isolated))
        print(f"fleet: {fleet.kind}" + (" (separate hosts: namespaces, own sshd each)" if fleet.isolated else " (folders on this machine)"))
    elif command == "start":
        fleet, problems = start_fleet(Fleet.load(root))
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

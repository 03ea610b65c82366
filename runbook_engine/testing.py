"""Helpers for testing executors: a `StepCall` builder for plugin authors, and a fleet
of real OpenSSH daemons on 127.0.0.1 so remote executors are tested against the real
thing, not a mock.

Each fleet "host" is its own ``sshd -D`` on a free high port with its own host key and
its own root folder (``RUNBOOK_HOST_ROOT`` in the session environment and the ``root``
host var), so ``{{ host.vars.app_dir }}`` differs per host although every daemon runs on
this machine. ``SetEnv SHLVL=1`` makes the remote bash think it is nested, so it skips
``~/.bashrc`` (Debian's bash sources it for ssh commands at shell level 1), which would
otherwise cost each command the start-up of whatever that file runs.

`IsolatedFleet` goes further (runbook_engine.hostfleet): each host has its own
loopback address, sshd, hostname, PID namespace and its own /opt, /var/log/app,
/scripts and /tmp, so the seed's real paths work and nothing one host does is seen by
another. ``isolated_fleet_factory`` starts such fleets for tests.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from runbook_engine import hostfleet
from runbook_engine.executors.base import Host, StepCall, StepServices

SSHD = "/usr/sbin/sshd"

__all__ = [
    "FleetHost",
    "IsolatedFleet",
    "isolated_fleet_factory",
    "start_isolated_fleet",
    "SshFleet",
    "make_call",
    "local_hosts",
    "sshd_available",
    "start_sshd_fleet",
    "sshd_fleet",
    "sshd_fleet_factory",
]


def make_call(
    spec: Any,
    hosts: Sequence[Host] = (),
    *,
    step_id: str = "step",
    values: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    options: Mapping[str, Any] | None = None,
    services: StepServices | None = None,
    workdir: Path | None = None,
    log: Callable[[str, str | None], None] | None = None,
) -> StepCall:
    """A `StepCall` that renders exactly like a run: the engine's own `Renderer` and
    rendering path (`engine.dispatch.step_renderers`), so commands are shell-quoted as
    in production; ``values`` are the vars, the current host is ``host``, ``steps``
    is empty. ``services`` defaults to no-op hooks."""
    from runbook_engine.engine.dispatch import step_renderers
    from runbook_engine.templating import Renderer

    renderer = Renderer(dict(values or {}), {"run": {"id": "test-run"}})
    render, render_command = step_renderers(
        renderer, lambda host: {"steps": {}, "host": host}
    )
    kwargs: dict[str, Any] = {}
    if log is not None:
        kwargs["log"] = log
    return StepCall(
        step_id=step_id,
        spec=spec,
        hosts=tuple(hosts),
        timeout=timeout,
        workdir=workdir or Path("."),
        options=dict(options or {}),
        services=services or StepServices(),
        render=render,
        render_command=render_command,
        **kwargs,
    )


def local_hosts(root: Path, names: Sequence[str]) -> tuple[Host, ...]:
    """Hosts with ``connection: local``, each with its own root folder under ``root``."""
    hosts = []
    for name in names:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        hosts.append(
            Host(
                name=name,
                address="127.0.0.1",
                connection="local",
                vars={"root": str(folder), "app_dir": str(folder / "opt" / "app")},
                groups=("all",),
            )
        )
    return tuple(hosts)


def sshd_available() -> str | None:
    """Why a real sshd fleet cannot start here, or None when it can."""
    if not Path(SSHD).exists():
        return f"{SSHD} is not installed (apt-get install openssh-server)"
    if os.geteuid() != 0:
        return "sshd must run as root to accept logins"
    try:
        import asyncssh  # noqa: F401
    except ImportError:
        return "asyncssh is not installed (pip install 'runbook-engine[ssh]')"
    return None


@dataclass
class FleetHost:
    """One sshd daemon of the fleet."""

    name: str
    port: int
    root: Path
    config: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class SshFleet:
    """Real sshd daemons on 127.0.0.1; `stop` one to make that host unreachable."""

    directory: Path
    client_key: Path
    known_hosts: Path
    members: list[FleetHost] = field(default_factory=list)
    user: str = "root"

    def hosts(self) -> tuple[Host, ...]:
        return tuple(self.host(member.name) for member in self.members)

    def host(self, name: str) -> Host:
        member = self.member(name)
        return Host(
            name=member.name,
            address="127.0.0.1",
            port=member.port,
            user=self.user,
            connection="ssh",
            vars={
                "root": str(member.root),
                "app_dir": str(member.root / "opt" / "app"),
                "ansible_host": "127.0.0.1",
                "ansible_port": member.port,
                "ansible_user": self.user,
            },
            groups=("all", "fleet"),
        )

    def member(self, name: str) -> FleetHost:
        for member in self.members:
            if member.name == name:
                return member
        raise KeyError(name)

    def ssh_options(self) -> dict[str, Any]:
        """Spec keys for the ssh executor that trust exactly this fleet."""
        return {"key_file": str(self.client_key), "known_hosts": str(self.known_hosts)}

    def stop(self, name: str) -> None:
        """Stop the daemon and every session it forked, like a host going down."""
        member = self.member(name)
        if member.process is None:
            return
        sessions = hostfleet.descendants(member.process.pid)  # sshd puts each session in its own setsid
        for pid in [member.process.pid, *sessions]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        member.process.wait(timeout=10)
        member.process = None

    def start(self, name: str) -> None:
        member = self.member(name)
        if not member.running:
            member.process = _spawn(member.config, member.port)

    def close(self) -> None:
        for member in self.members:
            self.stop(member.name)

    def write_inventory(
        self, path: Path, groups: Mapping[str, Sequence[str]] | None = None
    ) -> Path:
        """An Ansible INI inventory of the fleet, ready for ansible-playbook (key,
        verified host keys, this venv's Python on the far side)."""
        lines = ["[fleet]"]
        for member in self.members:
            lines.append(
                f"{member.name} ansible_host=127.0.0.1 ansible_port={member.port} "
                f"ansible_user={self.user} root={member.root} app_dir={member.root / 'opt' / 'app'}"
            )
        for group, names in (groups or {}).items():
            lines += ["", f"[{group}]", *names]
        lines += [
            "",
            "[fleet:vars]",
            "ansible_connection=ssh",
            f"ansible_ssh_private_key_file={self.client_key}",
            f"ansible_ssh_common_args='-o UserKnownHostsFile={self.known_hosts} "
            "-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes'",
            f"ansible_python_interpreter={sys.executable}",
        ]
        path.write_text("\n".join(lines) + "\n")
        return path


def start_sshd_fleet(
    directory: Path, names: Sequence[str] = ("app-01", "app-02", "app-03")
) -> SshFleet:
    """Start one sshd per name under ``directory``; the caller must `close()` it."""
    import asyncssh

    Path("/run/sshd").mkdir(parents=True, exist_ok=True)
    directory.mkdir(parents=True, exist_ok=True)
    client = asyncssh.generate_private_key("ssh-ed25519")
    client_key = directory / "client_key"
    client.write_private_key(str(client_key))
    client_key.chmod(0o600)
    client.write_public_key(str(directory / "client_key.pub"))
    fleet = SshFleet(directory, client_key, directory / "known_hosts")
    known: list[str] = []
    try:
        for name in names:
            member = _start_member(directory, name)
            fleet.members.append(member)
            public = (directory / name / "host_key.pub").read_text().split()
            known.append(f"[127.0.0.1]:{member.port} {public[0]} {public[1]}")
    except BaseException:
        fleet.close()
        raise
    fleet.known_hosts.write_text("\n".join(known) + "\n")
    return fleet


def _start_member(directory: Path, name: str) -> FleetHost:
    import asyncssh

    folder = directory / name
    root = folder / "root"
    (root / "opt" / "app").mkdir(parents=True, exist_ok=True)
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    host_key.write_private_key(str(folder / "host_key"))
    (folder / "host_key").chmod(0o600)
    host_key.write_public_key(str(folder / "host_key.pub"))
    last_error = ""
    for _ in range(5):
        port = _free_port()
        config = folder / "sshd_config"
        config.write_text(
            hostfleet.sshd_config(
                port,
                "127.0.0.1",
                folder / "host_key",
                directory / "client_key.pub",
                folder / "sshd.pid",
                {"RUNBOOK_HOST_ROOT": str(root), "RUNBOOK_HOST": name},
            )
        )
        try:
            return FleetHost(name, port, root, config, _spawn(config, port))
        except RuntimeError as exc:  # another process took the port in between
            last_error = str(exc)
    raise RuntimeError(f"sshd for {name} did not start: {last_error}")


def _spawn(config: Path, port: int) -> subprocess.Popen[bytes]:
    log = open(config.with_name("sshd.log"), "ab")  # noqa: SIM115 - owned by the daemon
    process = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    log.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(config.with_name("sshd.log").read_text()[-500:])
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5) as s:
            if s.recv(4).startswith(b"SSH-"):
                return process
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    raise RuntimeError(f"sshd on port {port} did not answer within 10 s")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class IsolatedFleet:
    """Separate hosts on this machine (see runbook_engine.hostfleet); `close` leaves no
    process, no mount and no folder behind."""

    directory: Path
    members: list[hostfleet.IsolatedHost]
    user: str = "root"

    @property
    def client_key(self) -> Path:
        return self.directory / "ssh" / "client_key"

    @property
    def known_hosts(self) -> Path:
        return self.directory / "ssh" / "known_hosts"

    def member(self, name: str) -> hostfleet.IsolatedHost:
        return next(m for m in self.members if m.name == name)

    def folder(self, name: str) -> Path:
        """The host's backing folder (opt/, var/log/app/, scripts/, tmp/), for setting
        a host up; read a host's state with `ssh` instead."""
        return self.member(name).folder

    def ssh_vars(self, name: str) -> dict[str, Any]:
        member = self.member(name)
        return {
            "ansible_host": member.address,
            "ansible_port": member.port,
            "ansible_user": self.user,
            "ansible_ssh_private_key_file": str(self.client_key),
            "ansible_ssh_common_args": f"-o UserKnownHostsFile={self.known_hosts} "
            "-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes",
        }

    def host(self, name: str) -> Host:
        member = self.member(name)
        return Host(
            name=name,
            address=member.address,
            port=member.port,
            user=self.user,
            connection="ssh",
            vars=self.ssh_vars(name),
            groups=("all", "fleet"),
        )

    def hosts(self) -> tuple[Host, ...]:
        return tuple(self.host(m.name) for m in self.members)

    def ssh(self, name: str, command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run ``command`` on the host over its own sshd with OpenSSH, host key verified."""
        member = self.member(name)
        argv = [
            "ssh", "-q", "-i", str(self.client_key), "-o", f"UserKnownHostsFile={self.known_hosts}",
            "-o", "StrictHostKeyChecking=yes", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-p", str(member.port), f"{self.user}@{member.address}", command,
        ]  # fmt: skip
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def write_inventory(self, path: Path, groups: Mapping[str, Sequence[str]] | None = None) -> Path:
        lines = ["[fleet]"]
        for member in self.members:
            pairs = {k: v for k, v in self.ssh_vars(member.name).items() if k != "ansible_ssh_common_args"}
            lines.append(member.name + " " + " ".join(f"{k}={v}" for k, v in pairs.items()))
        for group, names in (groups or {}).items():
            lines += ["", f"[{group}]", *names]
        lines += [
            "",
            "[fleet:vars]",
            "ansible_connection=ssh",
            f"ansible_ssh_common_args='{self.ssh_vars(self.members[0].name)['ansible_ssh_common_args']}'",
            f"ansible_python_interpreter={hostfleet.host_python()}",
            "ansible_remote_tmp=/tmp/.ansible",
        ]
        path.write_text("\n".join(lines) + "\n")
        return path

    def close(self) -> None:
        for member in self.members:
            hostfleet.stop_host(member)
        self.members = []
        hostfleet.release_block(self.directory)
        shutil.rmtree(self.directory, ignore_errors=True)


def start_isolated_fleet(
    names: Sequence[str] = ("app-01", "app-02", "app-03"), directory: Path | None = None
) -> IsolatedFleet:
    """Start one isolated host per name; the caller must `close()` the fleet."""
    directory = directory or hostfleet.default_fleet_base()
    block = hostfleet.claim_block(directory, len(names), [22])
    fleet = IsolatedFleet(directory, [])
    try:
        key = hostfleet.write_client_key(directory / "ssh")
        for name, address in zip(names, block.addresses, strict=True):
            fleet.members.append(
                hostfleet.start_host(
                    name, address, directory / "hosts" / name, directory / "sshd" / name,
                    directory / "hosts", key.with_suffix(".pub"),
                )  # fmt: skip
            )
        fleet.known_hosts.write_text("".join(m.known_hosts_line() + "\n" for m in fleet.members))
    except BaseException:
        fleet.close()
        raise
    return fleet


@pytest.fixture
def isolated_fleet_factory() -> Iterator[Callable[..., IsolatedFleet]]:
    """Start fleets of isolated hosts: ``isolated_fleet_factory(["a", "b"])``. Skips
    when they cannot run here (the CI conftest turns that into a failure)."""
    reason = hostfleet.isolation_unavailable()
    if reason:
        pytest.skip(reason)
    fleets: list[IsolatedFleet] = []

    def start(names: Sequence[str] = ("app-01", "app-02", "app-03")) -> IsolatedFleet:
        fleet = start_isolated_fleet(names)
        fleets.append(fleet)
        return fleet

    yield start
    for fleet in fleets:
        fleet.close()


@pytest.fixture
def sshd_fleet_factory(tmp_path: Path) -> Iterator[Callable[..., SshFleet]]:
    """Start fleets of real sshd daemons: ``sshd_fleet_factory(["a", "b"])``.
    Skips when sshd cannot run here (the CI conftest turns that into a failure)."""
    reason = sshd_available()
    if reason:
        pytest.skip(reason)
    fleets: list[SshFleet] = []

    def start(names: Sequence[str] = ("app-01", "app-02", "app-03")) -> SshFleet:
        fleet = start_sshd_fleet(tmp_path / f"fleet{len(fleets)}", names)
        fleets.append(fleet)
        return fleet

    yield start
    for fleet in fleets:
        fleet.close()


@pytest.fixture
def sshd_fleet(sshd_fleet_factory: Callable[..., SshFleet]) -> SshFleet:
    """Three real sshd hosts, app-01..app-03."""
    return sshd_fleet_factory()

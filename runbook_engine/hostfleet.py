"""Separate hosts on one machine: each its own loopback address, OpenSSH server,
hostname, process table and view of /opt, /var/log/app, /scripts and /tmp.

A host is ``unshare --uts --mount --pid --fork --mount-proc`` (util-linux) running a
short script that bind-mounts the host's own folders over those paths, hides every
host's backing folder under a tmpfs, sets the hostname and execs ``sshd -D`` on the
host's address. Mount propagation is private, so nothing mounted inside is seen
outside; killing the namespace's first process ends every process of the host and,
with them, its mounts. Needs root. Standard library only (keys come from
``ssh-keygen``), so the demo's ``fleet.py`` can use it without the test tools.

Addresses come in blocks (127.0.0.11, .12, … then 127.0.1.11, …) claimed under a lock
in `CLAIMS_DIR`, so parallel pytest workers and parallel test sessions never share
one; ``RUNBOOK_FLEET_ADDRESSES=127.0.5.11`` pins the first address.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "HOST_PATHS",
    "AddressBlock",
    "IsolatedHost",
    "claim_block",
    "default_fleet_base",
    "descendants",
    "host_processes",
    "isolation_unavailable",
    "host_python",
    "overlapping_path",
    "release_block",
    "sshd_config",
    "start_host",
    "stop_host",
    "write_client_key",
]

SSHD = "/usr/sbin/sshd"
UNSHARE = "unshare"
#: The paths every host sees as its own; the backing folder holds each under the same name.
HOST_PATHS = ("opt", "var/log/app", "scripts", "tmp")
#: Where address claims live (one JSON file per block) and the lock guarding them:
#: /run for root (every root session of the machine shares it), else a per-user folder
#: (an ordinary user builds folder fleets only; the bind check guards the rest).
CLAIMS_DIR = Path(
    os.environ.get("RUNBOOK_FLEET_CLAIMS")
    or (
        "/run/runbook-fleet-claims"
        if os.geteuid() == 0
        else Path(tempfile.gettempdir()) / f"runbook-fleet-claims-{os.geteuid()}"
    )
)
ADDRESS_ENV = "RUNBOOK_FLEET_ADDRESSES"
FIRST_HOST = 11
BLOCKS = 200

_HOST_SCRIPT = r"""
set -eu
name=$1 folder=$2 hide=$3 config=$4
hostname "$name"
for path in opt var/log/app scripts tmp; do
    mkdir -p "/$path"
    mount --bind "$folder/$path" "/$path"
done
mount -t tmpfs -o size=64k,mode=0700 fleet-hosts "$hide"
exec "$5" -D -e -f "$config"
"""


def isolation_unavailable() -> str | None:
    """Why isolated hosts cannot start here (one line), or None when they can."""
    if os.geteuid() != 0:
        return "isolated hosts need root (mount and PID namespaces, sshd logins)"
    for tool in (SSHD, shutil.which(UNSHARE), shutil.which("ssh-keygen")):
        if not tool or not Path(tool).exists():
            return "isolated hosts need util-linux unshare, openssh-server and ssh-keygen"
    probe = subprocess.run(
        [UNSHARE, "--uts", "--mount", "--pid", "--fork", "--mount-proc", "true"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if probe.returncode != 0:
        return f"namespaces are not available here: {probe.stderr.strip() or probe.returncode}"
    return None


# --- addresses -------------------------------------------------------------------------


@dataclass(frozen=True)
class AddressBlock:
    """Consecutive loopback addresses, one per host, all free on ``ports``."""

    first: str
    count: int

    @property
    def addresses(self) -> tuple[str, ...]:
        start = ipaddress.IPv4Address(self.first)
        return tuple(str(start + i) for i in range(self.count))

    @property
    def key(self) -> str:
        return self.first


def _candidates(count: int, first: str | None) -> Iterator[str]:
    pinned = first or os.environ.get(ADDRESS_ENV)
    if pinned:
        yield pinned
        return
    for block in range(BLOCKS):
        if FIRST_HOST + count <= 255:
            yield f"127.0.{block}.{FIRST_HOST}"


def _bindable(address: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError:
            return False
    return True


@contextlib.contextmanager
def _claims_locked() -> Iterator[Path]:
    CLAIMS_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(CLAIMS_DIR / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield CLAIMS_DIR
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _claim_alive(claim: Path) -> bool:
    """A claim holds while the folder that made it still says it owns the block."""
    try:
        data = json.loads(claim.read_text())
        owner = Path(data["owner"]) / ".address-block"
        return bool(owner.read_text().strip() == data["first"])
    except (OSError, ValueError, KeyError, TypeError):
        return False


def claim_block(
    owner: Path, count: int, ports: Sequence[int], first: str | None = None
) -> AddressBlock:
    """Claim a block of ``count`` addresses free on every port for ``owner`` (a fleet
    folder); it stays claimed until `release_block` or until ``owner`` is deleted.
    ``first`` asks for one block only (a fleet restarting on its own addresses)."""
    with _claims_locked() as claims:
        for candidate in _candidates(count, first):
            block = AddressBlock(candidate, count)
            claim = claims / block.key
            if claim.exists() and not _claim_alive(claim):
                claim.unlink(missing_ok=True)  # its fleet folder is gone
            if claim.exists():
                with contextlib.suppress(OSError, ValueError):
                    if json.loads(claim.read_text()).get("owner") == str(owner.resolve()):
                        return block
                continue
            if not all(_bindable(a, p) for a in block.addresses for p in ports):
                continue
            owner.mkdir(parents=True, exist_ok=True)
            (owner / ".address-block").write_text(block.first + "\n")
            claim.write_text(json.dumps({"first": block.first, "owner": str(owner.resolve())}))
            return block
    pinned = first or os.environ.get(ADDRESS_ENV)
    where = f"{ADDRESS_ENV}={pinned}" if pinned else f"127.0.0-{BLOCKS - 1}.{FIRST_HOST}+"
    raise RuntimeError(f"no free block of {count} loopback addresses ({where}) on ports {list(ports)}")


def release_block(owner: Path) -> None:
    marker = owner / ".address-block"
    try:
        first = marker.read_text().strip()
    except OSError:
        return
    with _claims_locked() as claims:
        with contextlib.suppress(OSError):
            data = json.loads((claims / first).read_text())
            if data.get("owner") == str(owner.resolve()):
                (claims / first).unlink()
        marker.unlink(missing_ok=True)


# --- hosts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class IsolatedHost:
    """One running host: its namespace's ``unshare`` process and where it listens."""

    name: str
    address: str
    port: int
    folder: Path  # the backing folder: opt/, var/log/app/, scripts/, tmp/
    sshd_dir: Path  # config, host key, log
    pid: int  # the unshare process; the host lives as long as it does

    def known_hosts_line(self) -> str:
        key = (self.sshd_dir / "host_key.pub").read_text().split()
        name = self.address if self.port == 22 else f"[{self.address}]:{self.port}"
        return f"{name} {key[0]} {key[1]}"

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "address": self.address,
            "port": self.port,
            "folder": str(self.folder),
            "sshd_dir": str(self.sshd_dir),
            "pid": self.pid,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> IsolatedHost:
        return cls(
            str(data["name"]),
            str(data["address"]),
            int(str(data["port"])),
            Path(str(data["folder"])),
            Path(str(data["sshd_dir"])),
            int(str(data["pid"])),
        )


def _keygen(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.with_suffix(".pub").unlink(missing_ok=True)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)],
        check=True,
        capture_output=True,
    )


def write_client_key(directory: Path) -> Path:
    """The fleet's login key pair (``client_key``, ``client_key.pub``) in directory."""
    directory.mkdir(parents=True, exist_ok=True)
    key = directory / "client_key"
    _keygen(key)
    return key


def overlapping_path(path: Path) -> str | None:
    resolved = path.resolve()
    for host_path in HOST_PATHS:
        mount = Path("/") / host_path
        if resolved == mount or mount in resolved.parents:
            return str(mount)
    return None


def host_python(executable: str | None = None) -> str:
    """An interpreter an isolated host can run: the real file behind a venv's python.

    A venv (or a checkout) under /tmp or /opt is hidden by the host's own view of those
    folders; the interpreter behind it needs nothing from the venv (the demo service and
    Ansible's modules use the standard library only)."""
    real = Path(executable or sys.executable).resolve()
    inside = overlapping_path(real)
    if inside is not None:
        raise RuntimeError(
            f"the Python interpreter {real} lies under {inside}, which every isolated host"
            " replaces with its own folder; install Python elsewhere or use the folder fleet"
        )
    return str(real)


def sshd_config(
    port: int,
    address: str,
    host_key: Path,
    authorized_keys: Path,
    pid_file: Path,
    env: Mapping[str, str],
) -> str:
    """The sshd_config of a test host: key login only, sftp, quiet, and ``SHLVL=1`` so
    the remote bash skips root's ~/.bashrc (its pyenv init costs ~150 ms a command)."""
    variables = " ".join(f"{k}={v}" for k, v in {"SHLVL": "1", **env}.items())
    return "\n".join(
        [
            f"Port {port}",
            f"ListenAddress {address}",
            f"HostKey {host_key}",
            f"AuthorizedKeysFile {authorized_keys}",
            f"PidFile {pid_file}",
            "StrictModes no",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "UseDNS no",
            "PrintMotd no",
            "MaxStartups 100:30:200",
            "MaxSessions 50",
            f"SetEnv {variables}",
            "Subsystem sftp internal-sftp",
            "LogLevel ERROR",
            "",
        ]
    )


def start_host(
    name: str,
    address: str,
    folder: Path,
    sshd_dir: Path,
    hide: Path,
    authorized_keys: Path,
    *,
    port: int = 22,
    env: Mapping[str, str] | None = None,
) -> IsolatedHost:
    """Start host ``name``: its folders under ``folder`` become its /opt, /var/log/app,
    /scripts and /tmp, ``hide`` (the folder holding every host's folder) is covered
    by an empty tmpfs inside, and sshd answers on ``address:port``."""
    for needed in (folder, sshd_dir, authorized_keys):
        inside = overlapping_path(needed)
        if inside:
            raise RuntimeError(
                f"{needed} is under {inside}, which each host replaces with its own: "
                "put the fleet somewhere else (e.g. /var/tmp)"
            )
    for host_path in HOST_PATHS:
        (folder / host_path).mkdir(parents=True, exist_ok=True)
    (folder / "tmp").chmod(0o1777)
    sshd_dir.mkdir(parents=True, exist_ok=True)
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)
    _keygen(sshd_dir / "host_key")
    config = sshd_dir / "sshd_config"
    config.write_text(
        sshd_config(
            port, address, sshd_dir / "host_key", authorized_keys, sshd_dir / "sshd.pid", env or {}
        )
    )
    log = open(sshd_dir / "sshd.log", "ab")  # noqa: SIM115 - owned by the host
    process = subprocess.Popen(
        [
            UNSHARE, "--uts", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
            "--propagation", "private",
            "/bin/bash", "-c", _HOST_SCRIPT, "host",
            name, str(folder), str(hide), str(config), SSHD,
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )  # fmt: skip
    log.close()
    host = IsolatedHost(name, address, port, folder, sshd_dir, process.pid)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            text = (sshd_dir / "sshd.log").read_text(errors="replace")[-500:]
            raise RuntimeError(f"host {name} did not start: {text.strip()}")
        with contextlib.suppress(OSError), socket.create_connection((address, port), 0.5) as s:
            if s.recv(4).startswith(b"SSH-"):
                return host
        time.sleep(0.02)
    stop_host(host)
    raise RuntimeError(f"host {name}: sshd on {address}:{port} did not answer within 15 s")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _is_our_unshare(pid: int) -> bool:
    try:
        return b"unshare" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return False


def host_processes(host: IsolatedHost) -> list[int]:
    """The host's processes as this machine numbers them (its unshare and below)."""
    if not _is_our_unshare(host.pid):
        return []
    return [host.pid, *descendants(host.pid)]


def stop_host(host: IsolatedHost, timeout: float = 10.0) -> list[int]:
    """Kill the host: its namespace's first process takes every other one with it, and
    the mounts go with the last. Returns the pids still alive afterwards."""
    pids = host_processes(host)
    for pid in reversed(pids):  # the namespace's init first would be fine too
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(-1, os.WNOHANG)
        time.sleep(0.02)
    return [p for p in pids if _alive(p)]


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def fleet_dir() -> Path:
    """Where isolated fleets live: outside every path a host replaces (/tmp among
    them); ``RUNBOOK_FLEET_DIR`` moves it."""
    return Path(os.environ.get("RUNBOOK_FLEET_DIR", "/var/tmp/runbook-fleets"))


def default_fleet_base() -> Path:
    """A fresh folder for a test fleet, under `fleet_dir`."""
    base = fleet_dir()
    base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="fleet-", dir=base))

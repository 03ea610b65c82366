"""The same monthly update, but every host of the demo fleet is reached through its own
real OpenSSH daemon: the ssh executor over asyncssh and ansible-playbook over ssh,
with host keys verified from the inventory's UserKnownHostsFile."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from runbook_engine.testing import SshFleet
from tests.e2e.test_monthly_update import app_hosts, applied_ids, fleet, run_update, state

HOSTS = ("app-01", "app-02", "app-03", "db-coord-01")


def ssh_inventory(local_inventory: Path, sshd: SshFleet) -> Path:
    """The demo inventory with each host switched from the local connection to its sshd."""
    lines = []
    for line in local_inventory.read_text(encoding="utf-8").splitlines():
        name = line.split(" ", 1)[0]
        if name in HOSTS and "ansible_connection=local" in line:
            member = sshd.member(name)
            line = line.replace(
                "ansible_connection=local",
                f"ansible_connection=ssh ansible_port={member.port} ansible_user={sshd.user} "
                f"ansible_ssh_private_key_file={sshd.client_key} "
                f"ansible_ssh_common_args='-o UserKnownHostsFile={sshd.known_hosts} "
                "-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes'",
            )
        lines.append(line)
    path = local_inventory.with_name("hosts.ssh")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.service("sshd")
def test_update_over_real_sshd_with_ansible(tmp_path: Path, sshd_fleet_factory: Callable[..., SshFleet]) -> None:
    sshd = sshd_fleet_factory(HOSTS)
    root = tmp_path / "fleet"
    fleet(root, "init")
    try:
        inventory = ssh_inventory(root / "inventory" / "hosts", sshd)
        assert inventory.read_text().count("ansible_connection=ssh") == len(HOSTS)
        done = run_update(root, "v2.4.0", inventory=inventory)
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
        after = state(root)
        for name, host in app_hosts(after).items():
            assert host["version"] == "v2.4.0", name
            assert host["health"]["json"]["version"] == "v2.4.0", name
        assert applied_ids(after) == ["20251101", "20251201", "20251215"]
        # the services were started by ansible-playbook through each host's own sshd:
        # their environment carries that daemon's SSH_CONNECTION (server port)
        for name, host in app_hosts(after).items():
            environ = Path(f"/proc/{host['pid']}/environ").read_bytes().split(b"\0")
            connection = next(v for v in environ if v.startswith(b"SSH_CONNECTION="))
            assert connection.split()[-1] == str(sshd.member(name).port).encode(), name
    finally:
        fleet(root, "stop")

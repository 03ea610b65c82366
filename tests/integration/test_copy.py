"""The copy executor against isolated hosts (each its own sshd and /tmp, /opt), and
against local-connection hosts: idempotence, checksums, folders, modes, undo, rollout."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runbook_engine.executors.base import Result
from runbook_engine.executors.copy import CopyExecutor
from runbook_engine.testing import IsolatedFleet, local_hosts, make_call


def run(spec: dict[str, Any], hosts: Any, workdir: Path, **kwargs: Any) -> Result:
    async def scenario() -> Result:
        executor = CopyExecutor()
        try:
            return await executor.run(make_call(spec, hosts, workdir=workdir, **kwargs))
        finally:
            await executor.close()

    return asyncio.run(scenario())


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def fleet(isolated_fleet_factory: Callable[..., IsolatedFleet]) -> IsolatedFleet:
    return isolated_fleet_factory(["app-01", "app-02"])


@pytest.mark.service("sshd")
def test_file_is_shipped_verified_and_then_skipped_as_unchanged(fleet: IsolatedFleet, tmp_path: Path) -> None:
    (tmp_path / "app-v2.4.0.tar.gz").write_bytes(b"release" * 1000)
    spec = {"src": "app-v2.4.0.tar.gz", "dest": "/tmp/", "mode": "0640"}
    first = run(spec, fleet.hosts(), tmp_path)
    assert first.ok, first.error
    assert first.fields["changed"] == 2 and first.fields["bytes"] == 2 * 7000
    for name in ("app-01", "app-02"):
        host = first.hosts[name]
        assert host["changed"] is True and host["checksum"] == digest(b"release" * 1000)
        seen = fleet.ssh(name, "sha256sum /tmp/app-v2.4.0.tar.gz; stat -c %a /tmp/app-v2.4.0.tar.gz")
        assert seen.stdout.split()[0] == digest(b"release" * 1000), seen
        assert seen.stdout.split()[-1] == "640"
    assert fleet.ssh("app-01", "ls /tmp/.runbook-copy-* 2>/dev/null | wc -l").stdout.strip() == "0"
    again = run(spec, fleet.hosts(), tmp_path)
    assert again.ok and again.fields["changed"] == 0 and again.fields["bytes"] == 0
    assert all(h["changed"] is False for h in again.hosts.values())


@pytest.mark.service("sshd")
def test_folder_creates_parents_and_ships_only_what_differs(fleet: IsolatedFleet, tmp_path: Path) -> None:
    configs = tmp_path / "configs" / "production"
    (configs / "sub").mkdir(parents=True)
    (configs / "app.yml").write_text("metadata_enabled: true\n")
    (configs / "sub" / "extra.env").write_text("API_VERSION=v2\n")
    spec = {"src": "configs/production/", "dest": "/opt/app/config/"}
    assert run(spec, fleet.hosts(), tmp_path).ok
    listing = fleet.ssh("app-02", "cat /opt/app/config/app.yml /opt/app/config/sub/extra.env")
    assert listing.stdout == "metadata_enabled: true\nAPI_VERSION=v2\n"
    fleet.ssh("app-02", "echo drift > /opt/app/config/app.yml")
    second = run(spec, fleet.hosts(), tmp_path)
    assert second.hosts["app-01"]["changed"] is False
    assert second.hosts["app-02"]["changed"] is True
    assert second.hosts["app-02"]["bytes"] == len("metadata_enabled: true\n")


@pytest.mark.service("sshd")
def test_restore_puts_the_previous_file_back_and_removes_new_ones(fleet: IsolatedFleet, tmp_path: Path) -> None:
    fleet.ssh("app-01", "mkdir -p /scripts && echo old > /scripts/service.sh")
    (tmp_path / "service.sh").write_text("new\n")
    spec = {"src": "service.sh", "dest": "/scripts/service.sh", "mode": "0755"}
    assert run(spec, fleet.hosts(), tmp_path).ok
    assert fleet.ssh("app-01", "cat /scripts/service.sh").stdout == "new\n"
    undo = run({**spec, "restore": True}, fleet.hosts(), tmp_path)
    assert undo.ok and undo.fields["changed"] == 2
    assert fleet.ssh("app-01", "cat /scripts/service.sh").stdout == "old\n"
    assert fleet.ssh("app-02", "test -e /scripts/service.sh; echo $?").stdout.strip() == "1"


@pytest.mark.service("sshd")
def test_unreachable_host_is_a_result_and_serial_stops_the_rollout(fleet: IsolatedFleet, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    hosts = fleet.hosts()
    from runbook_engine import hostfleet

    hostfleet.stop_host(fleet.member("app-01"))
    result = run({"src": "f", "dest": "/tmp/f", "serial": 1, "max_fail_percentage": 0}, hosts, tmp_path)
    assert not result.ok
    assert result.hosts["app-01"]["unreachable"] is True
    assert result.hosts["app-02"]["skipped"] is True  # the rollout stopped after batch 1
    assert fleet.ssh("app-02", "test -e /tmp/f; echo $?").stdout.strip() == "1"


def test_local_hosts_copy_with_the_same_rules(tmp_path: Path) -> None:
    hosts = local_hosts(tmp_path / "hosts", ["a", "b"])
    (tmp_path / "src").write_text("payload\n")
    spec = {"src": "src", "dest": "{{ host.vars.root }}/deep/er/file", "mode": "0600"}
    first = run(spec, hosts, tmp_path)
    assert first.ok, first.error
    for name in ("a", "b"):
        target = tmp_path / "hosts" / name / "deep" / "er" / "file"
        assert target.read_text() == "payload\n" and oct(target.stat().st_mode & 0o777) == "0o600"
    assert run(spec, hosts, tmp_path).fields["changed"] == 0


def test_missing_source_fails_the_step_with_a_clear_error(tmp_path: Path) -> None:
    from runbook_engine.errors import ExecutorError

    with pytest.raises(ExecutorError, match="does not exist on the control host"):
        run({"src": "nope", "dest": "/tmp/"}, local_hosts(tmp_path, ["a"]), tmp_path)


def test_become_installs_as_another_user_with_its_owner(tmp_path: Path) -> None:
    import pwd
    import shutil as sh

    if sh.which("sudo") is None or pwd.getpwuid(os.getuid()).pw_name != "root":
        pytest.skip("needs sudo and root to become another user")
    shared = Path(tempfile.mkdtemp(dir="/var/tmp"))  # a folder nobody can reach
    shared.chmod(0o755)
    target = shared / "nobody-owned"
    target.mkdir()
    os.chown(target, pwd.getpwnam("nobody").pw_uid, -1)
    (tmp_path / "src").write_text("x\n")
    hosts = local_hosts(tmp_path / "hosts", ["a"])
    spec = {"src": "src", "dest": str(target / "file"), "become": True, "become_user": "nobody", "mode": "0644"}
    first = run(spec, hosts, tmp_path)
    assert first.ok, first.error
    assert pwd.getpwuid((target / "file").stat().st_uid).pw_name == "nobody"
    assert not list(Path(tempfile.gettempdir()).glob(".runbook-copy-*"))
    assert run(spec, hosts, tmp_path).fields["changed"] == 0
    sh.rmtree(shared)


@pytest.mark.service("sshd")
def test_owner_is_part_of_being_identical(fleet: IsolatedFleet, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("same\n")
    plain = {"src": "f", "dest": "/opt/f", "mode": "0644"}
    assert run(plain, fleet.hosts(), tmp_path).fields["changed"] == 2
    owned = {**plain, "owner": "nobody:nogroup"}
    first = run(owned, fleet.hosts(), tmp_path)
    assert first.ok and first.fields["changed"] == 2 and first.fields["bytes"] == 10
    assert fleet.ssh("app-01", "stat -c %U:%G /opt/f").stdout.strip() == "nobody:nogroup"
    assert run(owned, fleet.hosts(), tmp_path).fields["changed"] == 0

"""The ssh executor against real OpenSSH daemons (one per host) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest

from runbook_engine.errors import ExecutorError
from runbook_engine.executors.base import Host, Result
from runbook_engine.executors.ssh import SshExecutor
from runbook_engine.testing import SshFleet, local_hosts, make_call

pytestmark = pytest.mark.service("sshd")


def run(executor: SshExecutor, spec: Any, hosts: tuple[Host, ...], **kwargs: Any) -> Result:
    return asyncio.run(_run(executor, spec, hosts, **kwargs))


async def _run(executor: SshExecutor, spec: Any, hosts: tuple[Host, ...], **kwargs: Any) -> Result:
    return await executor.run(make_call(spec, hosts, **kwargs))


def spec(fleet: SshFleet, command: str, **extra: Any) -> dict[str, Any]:
    return {"command": command, **fleet.ssh_options(), **extra}


def test_runs_on_every_host_with_its_own_root_and_vars(sshd_fleet: SshFleet) -> None:
    for member in sshd_fleet.members:
        (member.root / "opt" / "app" / "VERSION").write_text(f"v2.3.0-{member.name}\n")
    lines: list[tuple[str, str | None]] = []
    result = asyncio.run(
        _run(
            SshExecutor(),
            spec(sshd_fleet, "cat {{ host.vars.app_dir }}/VERSION; echo root=$RUNBOOK_HOST_ROOT"),
            sshd_fleet.hosts(),
            log=lambda line, host: lines.append((line, host)),
        )
    )
    assert result.ok, result.error
    assert result.fields["rc"] == 0
    assert (result.fields["ok"], result.fields["failed"], result.fields["unreachable"]) == (3, 0, 0)
    for member in sshd_fleet.members:
        host = result.hosts[member.name]
        assert host["stdout"] == f"v2.3.0-{member.name}\nroot={member.root}"
        assert host["rc"] == 0 and host["unreachable"] is False and host["duration"] > 0
        assert (f"v2.3.0-{member.name}", member.name) in lines


def test_rc_stderr_and_aggregation(sshd_fleet: SshFleet) -> None:
    result = run(
        SshExecutor(),
        spec(sshd_fleet, 'echo oops >&2; [ "$RUNBOOK_HOST" != app-02 ] || exit 3'),
        sshd_fleet.hosts(),
    )
    assert not result.ok
    assert result.hosts["app-02"]["rc"] == 3
    assert result.hosts["app-02"]["failed"] == 1
    assert result.hosts["app-01"]["stderr"] == "oops"
    assert (result.fields["rc"], result.fields["failed"], result.fields["ok"]) == (3, 1, 2)
    assert "app-02 (rc=3)" in (result.error or "")


def test_connection_is_reused_across_steps_and_closed(sshd_fleet: SshFleet) -> None:
    async def scenario() -> tuple[str, str, int]:
        executor = SshExecutor()
        hosts = (sshd_fleet.host("app-01"),)
        first = await executor.run(make_call(spec(sshd_fleet, "echo $SSH_CLIENT"), hosts))
        second = await executor.run(make_call(spec(sshd_fleet, "echo $SSH_CLIENT"), hosts))
        open_before = len(executor._connections)
        await executor.close()
        assert executor._connections == {}
        return first.fields["stdout"], second.fields["stdout"], open_before

    first, second, open_before = asyncio.run(scenario())
    assert first == second  # same client port: same TCP connection
    assert open_before == 1


def test_stopped_daemon_mid_run_is_an_unreachable_result(sshd_fleet: SshFleet) -> None:
    async def scenario() -> tuple[Result, Result]:
        executor = SshExecutor()
        try:
            before = await executor.run(make_call(spec(sshd_fleet, "true"), sshd_fleet.hosts()))
            sshd_fleet.stop("app-02")  # the cached connection to app-02 dies with it
            after = await executor.run(make_call(spec(sshd_fleet, "hostname"), sshd_fleet.hosts()))
            return before, after
        finally:
            await executor.close()

    before, after = asyncio.run(scenario())
    assert before.ok and before.fields["unreachable"] == 0
    down = after.hosts["app-02"]
    assert down["unreachable"] is True and down["rc"] is None
    assert "unreachable" in down["error"]
    assert after.fields["unreachable"] == 1 and after.fields["failed"] == 1
    assert after.hosts["app-01"]["rc"] == 0 and after.hosts["app-03"]["rc"] == 0
    assert not after.ok


def test_daemon_killed_while_the_command_runs(sshd_fleet: SshFleet) -> None:
    async def scenario() -> Result:
        executor = SshExecutor()
        try:
            task = asyncio.create_task(
                executor.run(make_call(spec(sshd_fleet, "sleep 2; echo done"), sshd_fleet.hosts()))
            )
            await asyncio.sleep(0.5)
            sshd_fleet.stop("app-03")
            return await task
        finally:
            await executor.close()

    result = asyncio.run(scenario())
    assert result.hosts["app-03"]["unreachable"] is True
    assert result.hosts["app-01"]["stdout"] == "done"
    assert result.fields["unreachable"] == 1


def test_command_timeout_marks_the_host_timed_out(sshd_fleet: SshFleet) -> None:
    result = run(
        SshExecutor(), spec(sshd_fleet, "sleep 30"), (sshd_fleet.host("app-01"),), timeout=0.5
    )
    host = result.hosts["app-01"]
    assert host["timed_out"] is True and host["rc"] is None
    assert "timed out" in host["error"]
    assert not result.ok


def test_host_key_verification_is_on_by_default(sshd_fleet: SshFleet, tmp_path: Path) -> None:
    other = tmp_path / "known_hosts"
    other.write_text("")
    result = run(
        SshExecutor(),
        {"command": "true", "key_file": str(sshd_fleet.client_key), "known_hosts": str(other)},
        (sshd_fleet.host("app-01"),),
    )
    assert result.hosts["app-01"]["unreachable"] is True
    assert "host key" in result.hosts["app-01"]["error"]


def test_accept_new_records_the_key_then_verifies_it(sshd_fleet: SshFleet, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    step = {
        "command": "true",
        "key_file": str(sshd_fleet.client_key),
        "known_hosts": "accept-new",
        "known_hosts_file": str(known),
    }
    logged: list[str] = []
    first = run(
        SshExecutor(),
        step,
        (sshd_fleet.host("app-01"),),
        log=lambda line, host: logged.append(line),
    )
    assert first.ok, first.error
    port = sshd_fleet.member("app-01").port
    assert known.read_text().startswith(f"[127.0.0.1]:{port} ssh-ed25519 ")
    assert any("accepted new host key" in line for line in logged)
    # a changed key for a recorded host is refused, not silently replaced
    known.write_text(
        f"[127.0.0.1]:{port} " + (sshd_fleet.directory / "app-02" / "host_key.pub").read_text()
    )
    second = run(SshExecutor(), step, (sshd_fleet.host("app-01"),))
    assert second.hosts["app-01"]["unreachable"] is True


def test_ignore_is_logged_loudly(sshd_fleet: SshFleet) -> None:
    logged: list[str] = []
    result = run(
        SshExecutor(),
        {"command": "true", "key_file": str(sshd_fleet.client_key), "known_hosts": "ignore"},
        (sshd_fleet.host("app-01"),),
        log=lambda line, host: logged.append(line),
    )
    assert result.ok
    assert any("WARNING" in line and "verification is OFF" in line for line in logged)


def test_wrong_key_is_unreachable_with_auth_error(sshd_fleet: SshFleet, tmp_path: Path) -> None:
    import asyncssh

    wrong = tmp_path / "wrong"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(wrong))
    result = run(
        SshExecutor(),
        {"command": "true", "key_file": str(wrong), "known_hosts": str(sshd_fleet.known_hosts)},
        (sshd_fleet.host("app-01"),),
    )
    assert result.hosts["app-01"]["unreachable"] is True
    assert "authentication failed" in result.hosts["app-01"]["error"]


def test_serial_batches_stop_after_a_failing_batch(sshd_fleet_factory: Any) -> None:
    fleet = sshd_fleet_factory(["app-01", "app-02", "app-03", "app-04"])
    result = run(
        SshExecutor(),
        spec(fleet, '[ "$RUNBOOK_HOST" != app-02 ]', serial=[1, 1, "50%"], max_fail_percentage=0),
        fleet.hosts(),
    )
    assert result.hosts["app-01"]["rc"] == 0
    assert result.hosts["app-02"]["rc"] == 1
    for name in ("app-03", "app-04"):
        assert result.hosts[name]["skipped"] is True and result.hosts[name]["rc"] is None
    assert result.fields["skipped"] == 2 and result.fields["failed"] == 1
    assert "max_fail_percentage" in result.fields["stopped"]
    assert not result.ok


def test_max_errors_stops_starting_new_hosts(sshd_fleet_factory: Any) -> None:
    fleet = sshd_fleet_factory(["a1", "a2", "a3", "a4"])
    result = run(SshExecutor(), spec(fleet, "exit 1", forks=1, max_errors=1), fleet.hosts())
    assert [result.hosts[h]["rc"] for h in ("a1", "a2")] == [1, 1]
    assert [result.hosts[h]["skipped"] for h in ("a3", "a4")] == [True, True]


def test_local_connection_hosts_run_in_bash(tmp_path: Path) -> None:
    hosts = local_hosts(tmp_path, ["web-01", "web-02"])
    result = run(
        SshExecutor(),
        "echo ${BASH_VERSION:+bash} {{ host.vars.root }}; exit {{ 0 if host.name == 'web-01' else 4 }}",
        hosts,
    )
    assert result.hosts["web-01"]["stdout"] == f"bash {tmp_path / 'web-01'}"
    assert result.hosts["web-02"]["rc"] == 4
    assert result.fields["rc"] == 4 and result.fields["failed"] == 1


def test_local_timeout_kills_the_process_group(tmp_path: Path) -> None:
    marker = tmp_path / "survivor"
    hosts = local_hosts(tmp_path, ["web-01"])
    result = run(SshExecutor(), f"(sleep 1.5; touch {marker}) & sleep 30", hosts, timeout=0.3)
    assert result.hosts["web-01"]["timed_out"] is True
    asyncio.run(asyncio.sleep(2))
    assert not marker.exists()


@pytest.mark.service("sudo")
@pytest.mark.skipif(shutil.which("sudo") is None, reason="sudo is not installed")
def test_become_runs_through_sudo(sshd_fleet: SshFleet) -> None:
    result = run(
        SshExecutor(),
        spec(sshd_fleet, "id -un", become=True, become_user="nobody"),
        (sshd_fleet.host("app-01"),),
    )
    assert result.hosts["app-01"]["stdout"] == "nobody"


def test_become_wraps_in_sudo_only_for_another_user(sshd_fleet: SshFleet) -> None:
    executor = SshExecutor()
    host = sshd_fleet.host("app-01")
    as_root = executor.describe(make_call({"command": "id", "become": True}, (host,)))
    as_app = executor.describe(
        make_call({"command": "id -un", "become": True, "become_user": "app"}, (host,))
    )
    assert as_root == [f"[app-01] ssh root@127.0.0.1:{host.port} -- id"]
    assert as_app[0].endswith("-- sudo -n -H -u app -- /bin/bash -c 'id -un'")


def test_bad_specs_are_executor_errors() -> None:
    executor = SshExecutor()
    host = Host("h", "127.0.0.1")
    with pytest.raises(ExecutorError, match="command"):
        asyncio.run(executor.run(make_call({"cmd": "x"}, (host,))))
    with pytest.raises(ExecutorError, match="needs hosts"):
        asyncio.run(executor.run(make_call("true", ())))
    with pytest.raises(ExecutorError, match="serial"):
        asyncio.run(executor.run(make_call({"command": "true", "serial": "lots"}, (host,))))

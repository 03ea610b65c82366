"""The ansible executor running real ansible-playbook / ansible against local hosts and
a fleet of real sshd daemons."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from runbook_engine.errors import ExecutorError
from runbook_engine.executors.ansible import AnsibleExecutor
from runbook_engine.executors.base import Result, StepServices
from runbook_engine.inventory import ansible_tool, load_inventory
from runbook_engine.testing import SshFleet, make_call

pytestmark = [pytest.mark.service("ansible")]

needs_ansible = pytest.mark.skipif(
    ansible_tool("ansible-playbook") is None, reason="ansible-core is not installed"
)

PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: record version
      shell: echo {{ version }} > {{ app_dir }}/VERSION
    - name: read version
      command: cat {{ app_dir }}/VERSION
      changed_when: false
    - name: break one host
      command: /bin/false
      when: inventory_hostname == broken
    - name: tagged only
      command: "true"
      tags: [extra]
"""


def run(spec: Any, workdir: Path, **kwargs: Any) -> tuple[Result, list[tuple[str, str | None]]]:
    lines: list[tuple[str, str | None]] = []
    call = make_call(
        spec, workdir=workdir, log=lambda line, host: lines.append((line, host)), **kwargs
    )
    return asyncio.run(AnsibleExecutor().run(call)), lines


def local_inventory(tmp_path: Path) -> Path:
    entries = []
    for name in ("web-01", "web-02"):
        app = tmp_path / name / "opt" / "app"
        app.mkdir(parents=True)
        entries.append(f"{name} ansible_connection=local app_dir={app}")
    path = tmp_path / "hosts"
    path.write_text(
        "[web]\n"
        + "\n".join(entries)
        + f"\n\n[all:vars]\nansible_python_interpreter={sys.executable}\n"
    )
    return path


@needs_ansible
def test_playbook_recap_per_host_and_task_results_on_local_hosts(tmp_path: Path) -> None:
    inventory = local_inventory(tmp_path)
    (tmp_path / "site.yml").write_text(PLAYBOOK)
    result, lines = run(
        {"playbook": "site.yml", "extra_vars": {"version": "v2.4.0", "broken": "web-02"}},
        tmp_path,
        services=StepServices(inventory_path=str(inventory)),
    )
    assert not result.ok
    recap = {"unreachable": 0, "rescued": 0, "ignored": 0, "rc": None, "stdout": "", "stderr": ""}
    assert result.hosts["web-01"] == {**recap, "ok": 3, "changed": 2, "failed": 0, "skipped": 1}
    assert result.hosts["web-02"] == {**recap, "ok": 2, "changed": 1, "failed": 1, "skipped": 0}
    assert result.hosts["web-02"]["failed"] == 1
    assert result.fields["failed"] == 1 and result.fields["rc"] == 2
    assert (tmp_path / "web-01" / "opt" / "app" / "VERSION").read_text() == "v2.4.0\n"
    reads = [t for t in result.fields["tasks"] if t["task"] == "read version"]
    assert {t["host"]: t["stdout"] for t in reads} == {"web-01": "v2.4.0", "web-02": "v2.4.0"}
    assert {t["status"] for t in reads} == {"ok"}
    assert ("TASK [record version]", None) in lines
    assert any(host == "web-02" and line.startswith("failed:") for line, host in lines)
    assert "web-02" in (result.error or "")


@needs_ansible
def test_tags_limit_and_check_mode(tmp_path: Path) -> None:
    inventory = local_inventory(tmp_path)
    (tmp_path / "site.yml").write_text(PLAYBOOK)
    result, _ = run(
        {
            "playbook": "site.yml",
            "inventory": str(inventory),
            "limit": "web-01",
            "tags": ["extra"],
            "check": True,
            "extra_vars": {"version": "v9", "broken": "nobody"},
        },
        tmp_path,
    )
    assert result.ok, result.error
    assert list(result.hosts) == ["web-01"]
    assert [t["task"] for t in result.fields["tasks"]] == ["tagged only"]
    assert not (tmp_path / "web-01" / "opt" / "app" / "VERSION").exists()


@needs_ansible
def test_adhoc_shell_gives_rc_and_stdout_per_host(tmp_path: Path) -> None:
    inventory = local_inventory(tmp_path)
    hosts = load_inventory(inventory).select("web")
    result, _ = run(
        {
            "module": "shell",
            "args": "{% raw %}echo {{ inventory_hostname }}; [ {{ inventory_hostname }} = web-01 ]{% endraw %}",
        },
        tmp_path,
        services=StepServices(inventory_path=str(inventory)),
        hosts=hosts,
    )
    assert result.hosts["web-01"]["rc"] == 0 and result.hosts["web-01"]["stdout"] == "web-01"
    assert result.hosts["web-02"]["rc"] == 1 and result.hosts["web-02"]["failed"] == 1
    assert not result.ok


@needs_ansible
@pytest.mark.service("sshd")
def test_playbook_over_real_sshd_with_one_host_down(sshd_fleet: SshFleet, tmp_path: Path) -> None:
    inventory = sshd_fleet.write_inventory(tmp_path / "hosts")
    (tmp_path / "site.yml").write_text(PLAYBOOK)
    sshd_fleet.stop("app-03")
    result, _ = run(
        {"playbook": "site.yml", "extra_vars": {"version": "v2.4.0", "broken": "nobody"}},
        tmp_path,
        services=StepServices(inventory_path=str(inventory)),
    )
    for name in ("app-01", "app-02"):
        assert result.hosts[name]["failed"] == 0 and result.hosts[name]["unreachable"] == 0
        assert (sshd_fleet.member(name).root / "opt" / "app" / "VERSION").read_text() == "v2.4.0\n"
    assert result.hosts["app-03"]["unreachable"] == 1
    assert result.fields["unreachable"] == 1
    assert not result.ok


@needs_ansible
@pytest.mark.service("sshd")
def test_adhoc_over_real_sshd_sees_each_hosts_root(sshd_fleet: SshFleet, tmp_path: Path) -> None:
    inventory = sshd_fleet.write_inventory(tmp_path / "hosts")
    result, _ = run(
        {"module": "shell", "args": "echo $RUNBOOK_HOST_ROOT"},
        tmp_path,
        services=StepServices(inventory_path=str(inventory)),
    )
    assert result.ok, result.error
    for member in sshd_fleet.members:
        assert result.hosts[member.name]["stdout"] == str(member.root)


@needs_ansible
def test_broken_playbook_is_a_failed_result_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text(textwrap.dedent("- hosts: all\n  tasks: [oops\n"))
    result, _ = run({"playbook": "bad.yml", "inventory": str(local_inventory(tmp_path))}, tmp_path)
    assert not result.ok
    assert result.fields["rc"] != 0
    assert "before its recap" in (result.error or "")


def test_missing_ansible_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ExecutorError) as info:
        asyncio.run(AnsibleExecutor().run(make_call({"playbook": "x.yml"})))
    assert "runbook-engine[ansible]" in str(info.value)


def test_bad_specs(tmp_path: Path) -> None:
    executor = AnsibleExecutor()
    for spec, message in (
        ({"playbook": "a.yml", "module": "shell"}, "exactly one"),
        ({"module": "shell", "colour": 1}, "unknown key"),
        ("site.yml", "mapping"),
        ({"playbook": "a.yml", "extra_vars": [1]}, "extra_vars"),
    ):
        with pytest.raises(ExecutorError, match=message):
            executor.command(make_call(spec))


def test_describe_shows_the_command(tmp_path: Path) -> None:
    lines = AnsibleExecutor().describe(
        make_call(
            {
                "playbook": "orchestrate.yml",
                "extra_vars": {"service_action": "stop"},
                "tags": "a,b",
            },
            services=StepServices(inventory_path="inventory/hosts"),
            workdir=Path("/srv"),
        )
    )
    assert lines == [
        "ansible-playbook /srv/orchestrate.yml --tags a,b -i inventory/hosts -e @extra-vars.yml"
        '  # extra-vars.yml: {"service_action": "stop"}'
    ]


@needs_ansible
def test_values_in_args_and_extra_vars_stay_data(tmp_path: Path) -> None:
    """Ansible args were never quoted: a value could run commands on the host, and a
    `{{ lookup('pipe', …) }}` in an extra var ran on the controller."""
    inventory = local_inventory(tmp_path)
    hosts = load_inventory(inventory).select("web-01")
    marker = tmp_path / "pwned"
    evil = f"$(touch {marker}); `touch {marker}` {{{{ lookup('pipe', 'touch {marker}') }}}}"
    result, _ = run(
        {"module": "shell", "args": "printf '%s' {{ evil }}"},
        tmp_path,
        services=StepServices(inventory_path=str(inventory)),
        hosts=hosts,
        values={"evil": evil},
    )
    assert result.ok, result.error
    assert result.hosts["web-01"]["stdout"] == evil and not marker.exists()
    (tmp_path / "echo.yml").write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - copy: {content: '{{ note }}', dest: '{{ app_dir }}/NOTE'}\n"
    )
    result, _ = run(
        {"playbook": "echo.yml", "extra_vars": {"note": "{{ evil }}"}},
        tmp_path,
        services=StepServices(inventory_path=str(inventory)),
        hosts=hosts,
        values={"evil": evil},
    )
    assert result.ok, result.error
    assert (tmp_path / "web-01" / "opt" / "app" / "NOTE").read_text() == evil
    assert not marker.exists()


def test_a_template_inside_quotes_of_shell_args_is_refused(tmp_path: Path) -> None:
    from runbook_engine.errors import TemplateError

    with pytest.raises(TemplateError) as info:
        AnsibleExecutor().command(
            make_call({"module": "shell", "args": "echo '{{ v }}'"}, values={"v": "x"})
        )
    assert info.value.rule == "RB205"


@needs_ansible
def test_secret_extra_vars_are_in_a_private_file_not_on_the_command_line(tmp_path: Path) -> None:
    import contextlib
    import os
    import threading
    import time

    inventory = local_inventory(tmp_path)
    (tmp_path / "slow.yml").write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: sleep 1\n"
    )
    seen: list[str] = []
    modes: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit():
                    continue
                try:
                    line = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode()
                except OSError:
                    continue
                seen.append(line)
                for word in line.split():
                    if word.startswith("@") and word.endswith("extra-vars.yml"):
                        with contextlib.suppress(OSError):
                            modes.append(os.stat(word[1:]).st_mode & 0o777)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        result, _ = run(
            {"playbook": "slow.yml", "extra_vars": {"api_token": "{{ token }}"}},
            tmp_path,
            services=StepServices(inventory_path=str(inventory)),
            hosts=load_inventory(inventory).select("web-01"),
            values={"token": "tok-s3cr3t-value"},
        )
    finally:
        stop.set()
        watcher.join()
    assert result.ok, result.error
    assert any("ansible-playbook" in line for line in seen)
    assert not [line for line in seen if "s3cr3t" in line]
    assert modes and set(modes) == {0o600}


@needs_ansible
@pytest.mark.parametrize("hosts", ["nowhere", "web"])
def test_a_playbook_that_matches_no_host_fails(tmp_path: Path, hosts: str) -> None:
    """ansible-playbook exits 0 when its play matches no host (a wrong inventory, a typo
    in ``hosts:``); the step did nothing, so it must not pass as if it had."""
    inventory = local_inventory(tmp_path)
    (tmp_path / "site.yml").write_text(f"- hosts: {hosts}\n  gather_facts: false\n  tasks: [{{command: 'true'}}]\n")
    result, _ = run(
        {"playbook": "site.yml"},
        tmp_path,
        services=StepServices(inventory_path=str(inventory) if hosts == "nowhere" else None),
    )
    assert not result.ok and result.hosts == {}
    assert result.error is not None and "matched no host" in result.error
    shown = str(inventory) if hosts == "nowhere" else "none given"
    assert f"(inventory: {shown}" in result.error


@needs_ansible
def test_no_host_names_the_steps_own_inventory(tmp_path: Path) -> None:
    inventory = local_inventory(tmp_path)
    (tmp_path / "site.yml").write_text("- hosts: nowhere\n  gather_facts: false\n  tasks: [{command: 'true'}]\n")
    result, _ = run(
        {"playbook": "site.yml", "inventory": str(inventory)},
        tmp_path,
        services=StepServices(inventory_path="/elsewhere/hosts"),
    )
    assert not result.ok and result.error is not None
    assert f"(inventory: {inventory})" in result.error

"""The ssh executor verifies host keys against the file an Ansible inventory names."""

from __future__ import annotations

from runbook_engine.executors.base import Host
from runbook_engine.executors.ssh import SshSpec, _known_hosts_file


def host(**vars: str) -> Host:
    return Host(name="app-01", address="127.0.0.1", vars=vars)


def test_step_option_wins() -> None:
    spec = SshSpec(command="true", known_hosts_file="/step/known")
    assert _known_hosts_file(spec, host(ansible_ssh_common_args="-o UserKnownHostsFile=/inv/known")) == "/step/known"


def test_inventory_common_args_name_the_file() -> None:
    spec = SshSpec(command="true")
    args = "-o UserKnownHostsFile=/inv/known -o StrictHostKeyChecking=yes"
    assert _known_hosts_file(spec, host(ansible_ssh_common_args=args)) == "/inv/known"
    assert _known_hosts_file(spec, host(ansible_ssh_extra_args="-oUserKnownHostsFile=/x/k")) == "/x/k"


def test_without_any_the_default_applies() -> None:
    spec = SshSpec(command="true")
    assert _known_hosts_file(spec, host()) is None
    assert _known_hosts_file(spec, host(ansible_ssh_common_args="-o 'unbalanced")) is None

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from runbook_engine.errors import InventoryError
from runbook_engine.inventory import (
    expand_hostname_range,
    inventory_from_listing,
    load_inventory,
    split_pattern,
)

INI = """\
# the seed's fleet
db-coord-01 ansible_host=10.0.0.5 ansible_port=2222

[app_tier]
app-0[1:3] ansible_user=deploy
app-04:2200 app_dir=/srv/app

[web]
app-01
web-01 ansible_connection=local

[prod:children]
app_tier
web

[app_tier:vars]
app_dir=/opt/app
tier=app

[prod:vars]
tier=prod
env=production
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def ini(tmp_path: Path) -> Path:
    return write(tmp_path, "hosts", INI)


def names(hosts: tuple) -> list[str]:
    return [h.name for h in hosts]


def test_ini_hosts_ranges_ports_and_connection(ini: Path) -> None:
    inv = load_inventory(ini)
    assert names(inv.hosts) == ["db-coord-01", "app-01", "app-02", "app-03", "app-04", "web-01"]
    db = inv.host("db-coord-01")
    assert (db.address, db.port, db.user, db.connection) == ("10.0.0.5", 2222, None, "ssh")
    assert inv.host("app-02").user == "deploy"
    assert inv.host("app-04").port == 2200
    assert inv.host("web-01").connection == "local"
    assert inv.host("app-01").address == "app-01"


def test_ini_var_precedence_child_over_parent_host_over_group(ini: Path) -> None:
    inv = load_inventory(ini)
    app = inv.host("app-02")
    assert app.vars["tier"] == "app"  # app_tier is deeper than prod
    assert app.vars["env"] == "production"  # inherited from the parent group
    assert app.vars["app_dir"] == "/opt/app"
    assert inv.host("app-04").vars["app_dir"] == "/srv/app"  # inline host var wins
    assert inv.host("web-01").vars["tier"] == "prod"
    assert set(app.groups) == {"all", "prod", "app_tier"}
    assert app.groups[0] == "all"


def test_group_vars_and_host_vars_folders_override_inventory(ini: Path) -> None:
    write(ini.parent, "group_vars/all.yml", "ntp: pool.example\ntier: base\n")
    write(ini.parent, "group_vars/app_tier/main.yml", "app_dir: /data/app\n")
    write(ini.parent, "host_vars/app-03.yaml", "app_dir: /special\nansible_port: 2203\n")
    inv = load_inventory(ini)
    assert inv.host("db-coord-01").vars["ntp"] == "pool.example"
    assert inv.host("db-coord-01").vars["tier"] == "base"
    assert inv.host("app-01").vars["app_dir"] == "/data/app"
    assert inv.host("app-03").vars["app_dir"] == "/special"
    assert inv.host("app-03").port == 2203


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("all", ["db-coord-01", "app-01", "app-02", "app-03", "app-04", "web-01"]),
        ("*", ["db-coord-01", "app-01", "app-02", "app-03", "app-04", "web-01"]),
        ("app_tier", ["app-01", "app-02", "app-03", "app-04"]),
        ("app_tier:!app-02", ["app-01", "app-03", "app-04"]),
        ("app_tier:&web", ["app-01"]),
        ("web:db-coord-01", ["db-coord-01", "app-01", "web-01"]),
        ("web,db-coord-01", ["db-coord-01", "app-01", "web-01"]),
        ("app-0[1:3]", ["app-01", "app-02", "app-03"]),
        ("app-0*", ["app-01", "app-02", "app-03", "app-04"]),
        ("~app-0[24]", ["app-02", "app-04"]),
        ("app_tier[0]", ["app-01"]),
        ("app_tier[1:2]", ["app-02", "app-03"]),
        ("prod:!web:!app-04", ["app-02", "app-03"]),
        ("!web", ["db-coord-01", "app-02", "app-03", "app-04"]),
        ("ungrouped", ["db-coord-01"]),
    ],
)
def test_select_patterns(ini: Path, pattern: str, expected: list[str]) -> None:
    assert names(load_inventory(ini).select(pattern)) == expected


def test_select_unknown_term_is_an_error_unless_lenient(ini: Path) -> None:
    inv = load_inventory(ini)
    with pytest.raises(InventoryError, match="app_teir"):
        inv.select("app_teir")
    assert inv.select("app_teir", strict=False) == ()
    assert names(inv.select("app_tier:!nonexistent")) == ["app-01", "app-02", "app-03", "app-04"]


def test_ansible_yaml_inventory(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "hosts.yml",
        """\
        all:
          vars: {env: staging}
          children:
            app_tier:
              hosts:
                app-[01:02]: {ansible_host: 127.0.0.1}
              vars: {app_dir: /opt/app}
            db:
              hosts:
                db-01:
                  ansible_port: 5022
                  ansible_user: postgres
        """,
    )
    inv = load_inventory(path)
    assert names(inv.hosts) == ["app-01", "app-02", "db-01"]
    assert inv.host("app-02").vars == {
        "env": "staging",
        "app_dir": "/opt/app",
        "ansible_host": "127.0.0.1",
    }
    assert inv.host("db-01").port == 5022
    assert inv.host("db-01").user == "postgres"
    assert names(inv.select("all:!db")) == ["app-01", "app-02"]


def test_native_yaml_inventory(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "fleet.yaml",
        """\
        hosts:
          app-01: {address: 127.0.0.1, port: 2201, user: root, vars: {app_dir: /tmp/a}}
          app-02: {address: 127.0.0.1, port: 2202, groups: [canary]}
          local-01: {connection: local}
        groups:
          app_tier: [app-01, app-02]
          everything: {children: [app_tier], hosts: [local-01], vars: {env: prod}}
        vars: {owner: ops}
        """,
    )
    inv = load_inventory(path)
    app = inv.host("app-01")
    assert (app.address, app.port, app.user, app.vars["app_dir"]) == (
        "127.0.0.1",
        2201,
        "root",
        "/tmp/a",
    )
    assert app.vars["env"] == "prod" and app.vars["owner"] == "ops"
    assert inv.host("local-01").connection == "local"
    assert names(inv.select("canary")) == ["app-02"]
    assert names(inv.select("everything:!canary")) == ["app-01", "local-01"]


def test_inventory_folder_reads_every_file(tmp_path: Path) -> None:
    write(tmp_path / "inv", "01-apps", "[app]\na1\n")
    write(tmp_path / "inv", "02-db.yml", "db:\n  hosts:\n    d1:\n")
    write(tmp_path / "inv", "group_vars/app.yml", "x: 1\n")
    inv = load_inventory(tmp_path / "inv")
    assert names(inv.hosts) == ["a1", "d1"]
    assert inv.host("a1").vars["x"] == 1


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("[app\na1\n", 1, "bad section header"),
        ("[app]\na1\n[app:weird]\n", 3, "unknown section kind"),
        ("[app]\na1 port\n", 2, "expected key=value"),
        ("[app:vars]\njustakey\n", 2, "expected key=value"),
        ("[app]\nweb[01:]\n", 2, "bad host range"),
    ],
)
def test_ini_errors_point_at_the_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = write(tmp_path, "hosts", text)
    with pytest.raises(InventoryError, match=message) as info:
        load_inventory(path)
    assert info.value.span is not None
    assert (info.value.span.path, info.value.span.line) == (str(path), line)


def test_yaml_errors_point_at_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "hosts.yml", "all:\n  children:\n    app:\n      hostz: {}\n")
    with pytest.raises(InventoryError, match="unknown key 'hostz'") as info:
        load_inventory(path)
    assert info.value.span is not None and info.value.span.line == 4
    bad = write(tmp_path, "bad.yml", "all:\n  hosts: [a\n")
    with pytest.raises(InventoryError, match="bad YAML") as info:
        load_inventory(bad)
    assert info.value.span is not None and info.value.span.line >= 2


def test_cycle_and_missing_file_are_errors(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="does not exist"):
        load_inventory(tmp_path / "nope")
    path = write(tmp_path, "hosts", "[a:children]\nb\n[b:children]\na\n")
    with pytest.raises(InventoryError, match="own ancestor"):
        load_inventory(path)


def test_expand_hostname_range() -> None:
    assert expand_hostname_range("db-[a:c]") == ["db-a", "db-b", "db-c"]
    assert expand_hostname_range("n[1:5:2].x") == ["n1.x", "n3.x", "n5.x"]
    assert expand_hostname_range("r[1:2]-[a:b]") == ["r1-a", "r1-b", "r2-a", "r2-b"]
    assert expand_hostname_range("app-[08:10]") == ["app-08", "app-09", "app-10"]


def test_split_pattern_keeps_brackets_together() -> None:
    assert split_pattern("app-0[1:3]:!app-02") == ["app-0[1:3]", "!app-02"]
    assert split_pattern("a, b ,&c") == ["a", "b", "&c"]


def test_listing_from_ansible_inventory_json() -> None:
    listing = {
        "_meta": {"hostvars": {"h1": {"ansible_host": "10.1.1.1", "ansible_port": 22}, "h2": {}}},
        "all": {"children": ["ungrouped", "app"]},
        "app": {"hosts": ["h1", "h2"]},
    }
    inv = inventory_from_listing(listing, "dyn")
    assert inv.host("h1").address == "10.1.1.1"
    assert names(inv.select("app")) == ["h1", "h2"]


def test_dynamic_inventory_script_goes_through_ansible_inventory(tmp_path: Path) -> None:
    from runbook_engine.inventory import ansible_tool

    if ansible_tool("ansible-inventory") is None:
        pytest.skip("ansible-core is not installed")
    script = tmp_path / "dyn.py"
    listing = {
        "app": {"hosts": ["h1"], "vars": {"app_dir": "/x"}},
        "_meta": {"hostvars": {"h1": {"ansible_port": 2201}}},
    }
    script.write_text(f"#!{sys.executable}\nimport json\nprint(json.dumps({listing!r}))\n")
    script.chmod(0o755)
    inv = load_inventory(script)
    assert inv.host("h1").port == 2201
    assert inv.host("h1").vars["app_dir"] == "/x"
    assert names(inv.select("app")) == ["h1"]


def test_group_vars_section_values_are_literals_like_inline_ones(tmp_path: Path) -> None:
    """Regression: quotes stayed around a [group:vars] value, so the ssh executor could
    not find `UserKnownHostsFile` in ansible_ssh_common_args (Ansible strips them)."""
    path = tmp_path / "hosts"
    path.write_text(
        textwrap.dedent(
            """\
            [fleet]
            app-01 ansible_port=2201

            [fleet:vars]
            ansible_ssh_common_args='-o UserKnownHostsFile=/tmp/kh -o StrictHostKeyChecking=yes'
            forks=5
            plain=text value
            """
        )
    )
    host = load_inventory(path).select("app-01")[0]
    assert host.vars["ansible_ssh_common_args"] == "-o UserKnownHostsFile=/tmp/kh -o StrictHostKeyChecking=yes"
    assert host.vars["forks"] == 5
    assert host.vars["plain"] == "text value"


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("app_tier:!app-0*", "host pattern 'app_tier:!app-0*' selects no host"),
        ("web:&db-coord-01", "host pattern 'web:&db-coord-01' selects no host"),
        ("empty", "group 'empty' has no hosts"),
    ],
)
def test_a_pattern_that_selects_no_host_is_an_error_unless_lenient(
    tmp_path: Path, pattern: str, message: str
) -> None:
    """A step on no host would run nothing and pass any ``all …`` expectation (regression:
    ``app_tier:!app-0*`` ran an ssh step on nobody, failing with 'unknown field rc')."""
    inv = load_inventory(write(tmp_path, "hosts", INI + "\n[empty]\n"))
    with pytest.raises(InventoryError, match=message.replace("*", r"\*")):
        inv.select(pattern)
    assert inv.select(pattern, strict=False) == ()

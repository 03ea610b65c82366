"""The built-in command recognizers, one command line at a time, and the registry
plugins extend through the ``runbook_engine.importers`` entry-point group."""

from __future__ import annotations

import re
from importlib.metadata import EntryPoint
from typing import Any

import pytest

from runbook_engine.errors import PluginError
from runbook_engine.importer import commands
from runbook_engine.importer.commands import CommandContext, Translation, recognize
from runbook_engine.importer.script import Command, Comment, parse_command, split_script

ALL = frozenset({"shell", "ssh", "ansible", "sql", "http", "notify", "wait", "manual"})


def translate(text: str, cwd: str | None = None, executors: frozenset[str] = ALL, remote: str | None = None) -> Translation | None:
    return recognize(parse_command(text, 1), CommandContext(cwd=cwd, remote_host=remote, executors=executors))


def test_builtins_are_registered_through_entry_points() -> None:
    names = {r.name for r in commands.recognizers()}
    assert {"ansible-playbook", "ansible", "ssh", "curl", "psql", "mysql", "copy", "sleep"} <= names


def test_ansible_playbook() -> None:
    t = translate(
        "ansible-playbook -i inventory/hosts orchestrate.yml -e service_action=stop -e '{\"n\": 2}' "
        "--limit app_tier -t a,b --skip-tags c --check -D -b -f 5",
        cwd="/opt/ansible/site",
    )
    assert t is not None and t.executor == "ansible" and not t.todos
    assert t.spec == {
        "playbook": "/opt/ansible/site/orchestrate.yml",
        "inventory": "/opt/ansible/site/inventory/hosts",
        "limit": "app_tier",
        "extra_vars": {"service_action": "stop", "n": 2},
        "forks": 5,
        "become": True,
        "check": True,
        "diff": True,
        "tags": "a,b",
        "skip_tags": "c",
    }


def test_ansible_playbook_unknown_option_and_vars_file_are_todos() -> None:
    t = translate("ansible-playbook site.yml --vault-id prod@prompt -e @vars.yml")
    assert t is not None
    assert any("--vault-id" in todo for todo in t.todos) and any("vars.yml" in todo for todo in t.todos)


def test_ansible_adhoc() -> None:
    t = translate('ansible app_tier -i /etc/hosts.ini -m shell -a "cat /opt/app/VERSION" -l app-01')
    assert t is not None and t.executor == "ansible" and t.hosts == "app_tier"
    assert t.spec == {"module": "shell", "args": "cat /opt/app/VERSION", "inventory": "/etc/hosts.ini", "limit": "app-01"}
    default = translate("ansible all -a uptime")
    assert default is not None and default.spec == {"module": "command", "args": "uptime"}


def test_ansible_copy_becomes_the_copy_step_only_when_it_is_installed() -> None:
    line = 'ansible app_tier -m copy -a "src=app.tar.gz dest=/tmp/ mode=0644 owner=app"'
    native = translate(line, cwd="/opt/deployments", executors=ALL | {"copy"})
    assert native is not None and native.executor == "copy" and native.hosts == "app_tier"
    assert native.spec == {"src": "/opt/deployments/app.tar.gz", "dest": "/tmp/", "mode": "0644", "owner": "app"}
    fallback = translate(line, cwd="/opt/deployments")
    assert fallback is not None and fallback.executor == "ansible" and fallback.spec["module"] == "copy"
    assert any("copy" in todo for todo in fallback.todos)
    other_args = translate('ansible all -m copy -a "content=x dest=/tmp/x"', executors=ALL | {"copy"})
    assert other_args is not None and other_args.executor == "ansible"


def test_ssh_with_a_command() -> None:
    t = translate('ssh -i ~/.ssh/ops deploy@app-01 "tail -20 /var/log/app.log | grep -i accepted"')
    assert t is not None and t.executor == "ssh" and t.hosts == "app-01"
    assert t.spec == {"command": "tail -20 /var/log/app.log | grep -i accepted", "key_file": "~/.ssh/ops"}
    assert any("deploy" in todo for todo in t.todos)
    assert translate("ssh db-01") is None  # an interactive session: the importer follows it


def test_ssh_running_psql_is_a_sql_step_against_that_host() -> None:
    t = translate("ssh db-coord-01 \"psql -U appuser -d analytics -c 'SELECT COUNT(*) FROM events'\"")
    assert t is not None and t.executor == "sql"
    assert t.spec == {"dsn": "postgresql://appuser@db-coord-01/analytics", "query": "SELECT COUNT(*) FROM events"}


def test_curl() -> None:
    t = translate(
        "curl -sS -X PUT https://api.example.com/v1/x -H 'Content-Type: application/json' "
        "-H 'X-Trace: 1' -d '{\"a\": 1, \"at\": \"'$(date +%s)'\"}' -k -L -m 10"
    )
    assert t is not None and t.executor == "http"
    assert t.spec == {
        "url": "https://api.example.com/v1/x",
        "method": "PUT",
        "json": {"a": 1},
        "headers": {"X-Trace": "1"},
        "verify": False,
        "follow_redirects": True,
        "timeout": 10,
    }
    assert any("computed by the shell" in todo for todo in t.todos)
    body = translate("curl -d 'a=b' http://x.example/form")
    assert body is not None and body.spec == {"url": "http://x.example/form", "method": "POST", "body": "a=b"}
    assert translate("curl http://x | jq .") is None  # a pipeline stays a shell command


def test_psql_and_mysql() -> None:
    t = translate("psql -h db -p 5433 -U ops app -c 'UPDATE a SET b = 1; DELETE FROM c'")
    assert t is not None and t.spec == {"dsn": "postgresql://ops@db:5433/app", "script": "UPDATE a SET b = 1; DELETE FROM c"}
    m = translate('mysql -h db-01 -u ops inventory -e "SELECT 1"')
    assert m is not None and m.spec == {"dsn": "mysql://ops@db-01/inventory", "query": "SELECT 1"}
    assert translate("psql -f migrate.sql") is None


def test_scp_and_rsync() -> None:
    native = translate("scp -P 2222 app.tar.gz deploy@app-01:/tmp/", cwd="/opt/rel", executors=ALL | {"copy"})
    assert native is not None and native.executor == "copy" and native.hosts == "app-01"
    assert native.spec == {"src": "/opt/rel/app.tar.gz", "dest": "/tmp/"}
    assert any("ansible_port" in t for t in native.todos) and any("ansible_user" in t for t in native.todos)
    rsync = translate("rsync -az --chmod=0640 --chown=app tls/ cache-01:/etc/tls/", executors=ALL | {"copy"})
    assert rsync is not None and rsync.spec == {"src": "tls/", "dest": "/etc/tls/", "mode": "0640", "owner": "app"}
    without = translate("scp a.conf cache-01:/etc/a.conf")
    assert without is not None and without.executor == "shell" and without.todos
    assert translate("scp cache-01:/etc/a.conf .", executors=ALL | {"copy"}) is None  # a download


def test_sleep() -> None:
    assert translate("sleep 30") == Translation("wait", "30s")
    assert translate("sleep 5m") == Translation("wait", "5m")
    assert translate("sleep $DELAY") is None


def test_unknown_commands_are_not_recognized() -> None:
    assert translate("systemctl restart app") is None
    assert translate("ansible-playbook a.yml && echo ok") is None


def test_script_splitting() -> None:
    code = (
        "# Deploy\n"
        "ansible app -m copy \\\n  -a \"src=a dest=/tmp/\"\n\n"
        "ansible app -m shell -a \"\n  cd /opt &&\n  ls\n\"\n"
        "$ ls -l | head -2\n"
        "cat <<EOF > /tmp/x\nhello\nEOF\n"
        "echo 'open\n"
    )
    items = split_script(code, 10)
    assert isinstance(items[0], Comment) and items[0].text == "Deploy" and items[0].line == 10
    commands_ = [i for i in items if isinstance(i, Command)]
    assert commands_[0].argv == ("ansible", "app", "-m", "copy", "-a", "src=a dest=/tmp/") and commands_[0].line == 11
    assert commands_[1].argv is not None and commands_[1].argv[-1] == "\n  cd /opt &&\n  ls\n"
    assert commands_[2].text == "ls -l | head -2" and commands_[2].compound
    assert commands_[3].text == "cat <<EOF > /tmp/x\nhello\nEOF"
    assert commands_[4].argv is None  # unbalanced quote: kept as text


def test_command_substitution_stays_in_its_word() -> None:
    command = parse_command("echo v-$(date -u +%Y %m) done", 1)
    assert command.argv == ("echo", "v-$(date -u +%Y %m)", "done") and not command.compound


class _Upper:
    name = "upper"
    priority = 1

    def recognize(self, command: Command, context: CommandContext) -> Translation | None:
        return Translation("shell", command.text.upper()) if command.program == "shout" else None


def _entry_points(values: dict[str, str]) -> Any:
    def fake(group: str) -> list[EntryPoint]:
        assert group == commands.GROUP
        return [EntryPoint(name, value, group) for name, value in values.items()]

    return fake


def test_a_plugin_recognizer_is_asked_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commands, "entry_points", _entry_points({
        "upper": f"{__name__}:_Upper",
        "ssh": "runbook_engine.importer.recognizers:SshRecognizer",
    }))
    commands.recognizers.cache_clear()
    try:
        assert [r.name for r in commands.recognizers()] == ["upper", "ssh"]
        assert translate("shout hello") == Translation("shell", "SHOUT HELLO")
        assert translate("ssh h 'ls'") is not None
    finally:
        commands.recognizers.cache_clear()


def test_a_broken_plugin_is_one_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commands, "entry_points", _entry_points({"broken": "no_such_module_xyz:Thing"}))
    commands.recognizers.cache_clear()
    try:
        with pytest.raises(PluginError, match="importer plugin 'broken' failed to load"):
            commands.recognizers()
    finally:
        commands.recognizers.cache_clear()


def test_every_builtin_recognizer_is_documented() -> None:
    from import_helpers import ROOT

    doc = (ROOT / "docs" / "import.md").read_text(encoding="utf-8")
    table = doc.split("### Commands (recognizers)", 1)[1].split("####", 1)[0]
    for recognizer in commands.recognizers():
        if type(recognizer).__module__ == "runbook_engine.importer.recognizers":
            assert re.search(rf"^\| (`[a-z-]+`, )*`{re.escape(recognizer.name)}`", table, re.M), recognizer.name

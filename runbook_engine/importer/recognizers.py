"""The built-in command recognizers (registered under ``runbook_engine.importers``).

Each one reads a command line the way its program would (``shlex`` already split
it) and gives the step that does the same thing through an executor. Anything it
cannot carry over — an option without a field, a body computed by the shell — is
reported as a TODO, never silently dropped.
"""

from __future__ import annotations

import json
import shlex
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from runbook_engine.importer.commands import CommandContext, Translation
from runbook_engine.importer.script import Command, parse_command


@dataclass(frozen=True)
class Option:
    """How a program's option is read: its names and whether it takes a value."""

    names: tuple[str, ...]
    field: str
    takes_value: bool = True


def _options(argv: Sequence[str], table: Sequence[Option]) -> tuple[dict[str, list[str]], list[str], list[str]]:
    """(field → values, positionals, unknown options) of ``argv``."""
    by_name = {name: option for option in table for name in option.names}
    values: dict[str, list[str]] = {}
    positionals: list[str] = []
    unknown: list[str] = []
    items = iter(argv)
    for arg in items:
        name, _, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        option = by_name.get(name)
        if option is None and arg.startswith("-") and not arg.startswith("--") and len(arg) > 2:
            option = by_name.get(arg[:2])  # -ifile, -e@vars.yml
            inline = arg[2:] if option is not None and option.takes_value else inline
            if option is not None and not option.takes_value:
                flags = [by_name.get("-" + c) for c in arg[1:]]
                if all(f is not None and not f.takes_value for f in flags):
                    for flag in flags:
                        values.setdefault(flag.field, []).append("")  # type: ignore[union-attr]
                    continue
                option = None
        if option is None:
            (unknown if arg.startswith("-") and arg != "-" else positionals).append(arg)
            continue
        if option.takes_value:
            value = inline if inline else next(items, "")
            values.setdefault(option.field, []).append(value)
        else:
            values.setdefault(option.field, []).append("")
    return values, positionals, unknown


def _unknown_todo(program: str, unknown: Sequence[str]) -> tuple[str, ...]:
    if not unknown:
        return ()
    return (f"`{program}` options without an equivalent here were dropped: {' '.join(unknown)}",)


def _extra_vars(values: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    merged: dict[str, Any] = {}
    todos: list[str] = []
    for value in values:
        text = value.strip()
        if text.startswith("@"):
            todos.append(f"extra vars are read from the file {text[1:]}: copy them into extra_vars")
        elif text.startswith("{"):
            try:
                loaded = json.loads(text)
            except ValueError:
                todos.append(f"extra vars that are not valid JSON: {text}")
                continue
            if isinstance(loaded, dict):
                merged.update(loaded)
        else:
            try:
                pairs = shlex.split(text)
            except ValueError:
                pairs = text.split()
            for pair in pairs:
                key, sep, val = pair.partition("=")
                if sep and key:
                    merged[key] = val
                else:
                    todos.append(f"extra var without a value: {pair}")
    return merged, todos


_ANSIBLE_COMMON = (
    Option(("-i", "--inventory", "--inventory-file"), "inventory"),
    Option(("-e", "--extra-vars"), "extra_vars"),
    Option(("-l", "--limit"), "limit"),
    Option(("-f", "--forks"), "forks"),
    Option(("-b", "--become"), "become", False),
    Option(("-C", "--check"), "check", False),
    Option(("-D", "--diff"), "diff", False),
    Option(("-v", "-vv", "-vvv", "-vvvv", "--verbose"), "verbose", False),
)


class AnsiblePlaybookRecognizer:
    """``ansible-playbook [-i INV] PLAYBOOK [-e k=v] [--limit L] [--tags T]``."""

    name = "ansible-playbook"
    priority = 10

    def recognize(self, command: Command, context: CommandContext) -> Translation | None:
        if command.program != "ansible-playbook" or command.compound or command.argv is None or context.remote_host:
            return None
        table = (*_ANSIBLE_COMMON, Option(("-t", "--tags"), "tags"), Option(("--skip-tags",), "skip_tags"))
        values, positionals, unknown = _options(command.argv[1:], table)
        playbooks = [p for p in positionals if p.endswith((".yml", ".yaml"))] if len(positionals) > 1 else positionals
        if len(playbooks) != 1:
            return None
        spec: dict[str, Any] = {"playbook": context.resolve(playbooks[0])}
        unknown += [p for p in positionals if p != playbooks[0]]  # values of options we do not know
        todos = list(_unknown_todo("ansible-playbook", unknown))
        _common_ansible(spec, values, context, todos)
        for key in ("tags", "skip_tags"):
            if key in values:
                spec[key] = ",".join(values[key])
        return Translation("ansible", spec, todos=tuple(todos))


def _common_ansible(spec: dict[str, Any], values: dict[str, list[str]], context: CommandContext, todos: list[str]) -> None:
    if "inventory" in values:
        spec["inventory"] = context.resolve(values["inventory"][-1])
    if "limit" in values:
        spec["limit"] = values["limit"][-1]
    if "extra_vars" in values:
        extra, problems = _extra_vars(values["extra_vars"])
        if extra:
            spec["extra_vars"] = extra
        todos.extend(problems)
    if "forks" in values and values["forks"][-1].isdigit() and int(values["forks"][-1]) >= 1:
        spec["forks"] = int(values["forks"][-1])
    for flag in ("become", "check", "diff"):
        if flag in values:
            spec[flag] = True


class AnsibleAdhocRecognizer:
    """``ansible PATTERN [-i INV] -m MODULE [-a ARGS]``; ``-m copy`` becomes the native
    ``copy`` step when that executor is installed."""

    name = "ansible"
    priority = 10

    def recognize(self, command: Command, context: CommandContext) -> Translation | None:
        if command.program != "ansible" or command.compound or command.argv is None or context.remote_host:
            return None
        table = (*_ANSIBLE_COMMON, Option(("-m", "--module-name"), "module"), Option(("-a", "--args"), "args"))
        values, positionals, unknown = _options(command.argv[1:], table)
        if len(positionals) != 1:
            return None
        pattern = positionals[0]
        module = values.get("module", ["command"])[-1] or "command"
        args = values.get("args", [""])[-1]
        todos = list(_unknown_todo("ansible", unknown))
        if module in ("copy", "ansible.builtin.copy"):
            native = _copy_from_args(args, context)
            if native is not None and "copy" in context.executors:
                return Translation("copy", native, hosts=pattern, todos=tuple(todos))
        spec: dict[str, Any] = {"module": module}
        if args.strip():
            spec["args"] = textwrap.dedent(args.strip("\n")).strip()  # a multi-line -a "…" loses its indentation
        _common_ansible(spec, values, context, todos)
        if module in ("copy", "ansible.builtin.copy") and "copy" not in context.executors:
            todos.append("a file copy: this becomes a native `copy` step once the copy executor is installed")
        return Translation("ansible", spec, hosts=pattern, todos=tuple(todos))


def _copy_from_args(args: str, context: CommandContext) -> dict[str, Any] | None:
    try:
        pairs = shlex.split(args)
    except ValueError:
        return None
    fields: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in ("src", "dest", "mode", "owner"):
            return None  # an argument the copy step has no field for: keep the module
        fields[key] = value
    if "src" not in fields or "dest" not in fields:
        return None
    spec: dict[str, Any] = {"src": context.resolve(fields["src"]), "dest": fields["dest"]}
    for key in ("mode", "owner"):
        if key in fields:
            spec[key] = fields[key]
    return spec


_SSH_OPTIONS = (
    Option(("-p",), "port"),
    Option(("-i",), "key_file"),
    Option(("-l",), "user"),
    Option(("-o",), "option"),
    Option(("-F",), "config"),
    Option(("-J",), "jump"),
    Option(("-t", "-T", "-q", "-n", "-A", "-x", "-X", "-4", "-6", "-C", "-v"), "flag", False),
)


def _ssh_split(argv: Sequence[str]) -> tuple[dict[str, list[str]], str | None, list[str], list[str]]:
    """(options, host, remote command words, unknown options): options stop at the host."""
    head: list[str] = []
    rest = list(argv)
    by_name = {name: option for option in _SSH_OPTIONS for name in option.names}
    while rest:
        arg = rest[0]
        if not arg.startswith("-"):
            break
        head.append(rest.pop(0))
        option = by_name.get(arg[:2])
        if option is not None and option.takes_value and len(arg) == 2 and rest:
            head.append(rest.pop(0))
    values, _, unknown = _options(head, _SSH_OPTIONS)
    host = rest.pop(0) if rest else None
    return values, host, rest, unknown


class SshRecognizer:
    """``ssh [-i KEY] [user@]HOST "command"`` → an ssh step on that host; a remote
    ``psql`` becomes a sql step against that host's database."""

    name = "ssh"
    priority = 20

    def recognize(self, command: Command, context: CommandContext) -> Translation | None:
        if command.program != "ssh" or command.compound or command.argv is None:
            return None
        values, host, remote, unknown = _ssh_split(command.argv[1:])
        if host is None or not remote:
            return None  # an interactive session: the importer follows it itself
        user, _, bare = host.rpartition("@")
        remote_text = remote[0] if len(remote) == 1 else shlex.join(remote)
        inner = parse_command(remote_text, command.line)
        if inner.program in ("psql", "mysql"):
            nested = (PsqlRecognizer() if inner.program == "psql" else MysqlRecognizer()).recognize(
                inner, CommandContext(remote_host=bare, executors=context.executors)
            )
            if nested is not None:
                return nested
        todos = list(_unknown_todo("ssh", [*unknown, *(f"-o {o}" for o in values.get("option", []))]))
        if user:
            todos.append(f"the procedure logs in as {user!r}: set ansible_user for {bare} in the inventory")
        if "port" in values:
            todos.append(f"port {values['port'][-1]}: set ansible_port for {bare} in the inventory")
        spec: Any = remote_text
        if "key_file" in values:
            spec = {"command": remote_text, "key_file": values["key_file"][-1]}
        return Translation("ssh", spec, hosts=bare, todos=tuple(todos))


class CurlRecognizer:
    """``curl [-X METHOD] [-H 'K: V'] [-d BODY] URL`` → an http step."""

    name = "curl"
    priority = 30
    _TABLE = (
        Option(("-X", "--request"), "method"),
        Option(("-H", "--header"), "header"),
        Option(("-d", "--data", "--data-raw", "--data-binary", "--data-ascii"), "data"),
        Option(("--json",), "json"),
        Option(("-m", "--max-time"), "timeout"),
        Option(("--connect-timeout",), "connect_timeout"),
        Option(("--cacert",), "ca_file"),
        Option(("-E", "--cert"), "client_cert"),
        Option(("--key",), "client_key"),
        Option(("--url",), "url"),
        Option(("-o", "--output"), "output"),
        Option(("-u", "--user"), "user"),
        Option(("-w", "--write-out"), "write_out"),
        Option(("-k", "--insecure"), "insecure", False),
        Option(("-I", "--head"), "head", False),
        Option(("-L", "--location"), "follow", False),
        Option(("-s", "--silent", "-S", "--show-error", "-f", "--fail", "-i", "--include", "-v", "--verbose", "-sS", "-fsS", "-fsSL"), "quiet", False),
    )

    def recognize(self, command: Command, context: CommandContext) -> Translation | None:
        if command.program != "curl" or command.compound or command.argv is None or context.remote_host:
            return None
        values, positionals, unknown = _options(command.argv[1:], self._TABLE)
        urls = values.get("url", []) + positionals
        if len(urls) != 1 or "://" not in urls[0]:
            return None
        todos = list(_unknown_todo("curl", unknown))
        spec: dict[str, Any] = {"url": urls[0]}
        headers: dict[str, str] = {}
        for header in values.get("header", []):
            key, sep, value = header.partition(":")
            if sep and key.strip():
                headers[key.strip()] = value.strip()
        body = "\n".join(values.get("data", []) + values.get("json", []))
        method = (values.get("method", [""])[-1] or ("POST" if body else "HEAD" if "head" in values else "GET")).upper()
        if method not in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
            todos.append(f"HTTP method {method} is not supported by the http step; GET is used")
            method = "GET"
        if method != "GET":
            spec["method"] = method
        if body:
            _body(spec, body, headers, "json" in values, todos)
        if headers:
            spec["headers"] = headers
        if "insecure" in values:
            spec["verify"] = False
        if "follow" in values:
            spec["follow_redirects"] = True
        for key in ("ca_file", "client_cert", "client_key"):
            if key in values:
                spec[key] = values[key][-1]
        timeout = values.get("timeout", [""])[-1]
        if timeout.replace(".", "", 1).isdigit():
            spec["timeout"] = float(timeout) if "." in timeout else int(timeout)
        if "user" in values:
            todos.append("credentials given with -u: use http auth with a secret var, never a literal")
        if "output" in values:
            todos.append(f"the response was saved to {values['output'][-1]}: capture the field you need instead")
        if "write_out" in values:
            todos.append(f"curl -w {values['write_out'][-1]!r}: the http step reports status, headers and latency")
        return Translation("http", spec, todos=tuple(todos))


def _body(spec: dict[str, Any], body: str, headers: dict[str, str], as_json: bool, todos: list[str]) -> None:
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    try:
        loaded = json.loads(body)
    except ValueError:
        loaded = None
    if loaded is not None and (as_json or "json" in content_type.lower() or isinstance(loaded, dict | list)):
        spec["json"] = _without_shell(loaded, todos)
        for key in [k for k in headers if k.lower() == "content-type"]:
            del headers[key]  # the json body sets it
        return
    if "$(" in body or "`" in body or "$" in body:
        todos.append(f"the request body is computed by the shell ({body}): write it as json or body")
    spec["body"] = body


def _without_shell(value: Any, todos: list[str], path: str = "") -> Any:
    """JSON from a command line, minus values the shell would have computed
    (``$(date …)``): an http body is data, nothing expands it."""
    if isinstance(value, dict):
        kept: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(item, str) and ("$(" in item or "`" in item):
                todos.append(f"json field {path + str(key)!r} was computed by the shell ({item}): give it a value")
                continue
            kept[key] = _without_shell(item, todos, f"{path}{key}.")
        return kept
    if isinstance(value, list):
        return [_without_shell(item, todos, path) for item in value]
    return value


class PsqlRecognizer:
    """``psql [-h HOST] [-U USER] [-d DB] -c 'SQL'`` → a sql step; the connection goes
    into a secret ``db_dsn`` var whose default is the DSN without a password."""

    name = "psql"
    priority = 30
    _TABLE: tuple[Option, ...] = (
        Option(("-h", "--host"), "host"),
        Option(("-p", "--port"), "port"),
        Option(("-U", "--username"), "user"),
        Option(("-d", "--dbname"), "db"),
        Option(("-c", "--command"), "sql"),
        Option(("-f", "--file"), "file"),
        Option(("-v", "--set", "--variable"), "set"),
        Option(("-t", "-A", "-q", "-X", "--tuples-only", "--no-align", "--quiet", "--no-psqlrc", "-w", "--no-password"), "flag", False),
    )
    scheme = "postgresql"

    def recognize(self, command: Command, context: CommandContext) -> Translation | None:
        if command.program != self.name or command.compound or command.argv is None:
            return None
        values, positionals, unknown = _options(command.argv[1:], self._TABLE)
        sql = values.get("sql", [""])[-1].strip()
        if not sql:
            return None
        db = values.get("db", [positionals[0] if positionals else ""])[-1]
        host = values.get("host", [context.remote_host or "localhost"])[-1]
        user = values.get("user", [""])[-1]
        port = values.get("port", [""])[-1]
        dsn = f"{self.scheme}://{quote(user) + '@' if user else ''}{host}{':' + port if port.isdigit() else ''}/{quote(db)}"
        todos = list(_unknown_todo(self.name, unknown))
        if "set" in values:
            todos.append("psql variables (-v) were dropped: bind values with params")
        statements = [s for s in sql.split(";") if s.strip()]
        spec: dict[str, Any] = {"dsn": dsn, ("script" if len(statements) > 1 else "query"): sql}
        return Translation("sql", spec, todos=tuple(todos))


class MysqlRecognizer(PsqlRecognizer):
    """``mysql [-h HOST] [-u USER] [DB] -e 'SQL'`` → a sql step."""

    name = "mysql"
    scheme = "mysql"
    _TABLE: tuple[Option, ...] = (
        Option(("-h", "--host"), "host"),
        Option(("-P", "--port"), "port"),
        Option(("-u", "--user"), "user"),
        Option(("-D", "--database"), "db"),
        Option(("-e", "--execute"), "sql"),
        Option(("-p", "--password"), "password", False),
        Option(("-N", "-B", "-s", "--batch", "--silent", "--skip-column-names"), "flag", False),
    )


class FileCopyRecognizer:
    """``scp FILE HOST:PATH`` and ``rsync -a FILE HOST:PATH`` → the native ``copy`` step
    when its executor is installed (a shell step with a TODO otherwise)."""

    name = "copy"
    priority = 30
    _SCP = (
        Option(("-P",), "port"),
        Option(("-i",), "key_file"),
        Option(("-o",), "option"),
        Option(("-r", "-p", "-q", "-C", "-v", "-3", "-4", "-6", "-B", "-T"), "flag", False),
    )
    _RSYNC = (
        Option(("-a", "-z", "-v", "-r", "-P", "-h", "-c", "-t", "-q", "--archive", "--verbose", "--compress", "--progress", "--recursive", "--partial", "--human-readable", "--checksum", "--times", "--quiet"), "flag", False),
        Option(("-e", "--rsh"), "rsh"),
        Option(("--chmod",), "mode"),
        Option(("--chown",), "owner"),
    )

    def recognize(self, command: Command, context: CommandContext) -> Translation | None:
        if command.program not in ("scp", "rsync") or command.compound or command.argv is None or context.remote_host:
            return None
        table = self._SCP if command.program == "scp" else self._RSYNC
        values, positionals, unknown = _options(command.argv[1:], table)
        if len(positionals) != 2 or ":" not in positionals[1] or ":" in positionals[0]:
            return None  # downloads and host-to-host copies stay shell commands
        host, _, dest = positionals[1].partition(":")
        user, _, host = host.rpartition("@")
        if "copy" not in context.executors or unknown or not host or "/" in host or "option" in values or "rsh" in values:
            return Translation(
                "shell",
                command.text,
                todos=("a file copy: use a `copy` step (src, dest, mode, owner) once the copy executor is installed",)
                if "copy" not in context.executors
                else (f"`{command.program}` options the copy step has no field for: {' '.join(unknown) or '-o/-e'}",),
            )
        spec: dict[str, Any] = {"src": context.resolve(positionals[0]), "dest": dest or "."}
        if "mode" in values:
            spec["mode"] = values["mode"][-1]
        if "owner" in values:
            spec["owner"] = values["owner"][-1]
        todos = []
        if user:
            todos.append(f"the procedure copies as {user!r}: set ansible_user for {host} in the inventory")
        if "port" in values:
            todos.append(f"port {values['port'][-1]}: set ansible_port for {host} in the inventory")
        return Translation("copy", spec, hosts=host, todos=tuple(todos))


class SleepRecognizer:
    """``sleep 30`` / ``sleep 5m`` → a wait step."""

    name = "sleep"
    priority = 40

    def recognize(self, command: Command, context: CommandContext) -> Translation | None:
        if command.program != "sleep" or command.compound or command.argv is None or len(command.argv) != 2:
            return None
        amount = command.argv[1]
        number, unit = amount.rstrip("smhd"), amount[len(amount.rstrip("smhd")):] or "s"
        if not number.isdigit() or len(unit) != 1:
            return None
        return Translation("wait", f"{int(number)}{unit}")

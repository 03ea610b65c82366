"""Values are data: no var, capture, inventory var or secret becomes shell syntax in a
`shell` or `ssh` command, whatever quotes the author wrote around the template, and no
value reaches a command line another user could read with `ps`."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runbook_engine.cli.options import load_checked
from runbook_engine.engine import PlainProgress, RunOptions, start_run
from runbook_engine.errors import TemplateError
from runbook_engine.executors.ssh import SshExecutor
from runbook_engine.shell_values import remote_script
from runbook_engine.templating import Renderer
from runbook_engine.testing import SshFleet, local_hosts, make_call
from runbook_engine.variables import resolve_vars

#: Every quoting context an author may write a template in, and what the shell must print.
CONTEXTS = {
    "bare": "printf '%s|' {{ v }}",
    "double": 'printf "%s|" "{{ v }}"',
    "single": "printf '%s|' '{{ v }}'",
    "adjacent": "printf '%s|' x{{ v }}y",
    "double-adjacent": 'printf "%s|" "x{{ v }}y"',
    "single-adjacent": "printf '%s|' 'x{{ v }}y'",
    "in-cmdsub": "printf '%s|' \"$(printf '%s' {{ v }})\"",
    "heredoc": "cat <<EOF\n{{ v }}\nEOF",
}


def expected(context: str, value: str) -> str:
    if context.endswith("adjacent"):
        return f"x{value}y|"
    if context == "in-cmdsub":
        return value.rstrip("\n") + "|"
    if context == "heredoc":
        return value + "\n"
    return value + "|"


EVIL = [
    "$(touch {marker})",
    "`touch {marker}`",
    '"; touch {marker}; echo "',
    "'; touch {marker}; echo '",
    "'\"$(touch {marker})\"'",
    "\nEOF\ntouch {marker}\ncat <<EOF",
    "x\ntouch {marker}",
    "$((1+1)) ${{HOME}} * ? [a] ~ \\",
]


def sh(command: Any, marker: Path) -> str:
    result = subprocess.run(
        ["/bin/sh", "-c", command.script],
        env={"PATH": os.environ["PATH"], **command.env},
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert not marker.exists(), f"value executed: {command.script!r} {command.values!r}"
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("context", sorted(CONTEXTS))
@pytest.mark.parametrize("evil", EVIL)
def test_metacharacters_stay_data_in_every_quoting_context(
    tmp_path: Path, context: str, evil: str
) -> None:
    marker = tmp_path / "pwned"
    value = evil.format(marker=marker)
    command = Renderer({"v": value}).render_command(CONTEXTS[context])
    assert value not in command.script or not value.strip()
    assert sh(command, marker) == expected(context, value)


#: Text an attacker would choose: shell metacharacters, quotes, newlines, substitutions.
hostile = st.lists(
    st.sampled_from(list("ab $`'\"\\\n;&|<>(){}*?[]#~=!%") + ["$(", "`id`", "EOF", "$((", "'\"'"]),
    max_size=20,
).map("".join)


#: Where a value comes from: a var, a captured output, an inventory var.
SOURCES = {
    "var": "{{ v }}",
    "capture": "{{ steps['make-it'].out }}",
    "inventory": "{{ host.vars.note }}",
}


@given(
    value=hostile,
    context=st.sampled_from(sorted(CONTEXTS)),
    source=st.sampled_from(sorted(SOURCES)),
)
def test_property_no_value_executes_in_any_context(value: str, context: str, source: str) -> None:
    marker = Path("/nonexistent-marker-runbook")  # only ever reported, never created
    if context == "heredoc" and value.split("\n").count("EOF"):
        value = value.replace("EOF", "E0F")  # a line EOF would end the author's here-doc
    renderer = Renderer(
        {"v": value},
        {"steps": {"make-it": {"out": value}}, "host": {"name": "h", "vars": {"note": value}}},
    )
    command = renderer.render_command(CONTEXTS[context].replace("{{ v }}", SOURCES[source]))
    assert sh(command, marker) == expected(context, value)


@given(value=hostile)
def test_property_remote_handoff_carries_values_exactly(value: str) -> None:
    """The ssh/sudo form: the values travel on stdin, the line holds none of them."""
    value = f"Q<{value}>Q"  # recognisable wherever it would land
    command = Renderer({"v": value, "w": value + "\n"}).render_command(
        "printf '%s|%s|' \"{{ v }}\" '{{ w }}'"
    )
    line, stdin = remote_script(command)
    assert value not in line
    for shell in ("/bin/sh", "/bin/bash"):
        result = subprocess.run(
            [shell, "-c", line], input=stdin, capture_output=True, text=True, timeout=10
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"{value}|{value}\n|"


def test_a_value_inside_a_quoted_heredoc_or_arithmetic_is_refused() -> None:
    for text in ("cat <<'EOF'\n{{ v }}\nEOF", "echo $(( {{ v }} + 1 ))"):
        with pytest.raises(TemplateError) as info:
            Renderer({"v": "1"}).render_command(text)
        assert info.value.rule == "RB205"


def test_raw_is_the_one_opt_out() -> None:
    command = Renderer({"v": "a b"}).render_command("echo {{ v | raw }}")
    assert command.script == "echo a b" and command.values == ()


class Runner:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.output = io.StringIO()

    def run(self, text: str, cli_vars: dict[str, str], **options: Any) -> Any:
        path = self.root / "runbook.yaml"
        path.write_text(textwrap.dedent(text).lstrip())
        runbook = load_checked(str(path))
        resolved = resolve_vars(runbook, cli_vars, (), {})
        opts = RunOptions(runs_dir=self.root / "runs", initiator="t", workdir=self.root, **options)
        return start_run(runbook, resolved, opts, PlainProgress(self.output))


def test_vars_and_captures_inside_the_authors_quotes_never_execute(tmp_path: Path) -> None:
    """The reproduced defect: `echo "{{ msg }}"` and `'{{ msg }}'` with `$(touch …)`,
    and a captured stdout used inside quotes by a later step."""
    marker = tmp_path / "pwned"
    book = """
    runbook: 1
    name: quoting
    vars:
      msg: {type: string, required: true}
    phases:
      - id: p
        steps:
          - id: dq
            shell: echo "{{ msg }}" > dq.txt
          - id: sq
            shell: echo '{{ msg }}' > sq.txt
          - id: produce
            shell: printf '%s' '$(touch MARKER)'
            capture: {out: stdout}
          - id: consume
            shell: echo "{{ steps.produce.out }}" > capture.txt
    """.replace("MARKER", str(marker))
    value = f"$(touch {marker})"
    Runner(tmp_path).run(book, {"msg": value})
    assert not marker.exists()
    assert (tmp_path / "dq.txt").read_text() == value + "\n"
    assert (tmp_path / "sq.txt").read_text() == value + "\n"
    assert (tmp_path / "capture.txt").read_text() == value + "\n"


def test_inventory_vars_stay_data_on_local_hosts(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    hosts = local_hosts(tmp_path, ["a"])
    evil = f"\"'$(touch {marker})'\""
    hosts = tuple(type(h)(**{**_fields(h), "vars": {**h.vars, "note": evil}}) for h in hosts)
    result = asyncio.run(
        SshExecutor().run(make_call({"command": "echo \"{{ host.vars.note }}\""}, hosts))
    )
    assert result.ok, result.error
    assert result.hosts["a"]["stdout"] == evil and not marker.exists()


def _fields(host: Any) -> dict[str, Any]:
    return {name: getattr(host, name) for name in host.__dataclass_fields__}


@pytest.mark.service("sshd")
def test_ssh_values_travel_on_stdin_not_the_remote_command_line(sshd_fleet: SshFleet) -> None:
    marker = sshd_fleet.members[0].root / "pwned"
    secret = f"s3cr3t-'\"-$(touch {marker})"
    seen: list[str] = []
    stop = threading.Event()
    watcher = threading.Thread(target=_watch_command_lines, args=(seen, stop), daemon=True)
    watcher.start()
    try:
        result = asyncio.run(
            SshExecutor().run(
                make_call(
                    {"command": "sleep 0.5; echo \"{{ token }}\"", **sshd_fleet.ssh_options()},
                    sshd_fleet.hosts()[:1],
                    values={"token": secret},
                )
            )
        )
    finally:
        stop.set()
        watcher.join()
    assert result.ok, result.error
    assert next(iter(result.hosts.values()))["stdout"] == secret and not marker.exists()
    assert seen and not [line for line in seen if "s3cr3t" in line]


def _watch_command_lines(seen: list[str], stop: threading.Event) -> None:
    """What `ps -eo args` shows every user: /proc/<pid>/cmdline of every process."""
    while not stop.is_set():
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    seen.append(Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
                except OSError:
                    continue
        time.sleep(0.02)


def test_shell_secrets_never_reach_a_command_line(tmp_path: Path) -> None:
    book = """
    runbook: 1
    name: secret-ps
    vars:
      token: {type: string, secret: true, required: true}
    phases:
      - id: p
        steps:
          - id: use
            shell: sleep 0.5; echo "{{ token }}" > out.txt
    """
    seen: list[str] = []
    stop = threading.Event()
    watcher = threading.Thread(target=_watch_command_lines, args=(seen, stop), daemon=True)
    watcher.start()
    try:
        Runner(tmp_path).run(book, {"token": "tok-'quoted'-s3cr3t"})
    finally:
        stop.set()
        watcher.join()
    assert (tmp_path / "out.txt").read_text() == "tok-'quoted'-s3cr3t\n"
    assert any("sleep 0.5" in line for line in seen)
    assert not [line for line in seen if "s3cr3t" in line]

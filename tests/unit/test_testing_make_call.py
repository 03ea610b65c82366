"""`runbook_engine.testing.make_call` renders exactly like a run (issue 10, defect 6)."""

from __future__ import annotations

import asyncio
import shlex

from runbook_engine.executors.base import Host
from runbook_engine.executors.shell import ShellExecutor
from runbook_engine.templating import Renderer
from runbook_engine.testing import make_call

NASTY = "a b; echo pwned $(id) 'q'"


def test_commands_are_shell_quoted_like_the_engine_does() -> None:
    """Regression: make_call rendered commands without shell quoting, so plugin
    authors tested other commands than production ran."""
    call = make_call("echo {{ name }}", values={"name": NASTY})
    engine = Renderer({"name": NASTY}, {"run": {"id": "test-run"}}).render_command("echo {{ name }}")
    command = call.render_command("echo {{ name }}", None)
    assert command == engine
    assert NASTY not in command.script  # the value is data, never command text
    assert shlex.split(command.shown) == ["echo", NASTY]


def test_a_quoted_value_reaches_the_command_as_data() -> None:
    result = asyncio.run(ShellExecutor().run(make_call("printf %s {{ name }}", values={"name": NASTY})))
    assert result.fields["stdout"] == NASTY


def test_host_and_vars_are_visible_like_in_a_run() -> None:
    host = Host(name="web-01", vars={"root": "/srv"})
    call = make_call({"path": "{{ host.vars.root }}/{{ vars.app }}"}, values={"app": "x"})
    assert call.render(call.spec, host) == {"path": "/srv/x"}

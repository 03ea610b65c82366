"""Entry point of the ``runbook`` command.

Subcommands are imported only when invoked, so ``runbook lint`` never pays for the
imports of ``runbook run``. A ``RunbookError`` becomes one clear line and exit 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

import click

from runbook_engine import __version__
from runbook_engine.errors import RunbookError

#: command name → "module:attribute" of its click command.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("runbook_engine.cli.run:run", "Execute a runbook."),
    "plan": ("runbook_engine.cli.plan:plan", "Show every rendered command in order; run nothing."),
    "resume": ("runbook_engine.cli.resume:resume", "Continue a paused or interrupted run."),
    "runs": ("runbook_engine.cli.runs:runs", "List runs from the run index."),
    "report": ("runbook_engine.cli.report:report", "Render the report of a run."),
    "verify": ("runbook_engine.cli.verify:verify", "Check a run journal's hash chain."),
    "lint": ("runbook_engine.cli.lint:lint", "Check runbooks for schema and semantic errors."),
    "explain": ("runbook_engine.cli.explain:explain", "Render a runbook as a human checklist."),
    "graph": ("runbook_engine.cli.graph:graph", "Draw the step graph (Mermaid or DOT)."),
    "schema": ("runbook_engine.cli.schema:schema", "Print the composed JSON Schema."),
    "import": ("runbook_engine.cli.import_:import_", "Turn a Markdown procedure into a runbook YAML draft."),
    "plugins": ("runbook_engine.cli.plugins:plugins", "List installed executors."),
    "serve": ("runbook_engine.cli.serve:serve", "Serve the web console (runs, approvals, reports)."),
    "test": ("runbook_engine.cli.test:test", "Run a runbook's test cases with stubbed results."),
}


class LazyGroup(click.Group):
    """A click group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if _available(name))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not _available(cmd_name):
            return None
        target, _ = COMMANDS[cmd_name]
        module_name, attr = target.split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _available(name: str) -> bool:
    module_name = COMMANDS[name][0].split(":")[0]
    return importlib.util.find_spec(module_name) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="runbook")
def cli() -> None:
    """runbook-engine: run, check and explain operations runbooks."""


def main(argv: list[str] | None = None) -> Any:
    try:
        return cli.main(args=argv, prog_name="runbook", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except RunbookError as exc:
        click.echo(describe_error(exc), err=True)
        sys.exit(2)


def describe_error(exc: RunbookError) -> str:
    """One finding: ``file:line:col: message [rule]``, the source line and a caret."""
    lines = [f"{exc.span}: {exc.message} [{exc.rule}]" if exc.span else f"error: {exc.message}"]
    if exc.span is not None:
        try:
            with open(exc.span.path, encoding="utf-8") as handle:
                source = handle.read().splitlines()
        except (OSError, UnicodeDecodeError):
            source = []
        if 0 < exc.span.line <= len(source):
            text = source[exc.span.line - 1]
            lines += [f"  {text}", "  " + " " * (exc.span.col - 1) + "^"]
    if exc.hint:
        lines.append(f"  hint: {exc.hint}")
    return "\n".join(lines)

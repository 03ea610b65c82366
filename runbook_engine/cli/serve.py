"""``runbook serve``: the web console (runs, live run pages, approvals, reports,
metrics, Slack callback). Needs the ``serve`` extra; imported only when invoked."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from runbook_engine.cli.runs import runs_dir_option


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8470, show_default=True)
@click.option(
    "--users",
    "users_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path(".runbook/users.yaml"),
    show_default=True,
    help="Users file: accounts with argon2 password hashes (and Slack ids).",
)
@click.option("--certfile", type=click.Path(exists=True, dir_okay=False), help="TLS certificate (PEM).")
@click.option("--keyfile", type=click.Path(exists=True, dir_okay=False), help="TLS private key (PEM).")
@click.option(
    "--trust-proxy-header",
    "proxy_header",
    metavar="HEADER",
    help="Take the user from HEADER, set by a trusted reverse proxy (SSO). Off by default.",
)
@click.option(
    "--add-user",
    metavar="NAME",
    help="Add or replace user NAME in the users file (password read from the terminal or stdin) and exit.",
)
@click.option("--slack-id", metavar="ID", help="With --add-user: the user's Slack user id.")
@click.option(
    "--slack-socket-mode",
    is_flag=True,
    help="Receive Slack button clicks over Socket Mode (outbound only); app-level token in $SLACK_APP_TOKEN.",
)
@runs_dir_option
def serve(
    host: str,
    port: int,
    users_file: Path,
    certfile: str | None,
    keyfile: str | None,
    proxy_header: str | None,
    add_user: str | None,
    slack_id: str | None,
    slack_socket_mode: bool,
    runs_dir: Path,
) -> None:
    """Serve the web console over the runs in --runs-dir."""
    try:
        import starlette  # noqa: F401
        import uvicorn
    except ImportError:
        raise click.ClickException(
            "runbook serve needs the serve extra: pip install 'runbook-engine[serve]'"
        ) from None
    if add_user:
        from runbook_engine.serve.users import add_user as add

        if sys.stdin.isatty():
            password = click.prompt("password", hide_input=True, confirmation_prompt=True)
        else:
            password = sys.stdin.readline().rstrip("\n")
        if not password:
            raise click.ClickException("empty password")
        users_file.parent.mkdir(parents=True, exist_ok=True)
        add(users_file, add_user, password, slack_id)
        click.echo(f"user {add_user} written to {users_file}", err=True)
        return
    if bool(certfile) != bool(keyfile):
        raise click.ClickException("--certfile and --keyfile go together")
    from runbook_engine.serve import ServeConfig, create_app

    config = ServeConfig.from_environment(
        runs_dir=runs_dir.resolve(),
        users_file=users_file,
        proxy_header=proxy_header,
        tls=bool(certfile),
        socket_mode=slack_socket_mode,
    )
    app = create_app(config)
    scheme = "https" if certfile else "http"
    click.echo(f"runbook console on {scheme}://{host}:{port}/ (runs in {runs_dir})", err=True)
    uvicorn.run(app, host=host, port=port, ssl_certfile=certfile, ssl_keyfile=keyfile,
                log_level="info", server_header=False)  # fmt: skip

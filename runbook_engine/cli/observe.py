"""Options of ``run`` and ``resume`` that shape what people and machines watch:
``-v`` for every line of playbook steps, and the live Prometheus metrics
(``--metrics-port``, ``--metrics-textfile``, ``--pushgateway``)."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

_META = "runbook.observe"


@dataclass(frozen=True)
class Observe:
    verbose: bool = False
    metrics_textfile: Path | None = None
    pushgateway: str | None = None
    metrics_port: int | None = None


def observe_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the options; the command reads them through `observed_progress`."""

    @functools.wraps(command)
    def wrapper(
        *args: Any,
        verbose: bool,
        metrics_textfile: Path | None,
        pushgateway: str | None,
        metrics_port: int | None,
        **kwargs: Any,
    ) -> Any:
        click.get_current_context().meta[_META] = Observe(
            verbose, metrics_textfile, pushgateway, metrics_port
        )
        return command(*args, **kwargs)

    for option in reversed(
        [
            click.option(
                "-v", "--verbose", is_flag=True, help="Show every task line of playbook steps."
            ),
            click.option(
                "--metrics-textfile",
                type=click.Path(dir_okay=False, path_type=Path),
                help="Keep the run's Prometheus metrics in FILE (node_exporter textfile).",
            ),
            click.option(
                "--pushgateway", metavar="URL", help="Push the run's metrics to URL at the end."
            ),
            click.option(
                "--metrics-port",
                type=click.IntRange(0, 65535),
                help="Serve live metrics on 127.0.0.1:PORT while the run lasts (0: any port).",
            ),
        ]
    ):
        wrapper = option(wrapper)
    return wrapper


def observed_progress(log_format: str, runbook: str) -> Any:
    """The progress view for the options given, feeding the live metrics if asked."""
    from runbook_engine.engine import make_progress

    ctx = click.get_current_context(silent=True)
    observe = ctx.meta.get(_META, Observe()) if ctx is not None else Observe()
    progress = make_progress(log_format, verbose=observe.verbose)
    if observe.metrics_port is None and not observe.metrics_textfile and not observe.pushgateway:
        return progress
    from runbook_engine.metrics import LiveMetrics, MetricsExport

    def warn(text: str) -> None:
        progress.event("warning", text=text)

    try:
        export = MetricsExport(
            LiveMetrics(runbook),
            textfile=observe.metrics_textfile,
            pushgateway=observe.pushgateway,
            port=observe.metrics_port,
            warn=warn,
        )
    except OSError as exc:
        raise click.ClickException(
            f"cannot serve metrics on port {observe.metrics_port}: {exc}"
        ) from exc
    if export.port is not None:
        progress.event("message", text=f"metrics on http://127.0.0.1:{export.port}/metrics")
    return MeteredProgress(progress, export)


class MeteredProgress:
    """A progress view that also updates the run's live metrics."""

    def __init__(self, inner: Any, export: Any) -> None:
        self.inner = inner
        self.export = export

    def event(self, kind: str, **data: Any) -> None:
        self.export.event(kind, data)
        self.inner.event(kind, **data)

    @contextlib.contextmanager
    def suspend(self) -> Iterator[None]:
        with self.inner.suspend():
            yield

    def close(self) -> None:
        try:
            self.export.close()
        finally:
            self.inner.close()

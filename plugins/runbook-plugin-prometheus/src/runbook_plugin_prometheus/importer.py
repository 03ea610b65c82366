"""`runbook import` learns Prometheus: a command recognizer, registered through the
``runbook_engine.importers`` entry point exactly like the built-in ones, that turns
``promtool query instant URL 'EXPR'`` and ``curl 'URL/api/v1/query?query=EXPR'``
into a ``prometheus`` step instead of a shell or http step."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from runbook_engine.importer.commands import CommandContext, Translation
from runbook_engine.importer.script import Command

__all__ = ["PrometheusQueryRecognizer"]


class PrometheusQueryRecognizer:
    name = "prometheus"
    priority = 5  # before the built-in curl recognizer

    def recognize(self, command: Command, context: CommandContext) -> Translation | None:
        if "prometheus" not in context.executors or command.compound or command.argv is None or context.remote_host:
            return None
        argv = command.argv
        if command.program == "promtool" and argv[1:3] == ("query", "instant") and len(argv) == 5:
            return Translation("prometheus", {"url": argv[3], "query": argv[4]})
        if command.program == "curl":
            return _from_curl(argv[1:])
        return None


def _from_curl(args: tuple[str, ...]) -> Translation | None:
    urls = [a for a in args if "://" in a]
    if len(urls) != 1:
        return None
    parts = urlsplit(urls[0])
    if not parts.path.endswith("/api/v1/query"):
        return None
    query = parse_qs(parts.query).get("query", [None])[0]
    for flag, value in zip(args, args[1:], strict=False):
        if flag in ("--data-urlencode", "-d", "--data") and value.startswith("query="):
            query = value[len("query="):]
    if not query:
        return None
    base = f"{parts.scheme}://{parts.netloc}{parts.path[: -len('/api/v1/query')]}"
    return Translation("prometheus", {"url": base, "query": query})

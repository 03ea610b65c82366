"""``runbook graph FILE``: the step graph as Mermaid or DOT."""

from __future__ import annotations

import click

from runbook_engine.cli.options import load_checked
from runbook_engine.graph import build_graph
from runbook_engine.model import Runbook

#: Words Mermaid reads as syntax; a step called ``end`` would close a subgraph.
_MERMAID_KEYWORDS = frozenset(
    {"end", "graph", "flowchart", "subgraph", "style", "class", "classDef", "click", "linkStyle", "direction", "default"}
)


def _node_ids(runbook: Runbook) -> dict[str, str]:
    """Mermaid-safe node ids for the rollback group, each phase (``phase:<id>``) and
    each step, never two alike:
    ``a-b`` and ``a_b`` are both valid step ids, so a plain replace would merge them."""
    ids: dict[str, str] = {}
    taken: set[str] = set()

    def claim(key: str, base: str) -> None:
        if base in _MERMAID_KEYWORDS:
            base += "_step"
        name, n = base, 2
        while name in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name)
        ids[key] = name

    claim("rollback:", "rollback")
    for phase in runbook.phases:
        claim(f"phase:{phase.id}", "phase_" + phase.id.replace("-", "_"))
    for step in runbook.all_steps():
        claim(step.id, step.id.replace("-", "_"))
    return ids


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def mermaid(runbook: Runbook) -> str:
    graph = build_graph(runbook)
    node = _node_ids(runbook)
    lines = ["flowchart TD"]
    for phase in runbook.phases:
        lines.append(f'  subgraph {node["phase:" + phase.id]}["{_mermaid_text(phase.label)}"]')
        for step in phase.steps:
            lines.append(f'    {node[step.id]}["{_mermaid_text(step.label)}<br/><small>{step.executor}</small>"]')
        lines.append("  end")
    for step in graph.order():
        for dep in sorted(graph.predecessors(step.id), key=graph.position.__getitem__):
            lines.append(f"  {node[dep]} --> {node[step.id]}")
    if runbook.rollback:
        lines.append(f'  subgraph {node["rollback:"]}["Rollback (on decision)"]')
        previous = None
        for step in runbook.rollback:
            lines.append(f'    {node[step.id]}["{_mermaid_text(step.label)}"]')
            if previous:
                lines.append(f"    {node[previous]} --> {node[step.id]}")
            previous = step.id
        lines.append("  end")
    return "\n".join(lines) + "\n"


def dot(runbook: Runbook) -> str:
    graph = build_graph(runbook)
    lines = ["digraph runbook {", "  rankdir=TB;", "  node [shape=box, style=rounded];"]
    for phase in runbook.phases:
        lines.append(f'  subgraph "cluster_{phase.id}" {{')
        lines.append(f'    label="{_dot_text(phase.label)}";')
        for step in phase.steps:
            lines.append(f'    "{step.id}" [label="{_dot_text(step.label)}\\n({step.executor})"];')
        lines.append("  }")
    for step in graph.order():
        for dep in sorted(graph.predecessors(step.id), key=graph.position.__getitem__):
            lines.append(f'  "{dep}" -> "{step.id}";')
    if runbook.rollback:
        lines.append('  subgraph "cluster_rollback" {')
        lines.append('    label="Rollback (on decision)"; style=dashed;')
        previous = None
        for step in runbook.rollback:
            lines.append(f'    "{step.id}" [label="{_dot_text(step.label)}"];')
            if previous:
                lines.append(f'    "{previous}" -> "{step.id}";')
            previous = step.id
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


@click.command()
@click.argument("path")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid", show_default=True)
def graph(path: str, fmt: str) -> None:
    """Draw the steps of PATH and their dependencies."""
    runbook = load_checked(path)
    click.echo(mermaid(runbook) if fmt == "mermaid" else dot(runbook), nl=False)

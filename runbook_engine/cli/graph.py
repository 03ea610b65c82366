"""``runbook graph FILE``: the step graph as Mermaid or DOT."""

from __future__ import annotations

import click

from runbook_engine.cli.options import load_checked
from runbook_engine.graph import build_graph
from runbook_engine.model import Runbook


def _node(step_id: str) -> str:
    return step_id.replace("-", "_")


def mermaid(runbook: Runbook) -> str:
    graph = build_graph(runbook)
    lines = ["flowchart TD"]
    for phase in runbook.phases:
        lines.append(f'  subgraph {_node("phase_" + phase.id)}["{phase.label}"]')
        for step in phase.steps:
            lines.append(f'    {_node(step.id)}["{step.label}<br/><small>{step.executor}</small>"]')
        lines.append("  end")
    for step in graph.order():
        for dep in sorted(graph.predecessors(step.id), key=graph.position.__getitem__):
            lines.append(f"  {_node(dep)} --> {_node(step.id)}")
    if runbook.rollback:
        lines.append('  subgraph rollback["Rollback (on decision)"]')
        previous = None
        for step in runbook.rollback:
            lines.append(f'    {_node(step.id)}["{step.label}"]')
            if previous:
                lines.append(f"    {_node(previous)} --> {_node(step.id)}")
            previous = step.id
        lines.append("  end")
    return "\n".join(lines) + "\n"


def dot(runbook: Runbook) -> str:
    graph = build_graph(runbook)
    lines = ["digraph runbook {", "  rankdir=TB;", "  node [shape=box, style=rounded];"]
    for phase in runbook.phases:
        lines.append(f'  subgraph "cluster_{phase.id}" {{')
        lines.append(f'    label="{phase.label}";')
        for step in phase.steps:
            lines.append(f'    "{step.id}" [label="{step.label}\\n({step.executor})"];')
        lines.append("  }")
    for step in graph.order():
        for dep in sorted(graph.predecessors(step.id), key=graph.position.__getitem__):
            lines.append(f'  "{dep}" -> "{step.id}";')
    if runbook.rollback:
        lines.append('  subgraph "cluster_rollback" {')
        lines.append('    label="Rollback (on decision)"; style=dashed;')
        previous = None
        for step in runbook.rollback:
            lines.append(f'    "{step.id}" [label="{step.label}"];')
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

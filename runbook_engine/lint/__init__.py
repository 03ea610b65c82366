"""Static checks of runbooks: schema, graph, vars, templates and predicates."""

from runbook_engine.lint.analysis import Analysis, analyze, analyze_document

__all__ = ["Analysis", "analyze", "analyze_document"]

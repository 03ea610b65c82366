"""Human-readable renderings of a runbook."""

from runbook_engine.explain.checklist import render_checklist

__all__ = ["render_checklist"]

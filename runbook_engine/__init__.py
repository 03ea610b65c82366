"""runbook-engine: operations runbooks as declarative YAML that a machine executes,
checks and explains."""

from __future__ import annotations

__version__ = "0.1.0"

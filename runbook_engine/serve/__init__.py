"""``runbook serve``: the web console — runs, live run pages, approvals, reports,
metrics and the Slack callback — over the journals and the run index.

The console keeps no state of its own beyond login sessions: every page is read from
the journals, every vote goes through the operator-action path `runbook resume` uses
(engine/votes.py), and a gate once answered is continued by a supervised
``runbook resume`` process. Starlette, uvicorn, Jinja2 and argon2-cffi come with the
``serve`` extra and are imported only here.
"""

from __future__ import annotations

from runbook_engine.serve.app import ServeConfig, create_app

__all__ = ["ServeConfig", "create_app"]

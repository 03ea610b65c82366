"""The report as JSON, for tickets filed by machines."""

from __future__ import annotations

import dataclasses
import json

from runbook_engine.report.summary import RunReport


def render_json(report: RunReport) -> str:
    return json.dumps(dataclasses.asdict(report), indent=2, default=str) + "\n"

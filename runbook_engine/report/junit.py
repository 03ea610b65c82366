"""The report as JUnit XML, so CI systems show a run's steps and success metrics
as test cases: one suite per phase, one more for the success targets."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping

from runbook_engine.report.summary import PhaseRow, PlannedStep, RunReport
from runbook_engine.report.text import metric_text

_FAILED = {"failed", "rollback_failed", "cancelled", "running"}


#: Statuses of steps that have not finished yet but are not failures: waiting for
#: an operator when the report was made.
_WAITING = {"paused", "confirmed", "pending"}


def render_junit(report: RunReport) -> str:
    name = report.runbook or "run"
    root = ET.Element("testsuites", name=name, time=f"{report.total_duration or 0.0:.3f}")
    properties = {
        "run_id": report.run_id,
        "status": report.status,
        "initiator": report.initiator,
        "inventory": report.inventory,
        "downtime_seconds": report.downtime.seconds,
    }
    never_ran: dict[str, list[PlannedStep]] = {}
    for planned in report.not_run:
        never_ran.setdefault(planned.phase, []).append(planned)
    phase_ids = [p.id for p in report.phases]
    phases = list(report.phases) + [
        PhaseRow(pid, None, None, None, None, None, None, ()) for pid in never_ran if pid not in phase_ids
    ]
    for phase in phases:
        missing = never_ran.get(phase.id, [])
        suite = ET.SubElement(
            root,
            "testsuite",
            name=f"{name}.{phase.id}",
            tests=str(len(phase.steps) + len(missing)),
            failures=str(sum(1 for s in phase.steps if s.status in _FAILED)),
            skipped=str(
                sum(1 for s in phase.steps if s.status == "skipped" or s.status in _WAITING)
                + len(missing)
            ),
            time=f"{_phase_time(phase):.3f}",
            timestamp=phase.started_at or "",
        )
        _properties(suite, properties)
        for step in phase.steps:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"{name}.{phase.id}",
                name=step.id,
                time=f"{step.duration or 0.0:.3f}",
            )
            if step.status in _FAILED:
                message = step.error or f"step {step.status}"
                failure = ET.SubElement(case, "failure", message=message, type=step.status)
                failure.text = f"{step.id}: {message} after {step.attempts} attempt(s)"
            elif step.status == "skipped":
                ET.SubElement(case, "skipped", message="step skipped")
            elif step.status in _WAITING:
                ET.SubElement(case, "skipped", message="waiting for an operator")
            if step.overrun:
                ET.SubElement(case, "system-out").text = f"over budget by {step.overrun:.1f}s"
        for planned in missing:
            case = ET.SubElement(
                suite, "testcase", classname=f"{name}.{phase.id}", name=planned.id, time="0.000"
            )
            ET.SubElement(case, "skipped", message="never ran")
    if report.verdicts:
        suite = ET.SubElement(
            root,
            "testsuite",
            name=f"{name}.success",
            tests=str(len(report.verdicts)),
            failures=str(sum(1 for v in report.verdicts if v.outcome == "fail")),
            skipped=str(sum(1 for v in report.verdicts if v.outcome == "unknown")),
            time=f"{report.total_duration or 0.0:.3f}",
        )
        for verdict in report.verdicts:
            case = ET.SubElement(
                suite, "testcase", classname=f"{name}.success", name=verdict.metric
            )
            if verdict.outcome == "fail":
                ET.SubElement(
                    case,
                    "failure",
                    message=f"{verdict.metric} = {metric_text(verdict.metric, verdict.value)}, target {verdict.target}",
                    type="target",
                )
            elif verdict.outcome == "unknown":
                ET.SubElement(case, "skipped", message=verdict.reason)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _properties(suite: ET.Element, values: Mapping[str, object]) -> None:
    props = ET.SubElement(suite, "properties")
    for key, value in values.items():
        if value is not None:
            ET.SubElement(props, "property", name=key, value=str(value))


def _phase_time(phase: PhaseRow) -> float:
    """The phase's wall time; for a phase the run left unfinished, its steps' time."""
    if phase.duration is not None:
        return phase.duration
    return sum(s.duration or 0.0 for s in phase.steps)

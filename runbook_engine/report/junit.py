"""The report as JUnit XML, so CI systems show a run's steps and success metrics
as test cases: one suite per phase, one more for the success targets."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping

from runbook_engine.report.summary import RunReport

_FAILED = {"failed", "rollback_failed", "cancelled", "running"}


def render_junit(report: RunReport) -> str:
    name = report.runbook or "run"
    root = ET.Element("testsuites", name=name)
    properties = {
        "run_id": report.run_id,
        "status": report.status,
        "initiator": report.initiator,
        "downtime_seconds": report.downtime.seconds,
    }
    for phase in report.phases:
        suite = ET.SubElement(
            root,
            "testsuite",
            name=f"{name}.{phase.id}",
            tests=str(len(phase.steps)),
            failures=str(sum(1 for s in phase.steps if s.status in _FAILED)),
            skipped=str(sum(1 for s in phase.steps if s.status == "skipped")),
            time=f"{phase.duration or 0.0:.3f}",
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
            if step.overrun:
                ET.SubElement(case, "system-out").text = f"over budget by {step.overrun:.1f}s"
    if report.verdicts:
        suite = ET.SubElement(
            root,
            "testsuite",
            name=f"{name}.success",
            tests=str(len(report.verdicts)),
            failures=str(sum(1 for v in report.verdicts if v.outcome == "fail")),
            skipped=str(sum(1 for v in report.verdicts if v.outcome == "unknown")),
        )
        for verdict in report.verdicts:
            case = ET.SubElement(
                suite, "testcase", classname=f"{name}.success", name=verdict.metric
            )
            if verdict.outcome == "fail":
                ET.SubElement(
                    case,
                    "failure",
                    message=f"{verdict.metric} = {verdict.value!r}, target {verdict.target}",
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

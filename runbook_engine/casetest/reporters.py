"""The verdicts of ``runbook test`` as text for a terminal or JUnit XML for CI."""

from __future__ import annotations

from collections.abc import Sequence
from xml.etree import ElementTree as ET

from runbook_engine.casetest.suite import CaseOutcome


def render_text(runbook: str, outcomes: Sequence[CaseOutcome], *, verbose: bool = False) -> str:
    lines = []
    for outcome in outcomes:
        case, seen = outcome.case, outcome.observation
        mark = "PASS" if outcome.passed else "FAIL"
        status = f" — {seen.status}" if seen is not None else ""
        lines.append(f"{mark} {case.name}{status} ({case.span})")
        for failure in outcome.failures:
            lines.append(f"  {failure}")
        if seen is not None and (verbose or not outcome.passed):
            shown = [r.step if r.status == "succeeded" else f"{r.step} ({r.status})" for r in seen.finished]
            lines.append("  path: " + (", ".join(shown) or "(no step finished)"))
            for decision in seen.decisions:
                at = f" at {decision.at:g}s" if decision.at is not None else ""
                lines.append(f"  decision: {decision.condition} → {decision.action} ({decision.step}{at})")
    failed = sum(1 for o in outcomes if not o.passed)
    lines.append(
        f"{runbook}: {len(outcomes) - failed} passed, {failed} failed"
        + f" ({sum(o.seconds for o in outcomes):.2f}s)"
    )
    return "\n".join(lines)


def render_junit(runbook: str, outcomes: Sequence[CaseOutcome]) -> str:
    failed = sum(1 for o in outcomes if not o.passed)
    suite = ET.Element(
        "testsuite",
        name=runbook,
        tests=str(len(outcomes)),
        failures=str(failed),
        errors="0",
        time=f"{sum(o.seconds for o in outcomes):.3f}",
    )
    for outcome in outcomes:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=runbook,
            name=outcome.case.name,
            file=outcome.case.path,
            line=str(outcome.case.span.line),
            time=f"{outcome.seconds:.3f}",
        )
        if outcome.failures:
            failure = ET.SubElement(
                case, "failure", message=outcome.failures[0].message.splitlines()[0]
            )
            failure.text = "\n".join(str(f) for f in outcome.failures)
        if outcome.observation is not None:
            out = ET.SubElement(case, "system-out")
            out.text = "\n".join(outcome.observation.path())
    suites = ET.Element("testsuites", tests=str(len(outcomes)), failures=str(failed))
    suites.append(suite)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"

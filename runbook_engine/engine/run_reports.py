"""The reports kept in a run directory (``report.md``, ``report.json``).

The engine writes them right after ``run_finished``; each is written to a temporary
name and renamed, so a kill leaves a report complete or absent, never half-written.
The journal holds everything they are made from: `runbook report RUN` rebuilds
missing ones, and `runbook runs` says when a finished run has none.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runbook_engine.report.summary import PlannedStep

#: The report files of a run directory, by report format.
RUN_DIR_REPORTS = {"markdown": "report.md", "json": "report.json"}


def missing_reports(run_dir: Path) -> list[str]:
    return [name for name in RUN_DIR_REPORTS.values() if not (Path(run_dir) / name).is_file()]


def write_run_reports(
    run_dir: Path,
    run_id: str,
    events: Sequence[Mapping[str, Any]],
    *,
    success: Mapping[str, str] | None,
    budgets: Mapping[str, Any] | None,
    report_dir: Path | None = None,
    only_missing: bool = False,
    planned: Sequence[PlannedStep] = (),
    durations: frozenset[str] = frozenset(),
) -> list[Path]:
    """Render the run directory's reports (and copies in ``report_dir``); with
    ``only_missing`` just the ones a kill left out. The paths written."""
    from runbook_engine.report import render_report

    written: list[Path] = []
    for fmt, name in RUN_DIR_REPORTS.items():
        targets = [Path(run_dir) / name]
        if report_dir is not None:
            targets.append(Path(report_dir) / f"{run_id}{Path(name).suffix}")
        if only_missing:
            targets = [t for t in targets if not t.is_file()]
        if not targets:
            continue
        text = render_report(
            events,
            fmt,
            success=success,
            budgets=budgets,
            run_id=run_id,
            planned=planned,
            durations=durations,
        )
        for target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            _write_atomic(target, text)
            written.append(target)
    return written


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)

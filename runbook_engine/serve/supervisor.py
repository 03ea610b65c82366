"""Continuing a run once its gate is answered: a supervised ``runbook resume RUN``
child process per run, the same command an operator would type, so the run's own
lock, chain check and secret handling apply (secret vars come from the server's
environment, as they would from the operator's shell; never from a command line).
Its progress goes to ``<run dir>/console-resume.log``; pages follow the journal."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

LOG_NAME = "console-resume.log"


@dataclass
class Supervisor:
    runs_dir: Path
    workdir: Path
    children: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    _reapers: set[asyncio.Task[int]] = field(default_factory=set)

    def running(self, run_id: str) -> bool:
        child = self.children.get(run_id)
        return child is not None and child.returncode is None

    async def resume(self, run_id: str) -> int:
        """Start ``runbook resume RUN`` unless one already runs; its pid."""
        if self.running(run_id):
            return self.children[run_id].pid
        log = open(self.runs_dir / run_id / LOG_NAME, "ab")  # noqa: SIM115 - handed to the child
        try:
            child = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                "from runbook_engine.cli.main import main; main()",
                "resume",
                run_id,
                "--runs-dir",
                str(self.runs_dir),
                "--log-format",
                "json",
                cwd=self.workdir,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env={**os.environ, "NO_COLOR": "1"},
                start_new_session=True,
            )
        finally:
            log.close()
        self.children[run_id] = child
        reaper = asyncio.get_running_loop().create_task(child.wait())
        self._reapers.add(reaper)
        reaper.add_done_callback(self._reapers.discard)
        return child.pid

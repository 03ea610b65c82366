"""Journal cost per line: append (hash chain + MAC under the installation key) and
`verify_run` (chain, every MAC, anchored head), for a journal of N lines.

    .venv/bin/python benchmarks/bench_journal.py [--lines 20000] [--rounds 3]

Prints a Markdown table of medians. Runs in a throw-away state dir and runs dir.
To compare with an older tree, run that tree's copy of this file with PYTHONPATH=/path/to/old
(the journal takes typed events since journal/events.py; older trees took a name and keywords).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def one_round(lines: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_STATE_HOME"] = str(Path(tmp) / "state")
        from runbook_engine.journal import Journal, verify_run
        from runbook_engine.journal.events import Paused, StepOutput

        journal = Journal.create(
            Path(tmp) / "runs", runbook_name="bench", runbook_path="bench.yaml",
            runbook_sha256="x", vars_sha256="y", inventory=None, initiator="bench",
        )  # fmt: skip
        started = time.perf_counter()
        for index in range(lines):
            journal.append(StepOutput(step=f"s{index % 50}", host="h", line="x" * 60))
        append = (time.perf_counter() - started) / lines
        journal.append(Paused(step="s0", phase=None, reason="waiting", deadline=None))
        started = time.perf_counter()
        problems = verify_run(journal)
        check = time.perf_counter() - started
        assert problems == [], problems
        return append, check


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = [one_round(args.lines) for _ in range(args.rounds)]
    append = statistics.median(r[0] for r in results)
    check = statistics.median(r[1] for r in results)
    print(f"| measure ({args.lines} lines, median of {args.rounds}) | value |")
    print("|---|---|")
    print(f"| append, per line (no fsync) | {append * 1e6:.1f} µs |")
    print(f"| verify_run, whole journal | {check * 1e3:.0f} ms ({check / args.lines * 1e6:.1f} µs/line) |")


if __name__ == "__main__":
    main()

"""Engine overhead: a runbook of trivial shell steps against bare subprocesses.

    .venv/bin/python benchmarks/bench_engine.py [--steps 1000] [--memory-steps 10000] [--rounds 3]

Prints a Markdown table (medians of interleaved rounds, so a busy machine hits every
column alike): the time of N bare ``asyncio.create_subprocess_exec('/bin/true')``
calls, the time of an N-step runbook of ``shell: "true"`` steps in the same process
(journal with fsync at every step boundary, decisions, report), the per-step
overhead the engine adds (target < 2 ms), and the peak memory (max RSS) of a
separate process running a much larger runbook (target < 200 MB).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OVERHEAD_TARGET_MS = 2.0
MEMORY_TARGET_MB = 200.0


def write_runbook(path: Path, steps: int) -> Path:
    lines = ["runbook: 1", f"name: bench-{steps}", "phases:"]
    per_phase = 100
    for p in range(0, steps, per_phase):
        lines += [f"  - id: phase-{p // per_phase}", "    steps:"]
        for i in range(p, min(p + per_phase, steps)):
            lines += [f"      - id: s{i}", '        shell: "true"']
    lines += [
        "decisions:",
        "  - condition: any step fails",
        "    when: any_host_failed(phase-*)",
        "    action: abort",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def bare(steps: int) -> float:
    async def main() -> None:
        for _ in range(steps):
            proc = await asyncio.create_subprocess_exec("/bin/true")
            await proc.wait()

    started = time.perf_counter()
    asyncio.run(main())
    return time.perf_counter() - started


def executor_alone(steps: int) -> float:
    """The shell executor without the engine: process group, parent-death signal
    (setpriv), guardian registration and go line, output capture."""
    from runbook_engine.executors.base import StepCall
    from runbook_engine.executors.shell import ShellExecutor

    async def main() -> None:
        executor = ShellExecutor()
        call = StepCall("bench", "true")
        for _ in range(steps):
            await executor.run(call)
        await executor.close()

    started = time.perf_counter()
    asyncio.run(main())
    return time.perf_counter() - started


def engine(steps: int, root: Path) -> tuple[float, float, str]:
    """(seconds for the whole run, seconds for loading and checking, status)."""
    from runbook_engine.cli.options import load_checked
    from runbook_engine.engine import NullProgress, RunOptions, start_run
    from runbook_engine.variables import resolve_vars

    path = write_runbook(root / f"bench-{steps}.yaml", steps)
    started = time.perf_counter()
    runbook = load_checked(str(path))
    loaded = time.perf_counter() - started
    options = RunOptions(runs_dir=root / "runs", initiator="bench", workdir=root, concurrency=1)
    started = time.perf_counter()
    summary = start_run(runbook, resolve_vars(runbook, {}, (), {}), options, NullProgress())
    return time.perf_counter() - started, loaded, summary.status


def child_memory(steps: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        elapsed, loaded, status = engine(steps, Path(tmp))
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "peak_mb": peak_kb / 1024,
                "seconds": elapsed,
                "load_seconds": loaded,
                "status": status,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--memory-steps", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3, help="medians over this many rounds")
    parser.add_argument("--child-memory", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_memory:
        child_memory(args.child_memory)
        return
    bares, executors, engines, loads, statuses = [], [], [], [], set()
    for _ in range(args.rounds):  # interleaved, so a busy moment hits every column
        with tempfile.TemporaryDirectory() as tmp:
            bares.append(bare(args.steps))
            executors.append(executor_alone(args.steps))
            seconds, load, status = engine(args.steps, Path(tmp))
            engines.append(seconds)
            loads.append(load)
            statuses.add(status)
    bare_seconds, executor_seconds = statistics.median(bares), statistics.median(executors)
    engine_seconds, load_seconds = statistics.median(engines), statistics.median(loads)
    status = "/".join(sorted(statuses))
    overhead_ms = statistics.median(
        (e - b) / args.steps * 1000 for e, b in zip(engines, bares, strict=True)
    )
    memory = json.loads(
        subprocess.run(
            [sys.executable, __file__, "--child-memory", str(args.memory_steps)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    rows = [
        (
            "bare create_subprocess_exec('/bin/true')",
            f"{args.steps}",
            f"{bare_seconds:.2f} s",
            f"{bare_seconds / args.steps * 1000:.2f} ms/step",
        ),
        (
            "shell executor alone (no engine)",
            f"{args.steps}",
            f"{executor_seconds:.2f} s",
            f"{executor_seconds / args.steps * 1000:.2f} ms/step",
        ),
        (
            f"engine run ({status})",
            f"{args.steps}",
            f"{engine_seconds:.2f} s",
            f"{engine_seconds / args.steps * 1000:.2f} ms/step",
        ),
        (
            "engine overhead per step",
            "",
            "",
            f"{overhead_ms:.2f} ms (target < {OVERHEAD_TARGET_MS:g}) {'OK' if overhead_ms < OVERHEAD_TARGET_MS else 'OVER'}",
        ),
        (
            "load + lint of the runbook",
            f"{args.steps}",
            f"{load_seconds:.2f} s",
            "not part of the overhead",
        ),
        (
            f"peak memory, separate process ({memory['status']})",
            f"{args.memory_steps}",
            f"{memory['seconds']:.1f} s",
            f"{memory['peak_mb']:.0f} MB (target < {MEMORY_TARGET_MB:g}) {'OK' if memory['peak_mb'] < MEMORY_TARGET_MB else 'OVER'}",
        ),
    ]
    print(
        f"median of {args.rounds} interleaved rounds; overhead = median of per-round differences\n"
    )
    print("| measure | steps | time | result |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()

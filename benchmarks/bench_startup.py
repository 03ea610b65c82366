"""Cold start of `runbook lint` on the monthly runbook, beside the floor (`python -c
pass`) and a peer linter (`ansible-lint --version`), measured in the same run.

    .venv/bin/python benchmarks/bench_startup.py [--rounds 15] [--baseline DIR]
        [--ansible-lint PATH]

Each round runs every command once, interleaved, so a busy machine slows all columns
alike; the table gives the median and the best wall time of fresh processes (no
warm interpreter), and the median user CPU time, which is what to compare when other
work shares the machine. Python's own bytecode cache is warm, as on a developer machine
after the first run. Target: `runbook lint` under 0.35 s.

``--baseline DIR`` adds a row for the ``runbook_engine`` package found in DIR (say an
older commit's, from ``git archive``), run with ``PYTHONPATH=DIR`` in the same rounds,
for a before/after that a busy machine slows alike. ``--ansible-lint PATH`` names the
peer when it is not on PATH (it pins its own ansible-core, so it may live in a venv of
its own).
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 0.35


LINT = "runbook lint runbooks/monthly-update.yaml"


def commands(ansible_lint: str | None) -> list[tuple[str, list[str] | None]]:
    runbook = str(Path(sys.executable).parent / "runbook")
    ansible_lint = ansible_lint or shutil.which("ansible-lint")
    return [
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("runbook --version", [runbook, "--version"]),
        (LINT, [runbook, "lint", "runbooks/monthly-update.yaml"]),
        ("ansible-lint --version", [ansible_lint, "--version"] if ansible_lint else None),
    ]


#: Bytecode is cached (as on any user's machine after the first run) in a folder of
#: its own, so the benchmark neither depends on PYTHONDONTWRITEBYTECODE nor litters the tree.
_CACHE = tempfile.mkdtemp(prefix="bench-startup-pyc-")
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)
_ENV = {
    **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    "PYTHONPYCACHEPREFIX": _CACHE,
}


def timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall, user CPU) seconds of one fresh process. User CPU is what to compare on a
    machine shared with other work: waiting for a core inflates wall time only."""
    began = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env or _ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0  # reaped by wait4
    return time.perf_counter() - began, usage.ru_utime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--baseline", type=Path, help="a folder holding another runbook_engine to time beside")
    parser.add_argument("--ansible-lint", help="the ansible-lint executable, when it is not on PATH")
    args = parser.parse_args()
    rows = commands(args.ansible_lint)
    envs: dict[str, dict[str, str]] = {}
    if args.baseline is not None:
        baseline = args.baseline.resolve()
        if not (baseline / "runbook_engine" / "__init__.py").is_file():
            parser.error(f"{baseline} holds no runbook_engine package")
        name = f"{LINT} (baseline {args.baseline})"
        rows.insert(3, (name, dict(rows)[LINT]))
        envs[name] = {**_ENV, "PYTHONPATH": str(baseline), "PYTHONPYCACHEPREFIX": _CACHE + "/baseline"}
    runnable = [(name, argv) for name, argv in rows if argv is not None]
    for name, argv in runnable:  # warm the bytecode caches once
        timed(argv, envs.get(name))
    times: dict[str, list[float]] = {name: [] for name, _ in runnable}
    cpu: dict[str, list[float]] = {name: [] for name, _ in runnable}
    for _ in range(args.rounds):
        for name, argv in runnable:
            wall, user = timed(argv, envs.get(name))
            times[name].append(wall)
            cpu[name].append(user)
    print(
        "PYTHONDONTWRITEBYTECODE is unset for the timed commands (bytecode cached in "
        f"{_CACHE}); load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(f"| command | median wall | best wall | median user CPU | rounds: {args.rounds} |")
    print("|---|---|---|---|---|")
    for name, argv in rows:
        if argv is None:
            print(f"| {name} | — | — | — | not found: install it (pip install ansible-lint) or give --ansible-lint PATH |")
            continue
        median, best = statistics.median(times[name]), min(times[name])
        note = ""
        if name.startswith("runbook lint"):
            note = f"target < {TARGET:.2f} s: {'met' if median < TARGET else 'NOT met'} (median wall)"
        print(f"| {name} | {median:.3f} s | {best:.3f} s | {statistics.median(cpu[name]):.3f} s | {note} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

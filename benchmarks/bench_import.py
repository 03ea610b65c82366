"""How long `runbook import` takes on the seed procedure (target < 1 s).

    .venv/bin/python benchmarks/bench_import.py [--rounds 5]

Prints a Markdown table: the whole command in a fresh process (Python start-up,
imports, import, writing the draft — what a user waits for), the first import in a
process (imports of the importer and the executor classes included), and a warm
import (median of rounds, the importer's own work), for the seed and a document
ten times its size.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "tests" / "fixtures" / "import" / "monthly-application-update.md"
TARGET_S = 1.0


def cold_command(path: Path, rounds: int) -> tuple[float, float]:
    """(wall, CPU) seconds of the whole command, medians; CPU (user + system of the
    child) does not depend on how busy the machine is, wall time does."""
    runbook = Path(sys.executable).with_name("runbook")
    walls, cpus = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(rounds):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run([str(runbook), "import", str(path), "-o", f"{tmp}/draft.yaml"], check=True, capture_output=True)
            walls.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def first_in_process(path: Path, rounds: int) -> float:
    probe = (
        "import time; t = time.perf_counter()\n"
        "from runbook_engine.importer import import_markdown\n"
        f"import_markdown(open({str(path)!r}, encoding='utf-8').read())\n"
        "print(time.perf_counter() - t)\n"
    )
    times = [float(subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout) for _ in range(rounds)]
    return statistics.median(times)


def warm(text: str, rounds: int) -> float:
    from runbook_engine.importer import import_markdown

    import_markdown(text)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        import_markdown(text)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    seed = SEED.read_text(encoding="utf-8")
    big_text = seed + "\n".join(seed.split("\n## Procedure", 1)[1].replace("### Phase", "### Phase") for _ in range(9))
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.md"
        big.write_text(big_text, encoding="utf-8")
        rows = [
            ("seed (monthly update)", len(seed), cold_command(SEED, args.rounds), first_in_process(SEED, args.rounds), warm(seed, args.rounds)),
            ("10x seed procedure", len(big_text), cold_command(big, args.rounds), first_in_process(big, args.rounds), warm(big_text, args.rounds)),
        ]
    print("| document | size | `runbook import` wall | `runbook import` CPU | first import in a process | warm import |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, size, (wall, cpu), first, hot in rows:
        print(f"| {name} | {size / 1024:.0f} KiB | {wall * 1000:.0f} ms | {cpu * 1000:.0f} ms | {first * 1000:.0f} ms | {hot * 1000:.0f} ms |")
    wall, cpu = rows[0][2]
    verdict = "meets" if cpu < TARGET_S else "MISSES"
    print(f"\nseed: `runbook import` {verdict} the {TARGET_S:.0f} s target: {cpu:.2f} s CPU, {wall:.2f} s wall (medians of {args.rounds})")


if __name__ == "__main__":
    main()

"""`runbook test` speed: the shipped cases of the monthly update (real engine,
stubbed executors, simulated time), and a synthetic runbook of N stubbed steps.

    .venv/bin/python benchmarks/bench_casetest.py [--steps 1000] [--rounds 3]

Prints a Markdown table of medians: wall time per case, and per stubbed step (the
engine, the journal in a temporary folder and the verdict, no executor at all).
Simulated time means a case with a 21-minute monitor window takes no longer than one
without.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from runbook_engine.casetest.suite import collect, run_cases
from runbook_engine.loader import load_file
from runbook_engine.model import build_runbook

ROOT = Path(__file__).resolve().parents[1]
MONTHLY = ROOT / "runbooks" / "monthly-update.yaml"


def synthetic(folder: Path, steps: int) -> tuple[Path, Path]:
    book = folder / "bench.yaml"
    lines = ["runbook: 1", f"name: bench-{steps}", "phases:", "  - id: p", "    steps:"]
    lines += [f"      - {{id: s{i}, shell: 'true', expect: rc == 0}}" for i in range(steps)]
    book.write_text("\n".join(lines) + "\n")
    cases = folder / "bench.tests.yaml"
    stubs = "\n".join(f"    s{i}: {{fields: {{rc: 0}}}}" for i in range(steps))
    cases.write_text(f"runbook-test: 1\ndefaults:\n  stubs:\n{stubs}\ncases:\n  - name: all\n    expect: {{status: succeeded}}\n")
    return book, cases


def timed(book: Path, cases: list[str]) -> tuple[float, int]:
    runbook = build_runbook(load_file(book))
    found, findings = collect(runbook, cases)
    assert not findings, findings
    started = time.perf_counter()
    outcomes = run_cases(runbook, found)
    elapsed = time.perf_counter() - started
    assert all(o.passed for o in outcomes), [o.failures for o in outcomes if not o.passed]
    return elapsed, len(outcomes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    monthly, synth = [], []
    with tempfile.TemporaryDirectory() as scratch:
        book, cases = synthetic(Path(scratch), args.steps)
        for _ in range(args.rounds):
            elapsed, count = timed(MONTHLY, [])
            monthly.append(elapsed / count)
            elapsed, _ = timed(book, [str(cases)])
            synth.append(elapsed / args.steps)
    print("| suite | measure | median |")
    print("|---|---|---|")
    print(f"| monthly-update ({count} cases, ~45 steps each) | seconds per case | {statistics.median(monthly):.3f} |")
    print(f"| synthetic, {args.steps} stubbed steps | ms per step | {statistics.median(synth) * 1000:.2f} |")


if __name__ == "__main__":
    main()

"""Time to load an inventory of N hosts (target: 20 000 hosts in under 1 s, growing
linearly with N).

Run: .venv/bin/python benchmarks/bench_inventory.py [--sizes 1000,5000,20000] [--runs N]
Prints, per size and inventory format, the median load time and the time per host.
The INI inventory puts every host in one big group plus one of 20 small groups (the
shape that was quadratic: 20 000 hosts took 8.4 s); the YAML one nests groups.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from runbook_engine.inventory import load_inventory


def ini(count: int) -> str:
    lines = ["[app]"]
    lines += [f"app-{i:05d} ansible_host=10.0.{i // 250}.{i % 250} http_port=8080" for i in range(count)]
    for shard in range(20):
        lines.append(f"[shard{shard}]")
        lines += [f"app-{i:05d}" for i in range(shard, count, 20)]
    lines += ["[prod:children]", "app", "[prod:vars]", "tier=prod"]
    return "\n".join(lines) + "\n"


def yaml_text(count: int) -> str:
    hosts = "\n".join(f"        app-{i:05d}: {{ansible_host: 10.0.{i // 250}.{i % 250}}}" for i in range(count))
    return f"all:\n  children:\n    prod:\n      vars: {{tier: prod}}\n      children:\n        app:\n          hosts:\n{hosts.replace('        app-', '            app-')}\n"


def measure(text: str, suffix: str, runs: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"hosts{suffix}"
        path.write_text(text)
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            load_inventory(path, use_ansible=False)
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,5000,20000")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"{'format':<6} {'hosts':>7} {'median s':>10} {'µs/host':>9}")
    for size in (int(s) for s in args.sizes.split(",")):
        for name, text, suffix in (("ini", ini(size), ".ini"), ("yaml", yaml_text(size), ".yml")):
            seconds = measure(text, suffix, args.runs)
            print(f"{name:<6} {size:>7} {seconds:>10.3f} {seconds / size * 1e6:>9.1f}")


if __name__ == "__main__":
    main()

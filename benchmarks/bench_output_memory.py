"""Peak memory of a step that floods its output: shell vs ssh (local and over sshd).

Each case runs one executor in a fresh Python process with a log callback that counts
what would be journaled, and reports that process's peak RSS (``ru_maxrss``), the lines
and bytes it logged, and the size of the kept stdout. The outputs are those of issue 10:
600,000 short lines, and one 100 MB line without a newline. Target: every case under
100 MB peak RSS, with the shell executor's bounds (1 MiB kept per stream, at most
10,000 logged lines, lines cut at 64 KiB).

    .venv/bin/python benchmarks/bench_output_memory.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runbook_engine.testing import sshd_available, start_sshd_fleet  # noqa: E402

OUTPUTS = {
    "600k lines": "seq 1 600000",
    "one 100 MB line": "head -c 100000000 /dev/zero | tr '\\0' x",
}

DRIVER = r"""
import asyncio, json, resource, sys
from runbook_engine.executors.base import Host
from runbook_engine.testing import make_call
kind, command, extra = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
logged = {"lines": 0, "bytes": 0}
def log(line, host=None):
    logged["lines"] += 1
    logged["bytes"] += len(line)
async def main():
    if kind == "shell":
        from runbook_engine.executors.shell import ShellExecutor
        executor, spec, hosts = ShellExecutor(), command, ()
    else:
        from runbook_engine.executors.ssh import SshExecutor
        executor, spec = SshExecutor(), {"command": command, **extra.get("spec", {})}
        hosts = (Host(**extra["host"]),)
    try:
        result = await executor.run(make_call(spec, hosts, log=log, timeout=300))
    finally:
        await executor.close()
    fields = next(iter(result.hosts.values())) if result.hosts else result.fields
    return result.ok, len(fields["stdout"])
ok, kept = asyncio.run(main())
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"ok": ok, "kept": kept, "peak": peak, **logged}))
"""


def run_case(kind: str, command: str, extra: dict[str, object]) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, kind, command, json.dumps(extra)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed: {done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    targets: list[tuple[str, str, dict[str, object]]] = [
        ("shell", "shell", {}),
        ("ssh (local host)", "ssh", {"host": {"name": "local", "connection": "local"}}),
    ]
    fleet = None
    why_not = sshd_available()
    if why_not is None:
        fleet = start_sshd_fleet(Path(tempfile.mkdtemp(prefix="bench-mem-")), ["app-01"])
        member = fleet.members[0]
        targets.append(
            (
                "ssh (real sshd)",
                "ssh",
                {
                    "host": {"name": "app-01", "address": "127.0.0.1", "port": member.port, "user": fleet.user},
                    "spec": fleet.ssh_options(),
                },
            )
        )
    try:
        print(f"{'executor':<18} {'output':<16} {'peak RSS':>10} {'logged lines':>13} {'logged MB':>10} {'kept KB':>8} {'ok':>3}")
        for label, kind, extra in targets:
            for output, command in OUTPUTS.items():
                row = run_case(kind, command, extra)
                print(
                    f"{label:<18} {output:<16} {int(row['peak']) / 1e6:>8.1f}MB {row['lines']:>13}"
                    f" {int(row['bytes']) / 1e6:>10.2f} {int(row['kept']) // 1024:>8} {'y' if row['ok'] else 'n':>3}"
                )
    finally:
        if fleet is not None:
            fleet.close()
    if why_not is not None:
        print(f"(ssh over a real sshd skipped: {why_not})")


if __name__ == "__main__":
    main()

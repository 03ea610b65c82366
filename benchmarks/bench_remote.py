"""Remote execution cost: the ssh executor vs ansible-playbook vs a bare asyncssh script.

Starts a fleet of real sshd daemons on 127.0.0.1 (runbook_engine.testing), then runs
the same work — N commands, each on every host of the shape — as whole processes:

  runbook   ``runbook run`` (the real CLI, a fresh process: interpreter start-up,
            imports, load + lint, journal, report) on a generated runbook of N
            ``ssh:`` steps with ``hosts:`` over an inventory of the fleet, one step
            at a time (``--concurrency 1``, the same order of work as the others)
  ansible   ansible-playbook, one task per command, pipelining on, ControlPersist,
            forks = hosts, no fact gathering
  asyncssh  a fresh Python process with a bare asyncssh script (connect to each host,
            then each command on all hosts at once)

Whole-process wall time is the median of --runs runs; the per-command slope is
(T(N commands) - T(1 command)) / (N - 1) on the same hosts.

    .venv/bin/python benchmarks/bench_remote.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runbook_engine.testing import SshFleet, sshd_available, start_sshd_fleet  # noqa: E402

COMMAND = "echo ok"
SHAPES = [(20, 1), (5, 10), (20, 10)]

ASYNCSSH_DRIVER = """
import asyncio, sys, asyncssh
count, key, known, command = int(sys.argv[1]), *sys.argv[2:5]
ports = [int(p) for p in sys.argv[5:]]
async def main():
    conns = await asyncio.gather(*(asyncssh.connect("127.0.0.1", port=p, username="root",
        client_keys=[key], known_hosts=known) for p in ports))
    for _ in range(count):
        results = await asyncio.gather(*(c.run(command) for c in conns))
        assert all(r.exit_status == 0 for r in results)
    for c in conns:
        c.close()
asyncio.run(main())
"""


def timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(
            f"{argv[0]} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-ansible", action="store_true")
    args = parser.parse_args()
    reason = sshd_available()
    if reason:
        raise SystemExit(f"cannot benchmark: {reason}")
    # Bytecode as an installed package has it: with PYTHONDONTWRITEBYTECODE set (as in
    # CI containers) an editable checkout would otherwise recompile every module of
    # runbook_engine in every `runbook run` (~0.4 s here), which is not the product.
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "runbook_engine")], check=True
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        fleet = start_sshd_fleet(work / "fleet", [f"app-{i:02d}" for i in range(1, 11)])
        try:
            report(fleet, work, args.runs, args.skip_ansible)
        finally:
            fleet.close()


def report(fleet: SshFleet, work: Path, runs: int, skip_ansible: bool) -> None:
    inventory = fleet.write_inventory(work / "hosts", {"one": ["app-01"]})
    python = sys.executable
    ansible_playbook = str(Path(python).parent / "ansible-playbook")
    control = work / "cp"
    control.mkdir()
    ansible_env = {
        **os.environ,
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_SSH_ARGS": "-o ControlMaster=auto -o ControlPersist=60s",
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control),
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOLOR": "1",
    }

    def playbook(count: int, hosts: int) -> Path:
        path = work / f"pb-{count}-{hosts}.yml"
        tasks = "\n".join(f"    - command: {COMMAND}" for _ in range(count))
        path.write_text(
            f"- hosts: {'one' if hosts == 1 else 'fleet'}\n  gather_facts: false\n  tasks:\n{tasks}\n"
        )
        return path

    def runbook(count: int, hosts: int) -> Path:
        path = work / f"rb-{count}-{hosts}.yaml"
        lines = ["runbook: 1", f"name: bench-ssh-{count}-{hosts}", "phases:", "  - id: work"]
        lines.append("    steps:")
        for i in range(count):
            lines += [
                f"      - id: c{i + 1}",
                f"        hosts: {'one' if hosts == 1 else 'fleet'}",
                f"        ssh: {COMMAND}",
            ]
        path.write_text("\n".join(lines) + "\n")
        return path

    runbook_bin = str(Path(python).parent / "runbook")
    serial = iter(range(10**9))

    def measure(tool: str, count: int, hosts: int) -> float:
        ports = [str(m.port) for m in fleet.members[:hosts]]
        key, known = str(fleet.client_key), str(fleet.known_hosts)
        if tool == "runbook":
            runs_dir = work / "runs" / f"{count}-{hosts}-{next(serial)}"
            argv = [
                runbook_bin,
                "run",
                str(runbook(count, hosts)),
                "-i",
                str(inventory),
                "--runs-dir",
                str(runs_dir),
                "--concurrency",
                "1",
            ]
            return timed(argv)
        if tool == "asyncssh":
            return timed([python, "-c", ASYNCSSH_DRIVER, str(count), key, known, COMMAND, *ports])
        argv = [
            ansible_playbook,
            "-i",
            str(inventory),
            "--forks",
            str(hosts),
            str(playbook(count, hosts)),
        ]
        return timed(argv, ansible_env)

    tools = ["runbook", "asyncssh"] + ([] if skip_ansible else ["ansible"])
    needed = sorted({(c, h) for c, h in SHAPES} | {(1, h) for _, h in SHAPES})
    medians: dict[tuple[str, int, int], float] = {}
    for tool in tools:
        for count, hosts in needed:
            samples = [measure(tool, count, hosts) for _ in range(runs)]
            medians[tool, count, hosts] = statistics.median(samples)
            print(
                f"  {tool:8} {count:2} cmd x {hosts:2} hosts: median {medians[tool, count, hosts]:.3f}s",
                file=sys.stderr,
            )

    print(f"\nmedian of {runs} runs, whole process, command {COMMAND!r}, 127.0.0.1 sshd fleet\n")
    header = (
        "| shape | "
        + " | ".join(f"{t} total" for t in tools)
        + " | "
        + " | ".join(f"{t} per cmd" for t in tools)
    )
    header += (
        " | runbook vs ansible | slope ratio | runbook / asyncssh |"
        if "ansible" in tools
        else " | runbook / asyncssh |"
    )
    print(header)
    print("|" + "|".join("---" for _ in range(header.count("|") - 1)) + "|")
    for count, hosts in SHAPES:
        totals = {t: medians[t, count, hosts] for t in tools}
        slopes = {t: (medians[t, count, hosts] - medians[t, 1, hosts]) / (count - 1) for t in tools}
        row = f"| {count} cmd × {hosts} host{'s' if hosts > 1 else ''} | "
        row += " | ".join(f"{totals[t]:.3f} s" for t in tools) + " | "
        row += " | ".join(f"{slopes[t] * 1000:.1f} ms" for t in tools) + " | "
        if "ansible" in tools:
            row += f"{totals['ansible'] / totals['runbook']:.1f}× | "
            row += f"{slopes['ansible'] / max(slopes['runbook'], 1e-6):.0f}× | "
        row += f"{totals['runbook'] / totals['asyncssh']:.2f} |"
        print(row)
    start = {t: medians[t, 1, 1] for t in tools}
    print(
        "\n1 command on 1 host (start-up dominated): "
        + ", ".join(f"{t} {v:.3f} s" for t, v in start.items())
    )


if __name__ == "__main__":
    main()

"""The ``copy`` executor: ship a file or a folder from the control host to every host.

The seed copies the release tarball, the configs and the service script with
``ansible -m copy``; this is that, native: SFTP over the ssh executor's connections
(host keys verified the same way) and a plain copy for ``connection: local`` hosts.
Per host it compares checksums first and touches nothing that is already identical
(``changed: false``), ships only what differs into a temporary file, installs it with
its mode (and owner) under ``become`` when asked, and verifies the installed file's
SHA-256 against the source. The previous file is kept beside it, so ``restore: true``
(in a rollback step) puts it back. See docs/executors/copy.md.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from runbook_engine.errors import ExecutorError
from runbook_engine.executors.base import ExecutorBase, Host, Result, StepCall
from runbook_engine.executors.fanout import ROLLOUT_KEYS, ROLLOUT_SCHEMA, Rollout, fan_out
from runbook_engine.executors.ssh import SshExecutor, SshSpec

#: Beside every file a copy replaced: the previous content, or a marker that there was none.
PREVIOUS = ".runbook-prev"
ABSENT = ".runbook-absent"


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One file to copy, with the checksum that decides whether it changed."""

    relative: str  # "" for a single-file source
    path: Path
    checksum: str
    size: int
    mode: int


@dataclass(frozen=True, slots=True)
class CopySpec:
    """A ``copy:`` step: what goes where, with which owner and mode."""

    src: str
    dest: str
    mode: int | None = None
    owner: str | None = None
    become: bool = False
    become_user: str = "root"
    restore: bool = False
    key_file: str | None = None
    known_hosts_file: str | None = None


def _mode(value: Any) -> int | None:
    if value is None:
        return None
    text = str(value)
    try:
        mode = int(text, 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o7777:
        raise ExecutorError(f"copy: mode must be octal such as '0644', not {value!r}")
    return mode


def parse_spec(raw: Any) -> tuple[CopySpec, dict[str, Any]]:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("src"), str) or not isinstance(raw.get("dest"), str):
        raise ExecutorError(
            "copy: expects a mapping with 'src' and 'dest'",
            hint="copy: {src: app-v2.4.0.tar.gz, dest: /tmp/, mode: '0644'}",
        )
    unknown = set(raw) - set(CopyExecutor.schema["properties"])
    if unknown:
        raise ExecutorError(f"copy: unknown key {sorted(unknown)[0]!r}")
    spec = CopySpec(
        src=raw["src"],
        dest=raw["dest"],
        mode=_mode(raw.get("mode")),
        owner=None if raw.get("owner") is None else str(raw["owner"]),
        become=bool(raw.get("become", False)),
        become_user=str(raw.get("become_user", "root")),
        restore=bool(raw.get("restore", False)),
        key_file=None if raw.get("key_file") is None else str(raw["key_file"]),
        known_hosts_file=None if raw.get("known_hosts") is None else str(raw["known_hosts"]),
    )
    return spec, {k: v for k, v in raw.items() if k in ROLLOUT_SCHEMA}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def source_files(src: Path) -> list[SourceFile]:
    """The files to ship: the file itself, or every file below the folder."""
    if src.is_file():
        paths = [(src, "")]
    elif src.is_dir():
        paths = [(p, p.relative_to(src).as_posix()) for p in sorted(src.rglob("*")) if p.is_file()]
    else:
        raise ExecutorError(f"copy: source {src} does not exist on the control host")
    return [
        SourceFile(rel, p, sha256(p), p.stat().st_size, p.stat().st_mode & 0o7777) for p, rel in paths
    ]


def destinations(spec: CopySpec, src: Path, files: list[SourceFile]) -> list[str]:
    """Ansible's rules: a file into a folder (dest ending in /) keeps its name; a
    folder written with a trailing / ships its content, without it the folder itself."""
    dest = spec.dest
    if src.is_file():
        return [str(PurePosixPath(dest) / src.name) if dest.endswith("/") else dest]
    base = PurePosixPath(dest) if spec.src.endswith("/") else PurePosixPath(dest) / src.name
    return [str(base / f.relative) for f in files]


def _manifest_checksum(files: list[SourceFile], dests: list[str]) -> str:
    if len(files) == 1:
        return files[0].checksum
    lines = "".join(f"{f.checksum}  {d}\n" for f, d in zip(files, dests, strict=True))
    return hashlib.sha256(lines.encode()).hexdigest()


def _state_script(dests: list[str]) -> str:
    """Prints ``<sha256> <mode> <user>:<group>`` or ``-`` per destination, in order."""
    quoted = " ".join(shlex.quote(d) for d in dests)
    return (
        f"for d in {quoted}; do if [ -f \"$d\" ]; then "
        'printf "%s %s\\n" "$(sha256sum < "$d" | cut -c1-64)" "$(stat -c \'%a %U:%G\' "$d")"; '
        "else echo -; fi; done"
    )


def _matches(state: str, checksum: str, mode: int, owner: str | None) -> bool:
    """Whether a destination already is the file wanted: content, mode, and owner
    (user, or user:group) when one is asked for."""
    words = state.split()
    if len(words) != 3 or words[0] != checksum or words[1] != f"{mode:o}":
        return False
    if owner is None:
        return True
    user, _, group = words[2].partition(":")
    wanted_user, _, wanted_group = owner.partition(":")
    return user == wanted_user and (not wanted_group or group == wanted_group)


def _install_script(items: list[tuple[str, str, int, str]], owner: str | None) -> str:
    """Keep the previous file (or mark there was none), install the shipped temporary
    file with its mode (and owner), print the installed checksum per file. The
    temporary files are removed afterwards by the login user, who owns them."""
    lines = ["set -e"]
    for temp, dest, mode, _ in items:
        t, d = shlex.quote(temp), shlex.quote(dest)
        prev, absent = shlex.quote(dest + PREVIOUS), shlex.quote(dest + ABSENT)
        lines.append(f"mkdir -p -- \"$(dirname -- {d})\"")
        lines.append(
            f"if [ -f {d} ]; then cp -p -- {d} {prev}; rm -f -- {absent}; "
            f"else : > {absent}; rm -f -- {prev}; fi"
        )
        user, _, group = (owner or "").partition(":")
        owner_arg = (f" -o {shlex.quote(user)}" if user else "") + (f" -g {shlex.quote(group)}" if group else "")
        lines.append(f"install -m {mode:04o}{owner_arg} -- {t} {d}")
        lines.append(f"sha256sum < {d} | cut -c1-64")
    return "\n".join(lines)


def _restore_script(dests: list[str]) -> str:
    """Put each previous file back (or remove a file that did not exist before);
    prints ``restored``/``removed``/``-`` per destination."""
    lines = []
    for dest in dests:
        d = shlex.quote(dest)
        prev, absent = shlex.quote(dest + PREVIOUS), shlex.quote(dest + ABSENT)
        lines.append(
            f"if [ -f {prev} ]; then mv -f -- {prev} {d} && echo restored; "
            f"elif [ -e {absent} ]; then rm -f -- {d} {absent} && echo removed; else echo -; fi"
        )
    return "\n".join(lines)


class CopyExecutor(ExecutorBase):
    """Ships a file or folder to every host of the step, idempotently, checksum-verified."""

    key: ClassVar[str] = "copy"
    rollout_keys: ClassVar[frozenset[str]] = ROLLOUT_KEYS
    schema: ClassVar[Mapping[str, Any]] = {
        "description": "Copy a file or folder from the control host to each host (SFTP; local copy for local hosts).",
        "type": "object",
        "required": ["src", "dest"],
        "additionalProperties": False,
        "properties": {
            "src": {"type": "string", "minLength": 1, "description": "file or folder on the control host (relative to the runbook's folder)"},
            "dest": {"type": "string", "minLength": 1, "description": "path on each host; ending in / means into that folder"},
            "mode": {"type": ["string", "integer"], "description": "octal mode such as '0755' (default: the source file's)"},
            "owner": {"type": "string", "minLength": 1},
            "become": {"type": "boolean"},
            "become_user": {"type": "string", "minLength": 1},
            "restore": {"type": "boolean", "description": "undo: put back the files a copy to dest replaced"},
            "key_file": {"type": "string", "minLength": 1},
            "known_hosts": {"type": "string", "minLength": 1, "description": "known_hosts file to verify host keys against"},
            **ROLLOUT_SCHEMA,
        },
    }
    fields: ClassVar[Mapping[str, str]] = {
        "rc": "int",
        "ok": "int",
        "failed": "int",
        "unreachable": "int",
        "skipped": "int",
        "changed": "int",
        "bytes": "int",
        "checksum": "str",
        "stopped": "str",
    }
    host_fields: ClassVar[Mapping[str, str]] = {
        "rc": "int",
        "changed": "bool",
        "bytes": "int",
        "checksum": "str",
        "files": "int",
        "unreachable": "bool",
        "failed": "int",
        "skipped": "bool",
        "error": "str",
    }

    def __init__(self) -> None:
        self._ssh = SshExecutor()  # its connections: one per host for the whole run

    def describe(self, call: StepCall) -> list[str]:
        lines = []
        for host in call.hosts:
            spec, _ = parse_spec(call.render(call.spec, host))
            verb = "restore" if spec.restore else f"copy {spec.src} →"
            lines.append(f"[{host.name}] {verb} {spec.dest}")
        return lines

    async def close(self) -> None:
        await self._ssh.close()

    async def run(self, call: StepCall) -> Result:
        if not call.hosts:
            raise ExecutorError(
                f"step {call.step_id!r}: copy needs hosts to copy to",
                hint="add hosts: all (or a group or host pattern) to the step",
            )
        started = time.monotonic()
        _, spec_rollout = parse_spec(call.spec)
        rollout = Rollout.from_options(call.options, spec_rollout)
        src_text = str(call.render(call.spec["src"], None))
        src = Path(src_text) if os.path.isabs(src_text) else call.workdir / src_text
        files = source_files(src)

        async def one(host: Host) -> dict[str, Any]:
            host_spec, _ = parse_spec(call.render(call.spec, host))
            dests = destinations(host_spec, src, files)
            try:
                target = await self._target(call, host_spec, host)
            except ExecutorError as exc:
                return _host_fields(error=f"unreachable: {exc}", unreachable=True)
            try:
                if host_spec.restore:
                    return await _restore(target, host_spec, dests)
                return await _ship(call, target, host_spec, host, files, dests)
            except _host_errors() as exc:
                return _host_fields(error=call.redact(f"{type(exc).__name__}: {exc}"))
            finally:
                target.close()

        outcome = await fan_out(call.hosts, rollout, one, lambda host, why: _host_fields(skipped=True, error=f"not run: {why}", rc=None, failed=0))
        checksum = next((f["checksum"] for f in outcome.hosts.values() if f["checksum"]), None)
        return _aggregate(call, outcome.hosts, outcome.stopped, checksum, time.monotonic() - started)

    async def _target(self, call: StepCall, spec: CopySpec, host: Host) -> _Target:
        if host.connection == "local":
            return _LocalTarget(call, spec)
        import asyncssh

        ssh_spec = SshSpec(command="", key_file=spec.key_file, known_hosts_file=spec.known_hosts_file)
        try:
            conn = await self._ssh.connection(call, ssh_spec, host)
        except (TimeoutError, OSError, asyncssh.Error) as exc:
            raise ExecutorError(f"{type(exc).__name__}: {exc}") from None
        return _RemoteTarget(conn, spec, host)


class _Target:
    """Where the files go: run a script there, ship a file to a temporary path there."""

    spec: CopySpec

    async def sh(self, script: str, become: bool = True) -> tuple[int, str, str]:
        raise NotImplementedError

    async def put(self, source: Path, temp: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        return None

    def wrap(self, script: str, login: str | None, become: bool = True) -> str:
        if not (become and self.spec.become) or login == self.spec.become_user:
            return script
        return f"sudo -n -H -u {shlex.quote(self.spec.become_user)} -- /bin/bash -c {shlex.quote(script)}"


class _LocalTarget(_Target):
    def __init__(self, call: StepCall, spec: CopySpec) -> None:
        self.call, self.spec = call, spec

    async def sh(self, script: str, become: bool = True) -> tuple[int, str, str]:
        import asyncio
        import getpass

        proc = await asyncio.create_subprocess_exec(
            "/bin/bash", "-c", self.wrap(script, getpass.getuser(), become),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, cwd=str(self.call.workdir),
        )  # fmt: skip
        out, err = await proc.communicate()
        return int(proc.returncode or 0), out.decode(errors="replace"), err.decode(errors="replace")

    async def put(self, source: Path, temp: str) -> None:
        import asyncio
        await asyncio.to_thread(shutil.copyfile, source, temp)


class _RemoteTarget(_Target):
    def __init__(self, conn: Any, spec: CopySpec, host: Host) -> None:
        self.conn, self.spec, self.host = conn, spec, host
        self.sftp: Any = None

    async def sh(self, script: str, become: bool = True) -> tuple[int, str, str]:
        done = await self.conn.run(self.wrap(script, self.host.user, become), check=False)
        return int(done.exit_status or 0), str(done.stdout or ""), str(done.stderr or "")

    async def put(self, source: Path, temp: str) -> None:
        if self.sftp is None:  # one SFTP session per host and step, for every file
            self.sftp = await self.conn.start_sftp_client()
        await self.sftp.put(str(source), temp)

    def close(self) -> None:
        if self.sftp is not None:
            self.sftp.exit()
            self.sftp = None


def _host_errors() -> tuple[type[BaseException], ...]:
    """What one host's copy may raise without it being a bug: I/O and SSH failures."""
    import asyncio
    errors: tuple[type[BaseException], ...] = (OSError, ExecutorError, asyncio.IncompleteReadError)
    try:
        import asyncssh
    except ImportError:
        return errors
    return (*errors, asyncssh.Error)


def _host_fields(**values: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "rc": 1,
        "changed": False,
        "bytes": 0,
        "checksum": None,
        "files": 0,
        "unreachable": False,
        "failed": 1,
        "skipped": False,
        "error": None,
    }
    fields.update(values)
    return fields


async def _ship(
    call: StepCall, target: _Target, spec: CopySpec, host: Host, files: list[SourceFile], dests: list[str]
) -> dict[str, Any]:
    rc, out, err = await target.sh(_state_script(dests))
    states = out.split("\n")
    if rc != 0 or len(states) < len(dests):
        return _host_fields(error=f"cannot read the destination: {err.strip() or out.strip()}")
    wanted = [spec.mode if spec.mode is not None else f.mode for f in files]
    pending = [
        (f, d, m)
        for f, d, m, state in zip(files, dests, wanted, states, strict=False)
        if not _matches(state, f.checksum, m, spec.owner)
    ]
    checksum = _manifest_checksum(files, dests)
    if not pending:
        return _host_fields(rc=0, failed=0, checksum=checksum, files=len(files))
    temp_dir = "/tmp" if host.connection != "local" else tempfile.gettempdir()
    items = []
    for f, d, m in pending:
        temp = f"{temp_dir}/.runbook-copy-{uuid.uuid4().hex}"
        await target.put(f.path, temp)
        items.append((temp, d, m, f.checksum))
    call.log(f"shipping {len(items)} file(s): " + ", ".join(d for _, d, _, _ in items), host.name)
    rc, out, err = await target.sh(_install_script(items, spec.owner))
    await target.sh("rm -f -- " + " ".join(shlex.quote(t) for t, _, _, _ in items), become=False)
    installed = out.split()
    if rc != 0:
        return _host_fields(rc=rc, error=f"install failed: {err.strip()[-500:]}")
    mismatched = [d for (_, d, _, want), got in zip(items, installed, strict=False) if want != got]
    if len(installed) != len(items) or mismatched:
        return _host_fields(error=f"checksum mismatch after transfer: {', '.join(mismatched) or 'output'}")
    return _host_fields(
        rc=0, failed=0, changed=True, bytes=sum(f.size for f, _, _ in pending), checksum=checksum, files=len(files)
    )


async def _restore(target: _Target, spec: CopySpec, dests: list[str]) -> dict[str, Any]:
    rc, out, err = await target.sh(_restore_script(dests))
    if rc != 0:
        return _host_fields(rc=rc, error=f"restore failed: {err.strip()[-500:]}")
    changed = any(word in ("restored", "removed") for word in out.split())
    return _host_fields(rc=0, failed=0, changed=changed, files=len(dests))


def _aggregate(
    call: StepCall, hosts: dict[str, dict[str, Any]], stopped: str | None, checksum: str | None, duration: float
) -> Result:
    ran = [f for f in hosts.values() if not f["skipped"]]
    fields = {
        "rc": max((f["rc"] for f in ran if f["rc"] is not None), default=None),
        "ok": sum(1 for f in ran if not f["failed"]),
        "failed": sum(1 for f in ran if f["failed"]),
        "unreachable": sum(1 for f in ran if f["unreachable"]),
        "skipped": len(hosts) - len(ran),
        "changed": sum(1 for f in ran if f["changed"]),
        "bytes": sum(f["bytes"] for f in ran),
        "checksum": checksum,
        "stopped": stopped,
    }
    ok = fields["ok"] == len(hosts)
    error = None
    if not ok:
        bad = [f"{name} ({f['error']})" for name, f in hosts.items() if f["failed"] or f["skipped"]]
        error = call.redact(f"{len(hosts) - fields['ok']} of {len(hosts)} hosts failed: " + ", ".join(bad[:5]))
        if stopped:
            error += f"; rollout stopped: {stopped}"
    return Result(ok=ok, fields=fields, hosts=hosts, error=error, duration=duration)

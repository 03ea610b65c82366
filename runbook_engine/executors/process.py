"""The one process supervisor: every executor that starts a local process (``shell``,
``ssh`` on local-connection hosts, ``ansible``, and any plugin) starts it here, so every
guarantee holds for all of them (docs/executors/shell.md, docs/plugins.md):

* the command leads its own process group (a new session); timeout and cancellation
  stop the whole group (SIGTERM, SIGKILL after ``kill_grace``);
* the tree dies with the runner, even a SIGKILLed one: a guardian process, started once
  per supervisor, holds a pipe from the runner and SIGKILLs every registered group when
  that pipe closes. The command does not act before the guardian knows its group and
  the engine has journaled its start (it waits for a go line on stdin and checks its
  parent). Without a guardian, ``PR_SET_PDEATHSIG`` (``setpriv`` or a ``prctl``
  preexec) kills the leader instead;
* the pid is announced (the engine journals it with its start time as ``step_pid``);
* output is read in chunks and kept bounded (``max_output`` bytes per stream, the rest
  counted and marked); lines are handed on one by one, cut at ``max_line`` bytes, so a
  100 MB line costs no more memory than a short one;
* the step ends when its command exits: the exit is watched on a pidfd, not on the
  pipes, and a background child that keeps stdout open stops only the reading.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import asyncio

__all__ = [
    "DEFAULT_KILL_GRACE",
    "DEFAULT_MAX_OUTPUT",
    "MAX_LINE",
    "MAX_LOGGED_LINES",
    "OUTPUT_DRAIN",
    "Command",
    "Finished",
    "LineLog",
    "LineSplitter",
    "OutputCapture",
    "ProcessSupervisor",
    "proc_start_time",
]

#: Bytes of stdout and of stderr kept per command; the rest is counted and marked.
DEFAULT_MAX_OUTPUT = 1 << 20
#: Seconds between SIGTERM and SIGKILL when a command is stopped.
DEFAULT_KILL_GRACE = 5.0
#: Lines streamed to the log per stream before the stream is only counted.
MAX_LOGGED_LINES = 10_000
#: Longest line handed to ``on_line``; longer lines are cut and marked.
MAX_LINE = 64 * 1024
#: Seconds output is still read after the command exited; a background process that
#: keeps the pipe open longer does not hold the step.
OUTPUT_DRAIN = 0.5
#: Seconds between exit checks where no pidfd is available.
_POLL = 0.02

Stream = Literal["stdout", "stderr"]

_PR_SET_PDEATHSIG = 1

#: Finds every process of the given process groups and all their descendants, also
#: those that left the group with ``setsid`` (Ansible's workers do), so stopping a tree
#: stops all of it. Shared verbatim by the guardian script and `_stop_tree`.
_TREE = r"""
def tree(groups):
    parents, members = {}, set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/" + entry + "/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        pid, ppid, pgid = int(entry), int(fields[1]), int(fields[2])
        parents.setdefault(ppid, []).append(pid)
        if pgid in groups:
            members.add(pid)
    found, todo = set(members), list(members)
    while todo:
        for child in parents.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def kill_tree(groups, sig):
    for pid in tree(groups):
        try:
            os.kill(pid, sig)
        except OSError:
            pass
    for pgid in groups:
        try:
            os.killpg(pgid, sig)
        except OSError:
            pass
"""

_GUARDIAN = (
    r"""
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
"""
    + _TREE
    + r"""
groups = set()
for line in sys.stdin:
    line = line.strip()
    if line.startswith("-"):
        groups.discard(int(line[1:]))
    elif line:
        groups.add(int(line))
if groups:
    kill_tree(groups, signal.SIGSTOP)  # nothing forks while the tree is collected
    kill_tree(groups, signal.SIGKILL)
"""
)

_tree_namespace: dict[str, object] = {"os": os}
exec(_TREE, _tree_namespace)  # noqa: S102 - our own constant, so both copies are one
_kill_tree: Callable[[set[int], int], None] = _tree_namespace["kill_tree"]  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Command:
    """One process to run. ``env`` is added to the runner's environment (values and
    secrets travel here, never on the command line); ``stdin`` is fed then closed."""

    argv: Sequence[str]
    cwd: str = "."
    env: Mapping[str, str] = field(default_factory=dict)
    stdin: bytes | None = None
    timeout: float | None = None
    max_output: int = DEFAULT_MAX_OUTPUT
    kill_grace: float = DEFAULT_KILL_GRACE
    max_line: int = MAX_LINE


@dataclass(frozen=True, slots=True)
class Finished:
    """How a command ended. ``rc`` is its exit code, ``128 + N`` when signal N ended
    it, ``None`` when it timed out or never started (``start_error`` says why)."""

    rc: int | None
    pid: int
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False
    start_error: str | None = None
    output_held_open: bool = False


class OutputCapture:
    """Keeps the first ``limit`` bytes of a stream and counts the rest."""

    def __init__(self, limit: int = DEFAULT_MAX_OUTPUT) -> None:
        self.limit = limit
        self.chunks: list[bytes] = []
        self.kept = 0
        self.dropped = 0

    def add(self, data: bytes) -> None:
        room = self.limit - self.kept
        if room > 0:
            self.chunks.append(data[:room])
            self.kept += min(room, len(data))
        self.dropped += max(0, len(data) - max(room, 0))

    def text(self) -> str:
        text = b"".join(self.chunks).decode("utf-8", errors="replace")
        if self.dropped:
            text += f"\n[… output truncated: {self.dropped} more bytes]"
        return text


class LineSplitter:
    """Splits a byte stream into lines of at most ``max_line`` bytes (longer ones are
    cut, marked, and the rest skipped up to the next newline), holding at most
    ``max_line`` bytes of a line in memory."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self._pending = b""
        self._cut = False  # the current line was already handed on, cut

    def feed(self, data: bytes) -> Iterator[str]:
        pending = self._pending + data
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if self._cut:
                self._cut = False
                continue
            yield self._text(line)
        if self._cut:
            pending = b""
        elif len(pending) > self.max_line:
            yield self._text(pending)
            pending, self._cut = b"", True
        self._pending = pending

    def end(self) -> Iterator[str]:
        if self._pending and not self._cut:
            yield self._text(self._pending)
        self._pending, self._cut = b"", False

    def _text(self, line: bytes) -> str:
        text = line[: self.max_line].decode("utf-8", errors="replace")
        if len(line) > self.max_line:
            text += " [… line cut]"
        return text


class LineLog:
    """Streams a command's lines to the step log, at most ``limit`` per stream; later
    lines are only kept in the result. Shared by every executor that runs commands."""

    def __init__(
        self,
        log: Callable[[str, str | None], None],
        host: str | None = None,
        limit: int = MAX_LOGGED_LINES,
    ) -> None:
        self.log = log
        self.host = host
        self.limit = limit
        self.counts: dict[str, int] = {}

    def __call__(self, stream: str, line: str) -> None:
        count = self.counts[stream] = self.counts.get(stream, 0) + 1
        prefix = "stderr: " if stream == "stderr" else ""
        if count <= self.limit:
            self.log(prefix + line, self.host)
        elif count == self.limit + 1:
            self.log(prefix + "[… further lines are kept in the result only]", self.host)


class _Guardian:
    """One helper process that kills registered process groups when the runner
    disappears (its stdin pipe closes)."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> bool:
        """Start the guardian if it is not running; whether one is running."""
        if self._proc is not None and self._proc.poll() is not None:
            self._proc = None  # it died: start another for the commands to come
        if self._proc is None and sys.platform.startswith("linux"):
            try:
                self._proc = subprocess.Popen(
                    [sys.executable, "-S", "-c", _GUARDIAN],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                    close_fds=True,
                    bufsize=0,
                )
            except OSError:
                return False
        return self._proc is not None and self._proc.poll() is None

    def _send(self, text: str) -> None:
        proc = self._proc
        if proc is not None and proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError, OSError):
                proc.stdin.write(text.encode())

    def watch(self, pgid: int) -> None:
        self._send(f"{pgid}\n")

    def release(self, pgid: int) -> None:
        self._send(f"-{pgid}\n")

    def close(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(OSError):
                if self._proc.stdin is not None:
                    self._proc.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5)
            self._proc = None


@dataclass(frozen=True, slots=True)
class _DeathSignal:
    """How a command is kept from outliving the runner.

    ``guarded`` commands start with a line that waits for the runner's go (a first
    line on stdin, sent once the guardian knows the process group) and checks that
    the parent is still the runner: nothing of the command runs unguarded. With a
    guardian that is all (no extra cost but the go line). Without one, Linux sends
    SIGKILL when the runner dies: exec through ``setpriv --pdeathsig KILL`` (keeps the
    fast vfork path) or, without setpriv, a ctypes ``prctl`` preexec (forces fork)."""

    prefix: tuple[str, ...] = ()
    preexec: Callable[[], None] | None = None
    guarded: bool = False

    def argv(self, argv: Sequence[str]) -> list[str]:
        if not self.guarded:
            return [*self.prefix, *argv]
        guard = f'[ "$PPID" = {os.getpid()} ] && read -r _ || exit 137'
        if len(argv) == 3 and argv[0] in ("/bin/sh", "/bin/bash") and argv[1] == "-c":
            return [*self.prefix, argv[0], "-c", f"{guard}\n{argv[2]}"]  # no extra exec
        return [*self.prefix, "/bin/sh", "-c", f'{guard}\nexec "$@"', "runbook-guard", *argv]


def _death_signal(guardian: bool) -> _DeathSignal:
    if not sys.platform.startswith("linux"):
        return _DeathSignal()
    if guardian:
        return _DeathSignal(guarded=True)
    setpriv = shutil.which("setpriv")
    if setpriv is not None:
        return _DeathSignal(prefix=(setpriv, "--pdeathsig", "KILL"), guarded=True)
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return _DeathSignal()
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the runner died between fork and prctl
            os._exit(137)

    return _DeathSignal(preexec=preexec, guarded=True)


def proc_start_time(pid: int) -> int | None:
    """The process's start time in clock ticks, so resume can tell a recorded pid from
    a new process that reused the number."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


async def _nothing() -> None:
    return None


class ProcessSupervisor:
    """Starts and watches local processes for one executor instance (one per run);
    ``close`` stops its guardian."""

    def __init__(self) -> None:
        self._guardian = _Guardian()
        self._deaths: dict[bool, _DeathSignal] = {}

    def close(self) -> None:
        """Stop the guardian (the commands it guarded have all ended)."""
        self._guardian.close()

    def _death(self) -> _DeathSignal:
        guardian = self._guardian.start()
        death = self._deaths.get(guardian)
        if death is None:
            death = self._deaths[guardian] = _death_signal(guardian)
        return death

    async def run(
        self,
        command: Command,
        *,
        on_pid: Callable[[int], None] | None = None,
        before_start: Callable[[], Awaitable[None]] | None = None,
        on_line: Callable[[Stream, str], None] | None = None,
    ) -> Finished:
        """Run ``command`` to its end. ``on_pid`` hears the pid before the command may
        act; ``before_start`` is awaited before it may act (the engine makes the step's
        start durable); ``on_line`` hears each output line. Cancellation stops the
        process group and re-raises."""
        started = time.monotonic()
        death = self._death()
        before = before_start or _nothing
        if not death.guarded:  # no go line to hold the command back: wait now
            await before()
        env = {**os.environ, **command.env} if command.env else None
        piped_stdin = command.stdin is not None or death.guarded
        try:
            proc = subprocess.Popen(
                death.argv(command.argv),
                stdin=subprocess.PIPE if piped_stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=command.cwd,
                env=env,
                start_new_session=True,
                preexec_fn=death.preexec,
                close_fds=True,
            )
        except OSError as exc:
            return Finished(
                rc=None,
                pid=0,
                stdout="",
                stderr=f"could not start: {exc}",
                duration=time.monotonic() - started,
                start_error=f"could not start {command.argv[0]}: {exc}",
            )
        self._guardian.watch(proc.pid)
        try:
            if on_pid is not None:
                on_pid(proc.pid)
            return await self._watch(proc, command, death, before, on_line, started)
        finally:
            self._guardian.release(proc.pid)

    async def _watch(
        self,
        proc: subprocess.Popen[bytes],
        command: Command,
        death: _DeathSignal,
        before: Callable[[], Awaitable[None]],
        on_line: Callable[[Stream, str], None] | None,
        started: float,
    ) -> Finished:
        import asyncio
        out, err = OutputCapture(command.max_output), OutputCapture(command.max_output)
        assert proc.stdout is not None and proc.stderr is not None
        readers = [
            asyncio.ensure_future(_pump(proc.stdout, "stdout", out, command.max_line, on_line)),
            asyncio.ensure_future(_pump(proc.stderr, "stderr", err, command.max_line, on_line)),
        ]
        feed: asyncio.Future[None] | None = None
        if proc.stdin is not None:
            go = b"\n" if death.guarded else b""
            feed = asyncio.ensure_future(
                _feed(proc.stdin, go + (command.stdin or b""), before if death.guarded else None)
            )
        timed_out = False
        held_open = False
        try:
            try:
                await asyncio.wait_for(_exited(proc), command.timeout)
            except TimeoutError:
                timed_out = True
                await _stop_group(proc, command.kill_grace)
            _, still_open = await asyncio.wait(readers, timeout=OUTPUT_DRAIN)
            for reader in still_open:  # a background child kept the pipe: stop reading
                reader.cancel()
            held_open = bool(still_open)
            if held_open:
                err.add(b"\n[stopped reading: a background process kept the output open]")
            if feed is not None:
                if not feed.done():
                    feed.cancel()
                elif not feed.cancelled() and feed.exception() is not None:
                    raise feed.exception()  # type: ignore[misc]  # the go was never sent
        except asyncio.CancelledError:
            await asyncio.shield(_stop_group(proc, command.kill_grace))
            for task in [*readers, *([feed] if feed else [])]:
                task.cancel()
            raise
        finally:
            for pipe in (proc.stdout, proc.stderr, proc.stdin):
                if pipe is not None:
                    with contextlib.suppress(OSError):
                        pipe.close()
        code = proc.returncode
        rc = None if timed_out or code is None else (code if code >= 0 else 128 - code)
        stderr = err.text()
        if timed_out:
            stderr += f"\n[timed out after {command.timeout:g}s; process group killed]"
        return Finished(
            rc=rc,
            pid=proc.pid,
            stdout=out.text().rstrip("\n"),
            stderr=stderr.rstrip("\n"),
            duration=time.monotonic() - started,
            timed_out=timed_out,
            output_held_open=held_open,
        )


async def _exited(proc: subprocess.Popen[bytes]) -> int:
    """Wait for the process itself to exit — not for its pipes to close, which a
    background child may keep open for as long as it lives."""
    import asyncio
    loop = asyncio.get_running_loop()
    pidfd = -1
    with contextlib.suppress(OSError, AttributeError):
        pidfd = os.pidfd_open(proc.pid)
    try:
        while proc.poll() is None:
            if pidfd < 0:
                await asyncio.sleep(_POLL)
                continue
            ready: asyncio.Future[None] = loop.create_future()

            def wake(ready: asyncio.Future[None] = ready) -> None:
                if not ready.done():
                    ready.set_result(None)

            loop.add_reader(pidfd, wake)
            try:
                await ready
            finally:
                loop.remove_reader(pidfd)
    finally:
        if pidfd >= 0:
            os.close(pidfd)
    return proc.returncode


async def _pump(
    pipe: IO[bytes],
    stream: Stream,
    capture: OutputCapture,
    max_line: int,
    on_line: Callable[[Stream, str], None] | None,
) -> None:
    """Reads a pipe to its end: keeps a bounded copy, hands on each line."""
    import asyncio
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 16)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), pipe
    )
    splitter = LineSplitter(max_line)
    try:
        while chunk := await reader.read(1 << 16):
            capture.add(chunk)
            if on_line is not None:
                for line in splitter.feed(chunk):
                    on_line(stream, line)
        if on_line is not None:
            for line in splitter.end():
                on_line(stream, line)
    finally:
        transport.close()


async def _feed(
    stdin: IO[bytes], data: bytes, before_go: Callable[[], Awaitable[None]] | None
) -> None:
    """Waits for ``before_go`` (the step's start made durable), writes the go line and
    the step's stdin, then closes it (EOF for the command). If ``before_go`` fails,
    stdin is closed without a go and the guarded command exits 137 untouched."""
    import asyncio
    loop = asyncio.get_running_loop()
    transport = None
    try:
        if before_go is not None:
            await before_go()
        transport, protocol = await loop.connect_write_pipe(_flow_control(), stdin)
        writer = asyncio.StreamWriter(transport, protocol, None, loop)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            writer.write(data)
            await writer.drain()
    finally:
        if transport is not None:
            transport.close()
        else:
            with contextlib.suppress(OSError):
                stdin.close()


@functools.cache
def _flow_control() -> type[asyncio.Protocol]:
    """The protocol a `StreamWriter` needs for ``drain`` on a pipe; defined on first
    use so that importing an executor (``runbook lint``) does not import asyncio."""
    import asyncio

    class _FlowControl(asyncio.streams.FlowControlMixin, asyncio.Protocol):
        pass

    return _FlowControl


async def _stop_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the command's whole tree (its process group and every descendant, in
    whatever session), then SIGKILL after ``grace``; once the leader exited, what is
    left of the tree is SIGKILLed at once, so nothing lingers."""
    import asyncio
    # freeze the tree first (twice: a child forked before the first stop landed), so a
    # child forked in a new session cannot slip between collecting the tree and the signal
    _kill_tree({proc.pid}, signal.SIGSTOP)
    _kill_tree({proc.pid}, signal.SIGSTOP)
    _kill_tree({proc.pid}, signal.SIGTERM)
    _kill_tree({proc.pid}, signal.SIGCONT)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(_exited(proc), grace)
    _kill_tree({proc.pid}, signal.SIGKILL)
    await _exited(proc)

"""The ``ansible`` executor: ``ansible-playbook`` and ad-hoc ``ansible`` as subprocesses.

Nothing from ansible is imported in-process (it is slow to import and its globals are
not ours). The run's results come from a small stdout callback plugin shipped in
``ansible_callback/`` that prints one JSON object per line, so the PLAY RECAP per host
and every task result are read exactly, never scraped from human output. See
docs/executors/ansible.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from runbook_engine.errors import ExecutorError, TemplateError
from runbook_engine.executors.base import ExecutorBase, Result, StepCall
from runbook_engine.executors.process import MAX_LOGGED_LINES, Command, ProcessSupervisor, Stream

CALLBACK_DIR = Path(__file__).with_name("ansible_callback")
CALLBACK_NAME = "runbook_jsonl"
RECAP_KEYS = ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored")
INSTALL_HINT = "pip install 'runbook-engine[ansible]'"
_EVENT_PREFIX = '{"runbook_event"'
#: Longest callback event line read whole (a task result with a large stdout); longer
#: ones are cut, so they no longer parse and count as plain output.
MAX_EVENT_LINE = 8 << 20
#: Lines of non-event output kept for the error message of a run without a recap.
_TAIL = 20


@dataclass(frozen=True, slots=True)
class AnsibleSpec:
    """An ``ansible:`` step: a playbook or an ad-hoc module, with its options."""

    playbook: str | None = None
    module: str | None = None
    args: str | None = None
    inventory: str | None = None
    limit: str | None = None
    tags: tuple[str, ...] = ()
    skip_tags: tuple[str, ...] = ()
    extra_vars: Mapping[str, Any] = field(default_factory=dict)
    check: bool = False
    diff: bool = False
    become: bool = False
    forks: int | None = None


def _names(value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ExecutorError(f"ansible: {key} must be a name or a list of names, not {value!r}")


def parse_spec(raw: Any) -> AnsibleSpec:
    if not isinstance(raw, Mapping):
        raise ExecutorError(
            "ansible: expects a mapping with 'playbook' or 'module'",
            hint="ansible: {playbook: orchestrate.yml, extra_vars: {service_action: stop}}",
        )
    unknown = set(raw) - set(AnsibleExecutor.schema["properties"])
    if unknown:
        raise ExecutorError(f"ansible: unknown key {sorted(unknown)[0]!r}")
    if ("playbook" in raw) == ("module" in raw):
        raise ExecutorError(
            "ansible: give exactly one of 'playbook' (ansible-playbook) or 'module' (ad-hoc)",
            hint="ansible: {module: shell, args: 'cat /opt/app/VERSION'}",
        )
    extra = raw.get("extra_vars") or {}
    if not isinstance(extra, Mapping):
        raise ExecutorError("ansible: extra_vars must be a mapping")
    forks = raw.get("forks")
    if forks is not None and (isinstance(forks, bool) or not isinstance(forks, int) or forks < 1):
        raise ExecutorError(f"ansible: forks must be a whole number ≥ 1, not {forks!r}")
    args = raw.get("args")
    if isinstance(args, Mapping):
        args = json.dumps(dict(args))
    return AnsibleSpec(
        playbook=None if raw.get("playbook") is None else str(raw["playbook"]),
        module=None if raw.get("module") is None else str(raw["module"]),
        args=None if args is None else str(args),
        inventory=None if raw.get("inventory") is None else str(raw["inventory"]),
        limit=None if raw.get("limit") is None else str(raw["limit"]),
        tags=_names(raw.get("tags"), "tags"),
        skip_tags=_names(raw.get("skip_tags"), "skip_tags"),
        extra_vars=dict(extra),
        check=bool(raw.get("check", False)),
        diff=bool(raw.get("diff", False)),
        become=bool(raw.get("become", False)),
        forks=forks,
    )


#: Modules whose free-form args are a command line on the host.
FREE_FORM_SHELL = frozenset({"shell", "command", "raw", "script"})


def _args_referring(call: StepCall, args: Any, shell_like: bool, extra: dict[str, Any]) -> Any:
    """``args`` with every interpolated value moved into ``extra`` and referred to by
    an Ansible expression; in a free-form shell command as ``{{ rb_vN | quote }}``
    (a bare word; inside quotes it is refused, RB205)."""
    if isinstance(args, Mapping):
        return {k: _args_referring(call, v, False, extra) for k, v in args.items()}
    if isinstance(args, list):
        return [_args_referring(call, v, False, extra) for v in args]
    if not isinstance(args, str):
        return args
    command = call.render_command(args, None)

    def reference(index: int, context: str, before: str) -> str:
        name = f"rb_v{len(extra) + 1}"
        extra[name] = command.values[index]
        if not shell_like:
            return "{{ " + name + " }}"
        if context != "bare":
            raise TemplateError(
                "in the args of a shell-like ansible module a template must stand as a bare word",
                hint="remove the quotes around it: the value is quoted for the shell already",
                rule="RB205",
            )
        return "{{ " + name + " | quote }}"

    return command.refer(reference)


def unsafe_yaml(value: Any) -> str:
    """``value`` as YAML (JSON syntax) with every string tagged ``!unsafe``, so Ansible
    never evaluates a ``{{ }}`` that a value happens to contain."""
    if isinstance(value, str):
        return "!unsafe " + json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        items = (f"{json.dumps(str(k), ensure_ascii=False)}: {unsafe_yaml(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(unsafe_yaml(v) for v in value) + "]"
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value)
    return unsafe_yaml(str(value))


def ansible_binary(name: str) -> str:
    """An ansible-core program: beside this Python (the venv) first, then PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise ExecutorError(
            f"the ansible executor needs ansible-core ({name} not found)", hint=INSTALL_HINT
        )
    return found


class AnsibleExecutor(ExecutorBase):
    """Runs a playbook or an ad-hoc module and reports Ansible's own per-host recap."""

    key: ClassVar[str] = "ansible"
    #: ``--forks``; Ansible's ``serial`` and ``max_fail_percentage`` are play keywords
    #: that the command line cannot set, so lint rejects them on an ansible step.
    rollout_keys: ClassVar[frozenset[str]] = frozenset({"forks"})
    #: The process supervisor awaits ``before_start`` just before ansible's go.
    awaits_before_start: ClassVar[bool] = True
    #: Lines that only say a task went as planned: the live log shows them with -v
    #: only, and one recap line per host when the step ends.
    routine_output: ClassVar[re.Pattern[str] | None] = re.compile(
        r"^(PLAY|TASK) \[|^(ok|changed|skipped|skipping|included): \["
    )
    schema: ClassVar[Mapping[str, Any]] = {
        "description": "ansible-playbook (playbook) or ad-hoc ansible (module + args) through ansible-core.",
        "type": "object",
        "additionalProperties": False,
        "oneOf": [{"required": ["playbook"]}, {"required": ["module"]}],
        "properties": {
            "playbook": {"type": "string", "minLength": 1},
            "module": {"type": "string", "minLength": 1},
            "args": {"type": ["string", "object"]},
            "inventory": {"type": "string", "minLength": 1},
            "limit": {"type": "string", "minLength": 1},
            "tags": {"type": ["string", "array"], "items": {"type": "string"}},
            "skip_tags": {"type": ["string", "array"], "items": {"type": "string"}},
            "extra_vars": {"type": "object"},
            "check": {"type": "boolean"},
            "diff": {"type": "boolean"},
            "become": {"type": "boolean"},
            "forks": {"type": "integer", "minimum": 1},
        },
    }
    fields: ClassVar[Mapping[str, str]] = {
        "rc": "int",
        **dict.fromkeys(RECAP_KEYS, "int"),
        "tasks": "list",
        "stdout": "str",
        "stderr": "str",
        "duration": "duration",
    }
    host_fields: ClassVar[Mapping[str, str]] = {
        **dict.fromkeys(RECAP_KEYS, "int"),
        "rc": "int",
        "stdout": "str",
        "stderr": "str",
    }

    def command(self, call: StepCall, vars_file: str = "extra-vars.yml") -> list[str]:
        """The argv this step runs (templates rendered); the extra vars are in
        ``vars_file`` (``extra_vars``), never on the command line."""
        spec, extra = self.prepare(call)
        inventory = _inventory(spec, call)
        argv: list[str]
        if spec.playbook is not None:
            playbook = Path(spec.playbook)
            if not playbook.is_absolute():
                playbook = call.workdir / playbook
            argv = [ansible_binary("ansible-playbook"), str(playbook)]
            limit = spec.limit or (",".join(h.name for h in call.hosts) if call.hosts else None)
            if limit:
                argv += ["--limit", limit]
            if spec.tags:
                argv += ["--tags", ",".join(spec.tags)]
            if spec.skip_tags:
                argv += ["--skip-tags", ",".join(spec.skip_tags)]
        else:
            pattern = ",".join(h.name for h in call.hosts) if call.hosts else "all"
            argv = [ansible_binary("ansible"), pattern, "-m", str(spec.module)]
            if spec.args is not None:
                argv += ["-a", spec.args]
            if spec.limit:
                argv += ["--limit", spec.limit]
        if inventory:
            argv += ["-i", str(inventory)]
        if extra:
            argv += ["-e", f"@{vars_file}"]
        if spec.check:
            argv.append("--check")
        if spec.diff:
            argv.append("--diff")
        if spec.become:
            argv.append("--become")
        forks = spec.forks or call.options.get("forks")
        if forks:
            argv += ["--forks", str(forks)]
        return argv

    def __init__(self) -> None:
        self._processes = ProcessSupervisor()

    async def close(self) -> None:
        self._processes.close()

    def prepare(self, call: StepCall) -> tuple[AnsibleSpec, dict[str, Any]]:
        """The spec with its templates rendered, and the extra vars for the vars file.
        Values interpolated into ``args`` join the extra vars as ``rb_v1``… and the
        args refer to them, so no value becomes module-argument or shell syntax."""
        raw = call.spec
        if not isinstance(raw, Mapping):
            return parse_spec(raw), {}
        rendered = call.render({k: v for k, v in raw.items() if k != "args"}, None)
        extra_values: dict[str, Any] = {}
        if "args" in raw:
            shell_like = str(rendered.get("module", "")).rsplit(".", 1)[-1] in FREE_FORM_SHELL
            rendered["args"] = _args_referring(call, raw["args"], shell_like, extra_values)
        spec = parse_spec(rendered)
        return spec, {**dict(spec.extra_vars), **extra_values}

    def describe(self, call: StepCall) -> list[str]:
        import shlex

        try:
            spec, extra = self.prepare(call)
            argv = self.command(call, "extra-vars.yml")
        except (ExecutorError, TemplateError) as exc:
            return [f"(cannot run: {exc})"]
        argv[0] = Path(argv[0]).name
        shown = shlex.join(argv)
        if extra:
            shown += f"  # extra-vars.yml: {json.dumps(extra, default=str, ensure_ascii=False)}"
        return [call.redact(shown)]

    async def run(self, call: StepCall) -> Result:
        with tempfile.TemporaryDirectory(prefix="runbook-ansible-") as private:
            # mode 0700 folder, 0600 file: only this user reads the values
            spec, extra = self.prepare(call)
            vars_file = Path(private) / "extra-vars.yml"
            descriptor = os.open(vars_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(unsafe_yaml(extra) + "\n")
            return await self._run(call, self.command(call, str(vars_file)), _inventory(spec, call))

    async def _run(self, call: StepCall, argv: list[str], inventory: str | None) -> Result:
        env = {
            "ANSIBLE_STDOUT_CALLBACK": CALLBACK_NAME,
            "ANSIBLE_CALLBACK_PLUGINS": os.pathsep.join(
                p for p in (str(CALLBACK_DIR), os.environ.get("ANSIBLE_CALLBACK_PLUGINS", "")) if p
            ),
            "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "PYTHONUNBUFFERED": "1",
        }
        run = _AnsibleRun(call, adhoc=Path(argv[0]).name == "ansible", inventory=inventory)
        finished = await self._processes.run(
            Command(
                argv=argv,
                cwd=str(call.workdir),
                env=env,
                timeout=call.timeout,
                max_line=MAX_EVENT_LINE,
            ),
            on_pid=call.services.on_pid,
            before_start=call.services.before_start,
            on_line=run.line,
        )
        if finished.start_error:
            raise ExecutorError(finished.start_error, hint=INSTALL_HINT)
        return run.result(finished.rc, finished.stderr, finished.timed_out, finished.duration)


def _inventory(spec: AnsibleSpec, call: StepCall) -> str | None:
    """The inventory ansible is given: the step's own, else the run's."""
    return spec.inventory or call.services.inventory_path


class _AnsibleRun:
    """Folds the callback's JSON lines into per-host recap and task results."""

    def __init__(self, call: StepCall, adhoc: bool, inventory: str | None) -> None:
        self.call = call
        self.adhoc = adhoc
        self.inventory = inventory
        self.recap: dict[str, dict[str, Any]] | None = None
        self.tasks: list[dict[str, Any]] = []
        self.last: dict[str, dict[str, Any]] = {}
        self.other: deque[str] = deque(maxlen=_TAIL)
        self.logged = 0

    def line(self, stream: Stream, line: str) -> None:
        """One output line from the supervisor: a callback event, or plain output."""
        event = None
        if stream == "stdout" and line.startswith(_EVENT_PREFIX):
            with contextlib.suppress(json.JSONDecodeError):
                event = json.loads(line)
        if event is not None:
            self.handle(event)
        elif line.strip():
            if stream == "stdout":
                self.other.append(line)
            self.log(line)

    def log(self, line: str, host: str | None = None) -> None:
        self.logged += 1
        if self.logged <= MAX_LOGGED_LINES:
            self.call.log(line, host)
        elif self.logged == MAX_LOGGED_LINES + 1:
            self.call.log("[… further lines are kept in the result only]", None)

    def handle(self, event: Mapping[str, Any]) -> None:
        kind = event.get("runbook_event")
        if kind == "play_start":
            self.log(f"PLAY [{event.get('play')}]", None)
        elif kind == "task_start":
            self.log(f"TASK [{event.get('task')}]", None)
        elif kind == "no_hosts_matched":
            self.log("no hosts matched", None)
        elif kind == "task_result":
            host, status, result = (
                str(event.get("host")),
                str(event.get("status")),
                dict(event.get("result") or {}),
            )
            entry = {"task": event.get("task"), "host": host, "status": status, **result}
            entry["changed"] = bool(result.get("changed", False))
            self.tasks.append(entry)
            self.last[host] = entry
            detail = result.get("msg") if status in ("failed", "unreachable") else None
            rc = f" rc={result['rc']}" if "rc" in result else ""
            self.log(f"{status}: [{host}]{rc}" + (f" {detail}" if detail else ""), host)
        elif kind == "stats":
            self.recap = {
                h: {k: int(v.get(k, 0)) for k in RECAP_KEYS}
                for h, v in dict(event.get("hosts") or {}).items()
            }

    def result(self, rc: int | None, stderr: str, timed_out: bool, duration: float) -> Result:
        hosts: dict[str, dict[str, Any]] = {}
        for name, counts in (self.recap or {}).items():
            last = self.last.get(name, {}) if self.adhoc else {}
            hosts[name] = {
                **counts,
                "rc": None if counts["unreachable"] else last.get("rc"),
                "stdout": str(last.get("stdout", "")),
                "stderr": str(last.get("stderr", "")),
            }
        totals = {k: sum(h[k] for h in hosts.values()) for k in RECAP_KEYS}
        stderr = self.call.redact(stderr.strip())
        fields = {
            "rc": rc,
            **totals,
            "tasks": self.tasks,
            "stdout": "\n".join(h["stdout"] for h in hosts.values() if h["stdout"]),
            "stderr": stderr,
            "duration": duration,
        }
        ok = rc == 0 and totals["failed"] == 0 and totals["unreachable"] == 0 and not timed_out
        error = None
        if timed_out:
            error = f"ansible timed out after {self.call.timeout:g}s"
        elif self.recap is None:
            tail = (stderr or "\n".join(self.other)).strip().splitlines()[-5:]
            error = f"ansible exited {rc} before its recap: " + " | ".join(tail)
            ok = False
        elif not hosts:
            # ansible-playbook exits 0 when no play matched a host: nothing was done
            where = self.inventory or "none given (implicit localhost only)"
            error = f"ansible matched no host (inventory: {where}): check the inventory and the play's hosts:"
            ok = False
        elif not ok:
            bad = [
                f"{h} (failed={v['failed']}, unreachable={v['unreachable']})"
                for h, v in hosts.items()
                if v["failed"] or v["unreachable"]
            ]
            error = f"ansible exited {rc}" + (": " + ", ".join(bad[:5]) if bad else "")
        return Result(
            ok=ok,
            fields=fields,
            hosts=hosts,
            error=error,
            duration=duration,
            state="timed_out" if timed_out else "done",
        )

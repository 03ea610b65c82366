"""An Ansible stdout callback that prints one JSON object per event, one per line.

runbook-engine's ansible executor reads these lines instead of scraping Ansible's
human output: task starts and per-host task results as they happen (streamed to the
progress view) and the PLAY RECAP counts at the end. ansible-core ships no JSON
stdout callback of its own (``ansible.posix.json`` lives in a collection), and this
file is loaded only by ansible-playbook, never by runbook-engine itself.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: runbook_jsonl
type: stdout
short_description: JSON lines for runbook-engine
description:
  - Prints one JSON object per event on its own line, prefixed by the key runbook_event.
"""

#: Characters of each text field kept per task result.
MAX_TEXT = 65536
_KEPT = (
    "rc",
    "stdout",
    "stderr",
    "msg",
    "cmd",
    "delta",
    "changed",
    "failed",
    "skipped",
    "skip_reason",
)


def _result_of(result: Any) -> dict[str, Any]:
    data = getattr(result, "result", None)
    if not isinstance(data, dict):
        data = getattr(result, "_result", {})
    return data if isinstance(data, dict) else {}


def _host_of(result: Any) -> str:
    host = getattr(result, "host", None) or getattr(result, "_host", None)
    return host.get_name() if host is not None else "?"


def _task_of(result: Any) -> str:
    task = getattr(result, "task", None) or getattr(result, "_task", None)
    return task.get_name() if task is not None else "?"


class CallbackModule(CallbackBase):  # type: ignore[misc]  # ansible ships no type hints
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "runbook_jsonl"

    def _emit(self, event: str, **data: Any) -> None:
        sys.stdout.write(json.dumps({"runbook_event": event, **data}, default=str) + "\n")
        sys.stdout.flush()

    def _task_result(self, status: str, result: Any) -> None:
        data = _result_of(result)
        kept: dict[str, Any] = {}
        for key in _KEPT:
            if key in data:
                value = data[key]
                kept[key] = value[:MAX_TEXT] if isinstance(value, str) else value
        if "results" in data and isinstance(data["results"], list):  # loops
            kept["items"] = len(data["results"])
        self._emit(
            "task_result", status=status, host=_host_of(result), task=_task_of(result), result=kept
        )

    def v2_playbook_on_play_start(self, play: Any) -> None:
        self._emit("play_start", play=play.get_name())

    def v2_playbook_on_task_start(self, task: Any, is_conditional: bool) -> None:
        self._emit("task_start", task=task.get_name())

    def v2_playbook_on_handler_task_start(self, task: Any) -> None:
        self._emit("task_start", task=task.get_name(), handler=True)

    def v2_runner_on_ok(self, result: Any) -> None:
        self._task_result("changed" if _result_of(result).get("changed") else "ok", result)

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        self._task_result("ignored" if ignore_errors else "failed", result)

    def v2_runner_on_unreachable(self, result: Any) -> None:
        self._task_result("unreachable", result)

    def v2_runner_on_skipped(self, result: Any) -> None:
        self._task_result("skipped", result)

    def v2_playbook_on_no_hosts_matched(self) -> None:
        self._emit("no_hosts_matched")

    def v2_playbook_on_stats(self, stats: Any) -> None:
        recap = {}
        for host in sorted(stats.processed):
            s = stats.summarize(host)
            recap[host] = {
                "ok": s.get("ok", 0),
                "changed": s.get("changed", 0),
                "unreachable": s.get("unreachable", 0),
                "failed": s.get("failures", 0),
                "skipped": s.get("skipped", 0),
                "rescued": s.get("rescued", 0),
                "ignored": s.get("ignored", 0),
            }
        self._emit("stats", hosts=recap)

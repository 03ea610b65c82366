"""The ``manual`` executor: a human confirms, or approves, before the run goes on.

The executor does not talk to a terminal itself: it asks the run's ``operator``
(``call.services.operator``), which answers from a TTY prompt, ``--yes``, or a
confirmation recorded by ``runbook resume --confirm``. When nobody can answer now the
result's state is ``awaiting_operator`` and the engine pauses the run durably.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from runbook_engine.executors.base import ExecutorBase, Result, StepCall
from runbook_engine.gates import (
    INPUT_TYPES,
    TIMEOUT_ACTIONS,
    OperatorRequest,
    check_answer,
    parse_gate,
)


class ManualExecutor(ExecutorBase):
    """A confirmation or approval gate answered by a person."""

    key: ClassVar[str] = "manual"
    opens_gate: ClassVar[bool] = True
    probed_by_plan: ClassVar[bool] = False
    schema: ClassVar[Mapping[str, Any]] = {
        "description": "A human confirms (or approves) before the run continues.",
        "oneOf": [
            {"type": "string", "minLength": 1},
            {
                "type": "object",
                "required": ["prompt"],
                "additionalProperties": False,
                "properties": {
                    "prompt": {"type": "string"},
                    "approval": {"type": "boolean"},
                    "approvers": {"type": "array", "items": {"type": "string"}},
                    "approvals": {
                        "type": "object",
                        "description": "Quorum: `required` distinct approvers, out of `from`.",
                        "additionalProperties": False,
                        "required": ["required"],
                        "properties": {
                            "required": {"type": "integer", "minimum": 1},
                            "from": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                    "distinct_from_initiator": {"type": "boolean"},
                    "allow_yes": {"type": "boolean"},
                    "on_timeout": {"enum": list(TIMEOUT_ACTIONS)},
                    "on_reject": {"enum": list(TIMEOUT_ACTIONS)},
                    "allowed_signers": {
                        "type": "string",
                        "description": "OpenSSH allowed_signers file (relative to the runbook) mapping keys to approver names.",
                    },
                    "inputs": {
                        "type": "object",
                        "additionalProperties": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "type": {"enum": list(INPUT_TYPES)},
                                "required": {"type": "boolean"},
                                "pattern": {"type": "string"},
                                "choices": {"type": "array", "items": {"type": "string"}},
                                "description": {"type": "string"},
                            },
                        },
                    },
                },
            },
        ],
    }
    fields: ClassVar[Mapping[str, str]] = {
        "confirmed": "bool",
        "confirmed_by": "str",
        "approved_by": "list",
        "rejected": "bool",
        "at": "str",
        "inputs": "map",
        "auto": "bool",
        "timed_out": "bool",
        "awaiting_operator": "bool",
    }

    async def run(self, call: StepCall) -> Result:
        gate = parse_gate(call.render(call.spec, None))
        operator = call.services.operator
        answer = (
            None
            if operator is None
            else await operator.answer(OperatorRequest(call.step_id, gate, call.timeout))
        )
        if answer is None:
            return Result(
                ok=False,
                fields={"confirmed": False, "awaiting_operator": True},
                error="waiting for an operator",
                state="awaiting_operator",
            )
        base = {
            "confirmed_by": answer.by,
            "at": answer.at,
            "auto": answer.auto,
            "timed_out": answer.timed_out,
        }
        if answer.timed_out:
            return Result(
                ok=False,
                fields={**base, "confirmed": False},
                error="nobody answered in time",
                state="timed_out",
                on_failure=gate.on_timeout,
            )
        if answer.rejected:
            return Result(
                ok=False,
                fields={**base, "confirmed": False, "rejected": True},
                error=f"rejected by {answer.by}",
                on_failure=gate.on_reject,
            )
        if not answer.confirmed:
            return Result(
                ok=False, fields={**base, "confirmed": False}, error=f"declined by {answer.by}"
            )
        initiator = operator.initiator if operator is not None else ""
        inputs, refused = check_answer(gate, answer, initiator)
        if refused:
            return Result(ok=False, fields={**base, "confirmed": False}, error=refused)
        voters = list(dict.fromkeys(answer.voters or (answer.by,)))
        return Result(
            ok=True,
            fields={**base, "confirmed": True, "approved_by": voters, "inputs": inputs},
        )

    def describe(self, call: StepCall) -> list[str]:
        gate = parse_gate(call.render(call.spec, None))
        kind = "approval" if gate.approval else "confirm"
        count = f"{gate.required} of " if gate.required > 1 else "one of "
        who = f" by {count}{', '.join(gate.approvers)}" if gate.approvers else ""
        if gate.required > 1 and not gate.approvers:
            who = f" by {gate.required} different people"
        distinct = " (not the initiator)" if gate.distinct else ""
        return [f"{kind}{who}{distinct}: {gate.prompt}"]

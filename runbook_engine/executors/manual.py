"""The ``manual`` executor: a human confirms, or approves, before the run goes on.

The executor does not talk to a terminal itself: it asks the run's ``operator``
(``call.services.operator``), which answers from a TTY prompt, ``--yes``, or a
confirmation recorded by ``runbook resume --confirm``. When nobody can answer now the
result's state is ``awaiting_operator`` and the engine pauses the run durably.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from runbook_engine.errors import ExecutorError
from runbook_engine.executors.base import ExecutorBase, Result, StepCall

#: What ``on_timeout`` (nobody answered in time) and ``on_reject`` (an approver said
#: no) may say.
TIMEOUT_ACTIONS = ("abort", "rollback", "continue")
INPUT_TYPES = ("string", "int", "float", "bool", "choice")


@dataclass(frozen=True)
class InputSpec:
    """A typed value the operator supplies with the confirmation (e.g. a ticket id)."""

    name: str
    type: str = "string"
    required: bool = True
    pattern: str | None = None
    choices: tuple[str, ...] = ()
    description: str = ""

    def convert(self, raw: Any) -> Any:
        """The value as its type; ValueError with a readable message otherwise."""
        text = str(raw).strip()
        if self.type == "int":
            return int(text)
        if self.type == "float":
            return float(text)
        if self.type == "bool":
            if text.lower() in ("yes", "true", "y", "1"):
                return True
            if text.lower() in ("no", "false", "n", "0"):
                return False
            raise ValueError(f"expected yes or no, got {text!r}")
        if self.choices and text not in self.choices:
            raise ValueError(f"{text!r} is not one of {', '.join(self.choices)}")
        if self.pattern and not re.fullmatch(self.pattern, text):
            raise ValueError(f"{text!r} does not match {self.pattern!r}")
        return text


@dataclass(frozen=True)
class Gate:
    """The value under ``manual:`` after rendering. ``required`` distinct approvers
    (from ``approvers``, when it lists any) must approve; one reject ends the gate."""

    prompt: str
    approval: bool = False
    approvers: tuple[str, ...] = ()
    distinct: bool = False
    inputs: tuple[InputSpec, ...] = ()
    on_timeout: str = "abort"
    on_reject: str = "abort"
    allow_yes: bool = True
    required: int = 1
    allowed_signers: str | None = None


@dataclass(frozen=True)
class OperatorRequest:
    step_id: str
    gate: Gate
    timeout: float | None


@dataclass(frozen=True)
class OperatorAnswer:
    """``confirmed`` False means the operator declined; ``timed_out`` that nobody
    answered within the step's timeout."""

    by: str
    at: str
    confirmed: bool = True
    inputs: Mapping[str, Any] = field(default_factory=dict)
    timed_out: bool = False
    auto: bool = False
    #: Everyone whose approval counts toward the quorum (``by`` alone when empty).
    voters: tuple[str, ...] = ()
    #: An approver rejected: the gate ends with its ``on_reject``.
    rejected: bool = False


class Operator(Protocol):
    """Whoever can answer a gate now. ``None`` means nobody: pause the run."""

    initiator: str

    async def answer(self, request: OperatorRequest) -> OperatorAnswer | None: ...


def parse_gate(raw: Any) -> Gate:
    if isinstance(raw, str):
        return Gate(prompt=raw)
    if not isinstance(raw, Mapping) or "prompt" not in raw:
        raise ExecutorError(
            "manual: expects a prompt string or a mapping with 'prompt'",
            hint="manual: {prompt: 'Database team confirms the backup', approval: true}",
        )
    inputs = []
    for name, spec in (raw.get("inputs") or {}).items():
        spec = spec if isinstance(spec, Mapping) else {"type": str(spec)}
        kind = str(spec.get("type", "string"))
        if kind not in INPUT_TYPES:
            raise ExecutorError(
                f"manual input {name!r}: unknown type {kind!r}",
                hint=f"one of {', '.join(INPUT_TYPES)}",
            )
        inputs.append(
            InputSpec(
                name=str(name),
                type=kind,
                required=bool(spec.get("required", True)),
                pattern=spec.get("pattern"),
                choices=tuple(str(c) for c in spec.get("choices", ())),
                description=str(spec.get("description", "")),
            )
        )
    for key in ("on_timeout", "on_reject"):
        if str(raw.get(key, "abort")) not in TIMEOUT_ACTIONS:
            raise ExecutorError(
                f"manual: {key} {raw.get(key)!r} is not one of {', '.join(TIMEOUT_ACTIONS)}"
            )
    quorum = raw.get("approvals") or {}
    if not isinstance(quorum, Mapping):
        raise ExecutorError("manual: approvals expects {required: N, from: [names]}")
    if "approvers" in raw and "from" in quorum:
        raise ExecutorError(
            "manual: give the approvers once, either as approvers or as approvals.from"
        )
    approvers = tuple(str(a) for a in raw.get("approvers", quorum.get("from", ())))
    required = quorum.get("required", 1)
    if isinstance(required, bool) or not isinstance(required, int) or required < 1:
        raise ExecutorError(
            f"manual: approvals.required must be a whole number >= 1, not {required!r}"
        )
    if approvers and required > len(set(approvers)):
        raise ExecutorError(
            f"manual: approvals.required is {required} but only {len(set(approvers))} approver(s) are listed"
        )
    approval = bool(
        raw.get("approval", False)
        or approvers
        or quorum
        or raw.get("distinct_from_initiator", False)
    )
    signers = raw.get("allowed_signers")
    return Gate(
        prompt=str(raw["prompt"]),
        approval=approval,
        approvers=approvers,
        distinct=bool(raw.get("distinct_from_initiator", False)),
        inputs=tuple(inputs),
        on_timeout=str(raw.get("on_timeout", "abort")),
        on_reject=str(raw.get("on_reject", "abort")),
        allow_yes=bool(raw.get("allow_yes", not approval)),
        required=required,
        allowed_signers=str(signers) if signers else None,
    )


def check_voter(gate: Gate, name: str, initiator: str) -> str | None:
    """Why ``name`` (a verified identity) may not answer ``gate``, or None."""
    if gate.approvers and name not in gate.approvers:
        return f"{name} is not an approver (approvers: {', '.join(gate.approvers)})"
    if gate.distinct and name == initiator:
        return f"the approver must not be the initiator of the run ({initiator})"
    return None


def check_inputs(gate: Gate, given: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """(the inputs converted to their types, why they are refused or None)."""
    values: dict[str, Any] = {}
    for spec in gate.inputs:
        if spec.name not in given:
            if spec.required:
                return {}, f"input {spec.name!r} is required"
            continue
        try:
            values[spec.name] = spec.convert(given[spec.name])
        except ValueError as exc:
            return {}, f"input {spec.name!r}: {exc}"
    unknown = sorted(set(given) - {s.name for s in gate.inputs})
    if unknown:
        return {}, f"unknown input {unknown[0]!r}"
    return values, None


def check_answer(
    gate: Gate, answer: OperatorAnswer, initiator: str
) -> tuple[dict[str, Any], str | None]:
    """(converted inputs, why the answer is refused or None): every voter may answer,
    there are enough of them, and the inputs fit their types."""
    voters = tuple(dict.fromkeys(answer.voters or (answer.by,)))
    for name in voters:
        refused = check_voter(gate, name, initiator)
        if refused:
            return {}, refused
    if len(voters) < gate.required:
        return {}, f"{len(voters)} of {gate.required} required approvals"
    return check_inputs(gate, answer.inputs)


class ManualExecutor(ExecutorBase):
    """A confirmation or approval gate answered by a person."""

    key: ClassVar[str] = "manual"
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

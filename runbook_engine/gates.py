"""Gates: a person confirms, or approves, before the run goes on.

A gate is an engine concept, not one executor's: the scheduler says how to resume a
paused gate, ``resume --confirm``/``--reject``/``--input`` check votes and inputs
against it, and the console shows it. The ``manual`` executor (and any executor that
declares ``opens_gate``) parses its spec with `parse_gate` and asks the run's
`Operator`. Keeping it here lets the engine use gates without naming an executor.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from runbook_engine.errors import ExecutorError

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
    """A gate waiting for an operator, with how long it may wait."""

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


def opens_gate(executor: str) -> bool:
    """Whether steps of the executor ``executor`` are gates (its class declares
    ``opens_gate``): the engine asks the class rather than naming ``manual``."""
    from runbook_engine.executors.registry import executor_classes

    return bool(getattr(executor_classes().get(executor), "opens_gate", False))

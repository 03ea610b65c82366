"""Recursive-descent parser: tokens → AST with spans.

Hand-written rather than generated so the package needs no dependency, every node
gets its exact span, and each error can carry a hint tailored to the mistake
(``=>``, a missing ``)``, an unknown function). The grammar is in docs/predicates.md.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any, NoReturn

from runbook_engine.errors import PredicateError
from runbook_engine.predicates.functions import FUNCTIONS
from runbook_engine.predicates.lexer import (
    CHECK,
    DUR,
    EOF,
    GLOB,
    KEYWORDS,
    KW,
    NAME,
    NUM,
    OP,
    REGEX,
    SIZE,
    STEP_FUNCTIONS,
    STR,
    Token,
    tokenize,
)
from runbook_engine.predicates.nodes import (
    And,
    Arith,
    Bool,
    Call,
    Check,
    Compare,
    CountHosts,
    Duration,
    ListExpr,
    Neg,
    Node,
    Not,
    Null,
    Number,
    Or,
    Path,
    Quantifier,
    Regex,
    Size,
    StepQuery,
    String,
    depth,
)

MAX_NESTING = 32
"""Parentheses, ``not``, quantifiers and unary minus nested deeper than this are refused,
so hostile input cannot exhaust Python's stack."""
MAX_DEPTH = 100
"""Deepest expression tree accepted (long ``+`` chains grow the tree without nesting)."""

_SYMBOL_OPS = {"==": "==", "=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_WORD_OPS = frozenset({"contains", "matches", "startswith", "endswith", "in"})
_JOINERS = frozenset({"and", "or", "not", "on", "all", "any", "none", "in", "where"})
_ALL_WORDS = re.compile(r"\s*[A-Za-z_][\w-]*(?:\s+[A-Za-z_][\w-]*)+\s*")


def parse(text: str, checks: Iterable[str] = ()) -> Node:
    """Parse a predicate; ``checks`` are the named-check phrases known for this step."""
    if not isinstance(text, str):
        raise PredicateError(
            f"a predicate must be text, not {type(text).__name__}",
            hint='quote it in YAML: expect: "rc == 0"',
        )
    check_list = tuple(checks)
    try:
        tokens = tokenize(text, check_list)
        return _Parser(text, tokens).parse()
    except PredicateError as exc:
        if exc.hint is None and _ALL_WORDS.fullmatch(text) and not set(text.split()) & _JOINERS:
            exc.hint = _check_hint(text, check_list)
        raise


def _check_hint(text: str, checks: tuple[str, ...]) -> str:
    phrase = " ".join(text.split())
    if not checks:
        return f'if "{phrase}" is a named check, this step\'s executor declares none'
    close = difflib.get_close_matches(phrase, checks, n=1)
    if close:
        return f'did you mean the named check "{close[0]}"?'
    return "named checks here: " + ", ".join(sorted(checks))


def _describe(token: Token, source: str) -> str:
    if token.kind == EOF:
        return "the end of the predicate"
    return f'"{source[token.offset : token.offset + token.length]}"'


class _Parser:
    def __init__(self, source: str, tokens: list[Token]) -> None:
        self.source = source
        self.tokens = tokens
        self.index = 0
        self.nesting = 0
        self.last_end = 0

    # -- helpers -------------------------------------------------------------------

    def peek(self) -> Token:
        return self.tokens[self.index]

    def peek_next(self) -> Token:
        return self.tokens[min(self.index + 1, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != EOF:
            self.index += 1
        self.last_end = token.offset + token.length
        return token

    def at(self, kind: str, value: Any = None) -> bool:
        token = self.tokens[self.index]
        return token.kind == kind and (value is None or token.value == value)

    def make(self, cls: type[Node], start: int, *args: Any) -> Node:
        return cls(*args, offset=start, length=self.last_end - start, source=self.source)

    def fail(self, message: str, token: Token | None = None, hint: str | None = None) -> NoReturn:
        token = token or self.peek()
        raise PredicateError(
            message,
            offset=token.offset,
            length=max(token.length, 1),
            source=self.source,
            hint=hint,
        )

    def expect_op(self, value: str, context: str, hint: str | None = None) -> Token:
        if not self.at(OP, value):
            self.fail(
                f'expected "{value}" {context}, found {_describe(self.peek(), self.source)}',
                hint=hint,
            )
        return self.advance()

    def enter(self, token: Token) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            self.fail(f"predicate nests too deeply (more than {MAX_NESTING} levels)", token)

    # -- grammar -------------------------------------------------------------------

    def parse(self) -> Node:
        if self.at(EOF):
            self.fail("empty predicate", hint="write a condition such as rc == 0")
        node = self.expression()
        if not self.at(EOF):
            self.unexpected_after_complete()
        if len(self.tokens) > MAX_DEPTH and depth(node) > MAX_DEPTH:
            raise PredicateError(
                f"predicate is too complex (expression tree deeper than {MAX_DEPTH})",
                offset=0,
                length=len(self.source),
                source=self.source,
                hint="split it into several steps or decisions",
            )
        return node

    def unexpected_after_complete(self) -> NoReturn:
        token = self.peek()
        hint = None
        if token.kind == OP and token.value == ")":
            self.fail('unbalanced ")"', token, hint='remove it or add the matching "("')
        if token.kind == NAME and token.value.lower() in KEYWORDS:
            hint = f'did you mean "{token.value.lower()}"?'
        elif token.kind == KW and token.value == "on":
            hint = 'use "on all hosts" or "on any host" right after a comparison'
        elif token.kind in (NAME, NUM, STR, DUR, SIZE, CHECK) or (
            token.kind == KW and token.value in ("not", "all", "any", "none")
        ):
            hint = 'join conditions with "and" or "or"'
        self.fail(
            f"unexpected {_describe(token, self.source)} after a complete condition", token, hint
        )

    def expression(self) -> Node:
        return self.or_expr()

    def or_expr(self) -> Node:
        start = self.peek().offset
        first = self.and_expr()
        if not self.at(KW, "or"):
            return first
        operands = [first]
        while self.at(KW, "or"):
            self.advance()
            operands.append(self.and_expr())
        return self.make(Or, start, tuple(operands))

    def and_expr(self) -> Node:
        start = self.peek().offset
        first = self.not_expr()
        if not self.at(KW, "and"):
            return first
        operands = [first]
        while self.at(KW, "and"):
            self.advance()
            operands.append(self.not_expr())
        return self.make(And, start, tuple(operands))

    def not_expr(self) -> Node:
        token = self.peek()
        if token.kind == KW and token.value == "not":
            self.enter(token)
            self.advance()
            operand = self.not_expr()
            self.nesting -= 1
            return self.make(Not, token.offset, operand)
        if token.kind == KW and token.value in ("all", "any", "none"):
            self.enter(token)
            self.advance()
            if self.at(EOF) or self.at(KW, "and") or self.at(KW, "or") or self.at(OP, ")"):
                self.fail(
                    f'expected a condition after "{token.value}"',
                    hint=f"for example: {token.value} rc == 0",
                )
            body = self.not_expr()
            self.nesting -= 1
            return self.make(Quantifier, token.offset, token.value, body)
        return self.suffixed()

    def suffixed(self) -> Node:
        start = self.peek().offset
        body = self.comparison()
        if not self.at(KW, "on"):
            return body
        self.advance()
        word = self.peek()
        if word.kind == KW and word.value in ("all", "any"):
            kind = word.value
        elif word.kind == NAME and word.value in ("no", "every"):
            kind = "none" if word.value == "no" else "all"
        else:
            self.fail(
                f'expected "all hosts", "any host" or "no host" after "on", found {_describe(word, self.source)}',
                word,
            )
        self.advance()
        noun = self.peek()
        if not (noun.kind == NAME and noun.value in ("host", "hosts")):
            self.fail(
                f'expected "hosts" after "on {word.value}", found {_describe(noun, self.source)}',
                noun,
            )
        self.advance()
        return self.make(Quantifier, start, kind, body, True)

    def compare_op(self) -> str | None:
        token = self.peek()
        if token.kind == OP and token.value in _SYMBOL_OPS:
            return _SYMBOL_OPS[token.value]
        if token.kind == KW:
            if token.value in _WORD_OPS:
                return str(token.value)
            if token.value == "not":
                following = self.peek_next()
                if following.kind == KW and following.value in _WORD_OPS:
                    return f"not {following.value}"
        return None

    def comparison(self) -> Node:
        start = self.peek().offset
        left = self.sum_expr()
        op = self.compare_op()
        if op is None:
            return left
        self.advance()
        if op.startswith("not "):
            self.advance()
        right = self.sum_expr()
        if self.compare_op() is not None:
            self.fail(
                "comparisons cannot be chained",
                hint='write two comparisons joined by "and", e.g. 1 < x and x < 3',
            )
        return self.make(Compare, start, op, left, right)

    def sum_expr(self) -> Node:
        start = self.peek().offset
        left = self.product()
        while self.at(OP, "+") or self.at(OP, "-"):
            op = self.advance().value
            right = self.product()
            left = self.make(Arith, start, op, left, right)
        return left

    def product(self) -> Node:
        start = self.peek().offset
        left = self.unary()
        while self.at(OP, "*") or self.at(OP, "/"):
            op = self.advance().value
            right = self.unary()
            left = self.make(Arith, start, op, left, right)
        return left

    def unary(self) -> Node:
        token = self.peek()
        if not (token.kind == OP and token.value == "-"):
            return self.primary()
        following = self.peek_next()
        self.advance()
        if following.kind in (NUM, DUR, SIZE):
            self.advance()
            cls = {NUM: Number, DUR: Duration, SIZE: Size}[following.kind]
            return self.make(cls, token.offset, -following.value)
        self.enter(token)
        operand = self.unary()
        self.nesting -= 1
        return self.make(Neg, token.offset, operand)

    def primary(self) -> Node:
        token = self.peek()
        kind = token.kind
        if kind in (NUM, DUR, SIZE, STR, CHECK):
            self.advance()
            cls = {NUM: Number, DUR: Duration, SIZE: Size, STR: String, CHECK: Check}[kind]
            return self.make(cls, token.offset, token.value)
        if kind == REGEX:
            self.advance()
            return self.make(Regex, token.offset, *token.value)
        if kind == KW:
            if token.value in ("true", "false"):
                self.advance()
                return self.make(Bool, token.offset, token.value == "true")
            if token.value == "null":
                self.advance()
                return self.make(Null, token.offset)
            self.missing_value(token)
        if kind == OP and token.value == "(":
            self.enter(token)
            self.advance()
            inner = self.expression()
            self.expect_op(")", f'to close the "(" at position {token.offset + 1}')
            self.nesting -= 1
            return inner
        if kind == OP and token.value == "[":
            return self.list_literal(token)
        if kind == NAME:
            if self.peek_next().kind == OP and self.peek_next().value == "(":
                return self.call(token)
            return self.path(token)
        self.missing_value(token)

    def missing_value(self, token: Token) -> NoReturn:
        previous = self.tokens[self.index - 1] if self.index else None
        where = (
            f"after {_describe(previous, self.source)}" if previous is not None else "at the start"
        )
        hint = None
        if token.kind == KW and token.value in ("all", "any", "none"):
            hint = f"a quantifier goes in front of a condition: {token.value} rc == 0"
        elif token.kind == KW and token.value in _WORD_OPS | {"and", "or"}:
            hint = f'"{token.value}" needs a value on each side'
        elif token.kind == OP and token.value == "+":
            hint = "write the number without a leading +"
        if token.kind == EOF:
            self.fail(f"expected a value {where}, but the predicate ends there", token, hint)
        self.fail(f"expected a value {where}, found {_describe(token, self.source)}", token, hint)

    def list_literal(self, token: Token) -> Node:
        self.enter(token)
        self.advance()
        items: list[Node] = []
        if not self.at(OP, "]"):
            items.append(self.expression())
            while self.at(OP, ","):
                self.advance()
                items.append(self.expression())
        self.expect_op("]", f"to close the list at position {token.offset + 1}")
        self.nesting -= 1
        return self.make(ListExpr, token.offset, tuple(items))

    def call(self, name: Token) -> Node:
        function = name.value
        self.advance()
        paren = self.advance()
        if function in STEP_FUNCTIONS:
            glob = self.peek()
            if glob.kind != GLOB:
                self.fail(
                    f"expected a step id or glob in {function}(), found {_describe(glob, self.source)}",
                    hint=f"for example: {function}(verify.smoke-*)",
                )
            self.advance()
            self.expect_op(
                ")",
                f"after the glob of {function}()",
                hint=f"{function}() takes one step id or glob",
            )
            return self.make(StepQuery, name.offset, function, glob.value)
        self.enter(paren)
        node = self.count(name) if function == "count" else self.function_call(name)
        self.nesting -= 1
        return node

    def count(self, name: Token) -> Node:
        subject = self.peek()
        if not (subject.kind == NAME and subject.value == "hosts"):
            self.fail(
                f"count() counts hosts, found {_describe(subject, self.source)}",
                subject,
                hint="count(hosts where failed > 0); for the length of a list use len(rows)",
            )
        self.advance()
        where = None
        if self.at(KW, "where"):
            self.advance()
            where = self.expression()
        self.expect_op(")", "to close count(", hint="count(hosts where failed > 0)")
        return self.make(CountHosts, name.offset, where)

    def function_call(self, name: Token) -> Node:
        function = FUNCTIONS.get(name.value)
        if function is None:
            known = sorted([*FUNCTIONS, *STEP_FUNCTIONS, "count"])
            close = difflib.get_close_matches(name.value, known, n=1)
            hint = f'did you mean "{close[0]}"?' if close else "functions: " + ", ".join(known)
            self.fail(f'unknown function "{name.value}"', name, hint)
        args: list[Node] = []
        if not self.at(OP, ")"):
            args.append(self.expression())
            while self.at(OP, ","):
                self.advance()
                args.append(self.expression())
        self.expect_op(")", f"to close {name.value}(")
        count = len(args)
        if count < function.min_args or (
            function.max_args is not None and count > function.max_args
        ):
            wanted = (
                f"{function.min_args}"
                if function.max_args == function.min_args
                else f"at least {function.min_args}"
                if function.max_args is None
                else f"{function.min_args} to {function.max_args}"
            )
            raise PredicateError(
                f"{name.value}() takes {wanted} argument{'s' if wanted != '1' else ''}, got {count}",
                offset=name.offset,
                length=self.last_end - name.offset,
                source=self.source,
                hint=f"for example: {function.example}",
            )
        return self.make(Call, name.offset, name.value, tuple(args))

    def path(self, name: Token) -> Node:
        self.advance()
        segments: list[str | int] = []
        while True:
            if self.at(OP, "."):
                self.advance()
                if not self.at(NAME):
                    self.fail(
                        f'expected a field name after ".", found {_describe(self.peek(), self.source)}'
                    )
                segments.append(self.advance().value)
            elif self.at(OP, "["):
                open_bracket = self.advance()
                segments.append(self.index_key())
                self.expect_op("]", f'to close the "[" at position {open_bracket.offset + 1}')
            else:
                break
        return self.make(Path, name.offset, name.value, tuple(segments))

    def index_key(self) -> str | int:
        token = self.peek()
        negative = token.kind == OP and token.value == "-"
        if negative:
            self.advance()
            token = self.peek()
        if token.kind == NUM and isinstance(token.value, int):
            self.advance()
            return -token.value if negative else token.value
        if token.kind == STR and not negative:
            self.advance()
            return str(token.value)
        self.fail(
            f"expected a whole number or a quoted key inside [ ], found {_describe(token, self.source)}",
            token,
            hint='for example rows[0] or hosts["app-01"]',
        )

"""Propositional formulas: the toy prover's terms, with their parser, printer and truth tables.

Syntax, loosest binding first (every binary connective is right-associative)::

    formula := A <=> B | A ==> B | A \\/ B | A /\\ B | ~A | (A) | T | F | atom
    atom    := [a-z][a-z0-9_]*

``p /\\ q ==> q \\/ r`` reads ``(p /\\ q) ==> (q \\/ r)`` and ``p ==> q ==> r`` reads
``p ==> (q ==> r)``. ``show`` prints the canonical form (single spaces, only the parentheses
the precedence needs), and ``parse(show(f)) == f``: a formula's printed text is its identity.

Formula text may come from a trace file or a model, so the parser is iterative and bounded
(``MAX_FORMULA_CHARS``, ``MAX_DEPTH``): every recursive walk over a parsed formula stays far
below Python's recursion limit, whatever the input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeAlias

MAX_FORMULA_CHARS = 1_000
MAX_DEPTH = 100

AND, OR, IMP, IFF, NOT = "/\\", "\\/", "==>", "<=>", "~"
BINARY = (IFF, IMP, OR, AND)
"""The binary connectives, loosest binding first."""
CONNECTIVES = ("atom", "T", "F", NOT, AND, OR, IMP, IFF)
"""Every top-level shape a formula can have (see ``connective``)."""

_PRECEDENCE = {IFF: 1, IMP: 2, OR: 3, AND: 4}
_ATOMIC = 6  # atoms, constants and negations never need parentheses as operands
_TOKEN = re.compile(r"\s*(?:(<=>|==>|\\/|/\\|~|\(|\))|([a-z][a-z0-9_]*)|([TF])(?![A-Za-z0-9_]))")
_ATOM = re.compile(r"[a-z][a-z0-9_]*")


class FormulaError(ValueError):
    """Text that is not a formula of the toy syntax; the message says where and why."""


@dataclass(frozen=True)
class Atom:
    """A propositional variable."""

    name: str


@dataclass(frozen=True)
class Const:
    """``T`` (true) or ``F`` (false)."""

    value: bool


@dataclass(frozen=True)
class Not:
    arg: Formula


@dataclass(frozen=True)
class Binary:
    """``left op right`` for one of ``BINARY``."""

    op: str
    left: Formula
    right: Formula


Formula: TypeAlias = Atom | Const | Not | Binary

TRUE, FALSE = Const(True), Const(False)


def connective(formula: Formula) -> str:
    """The formula's top-level shape: one of ``CONNECTIVES``."""
    if isinstance(formula, Atom):
        return "atom"
    if isinstance(formula, Const):
        return "T" if formula.value else "F"
    if isinstance(formula, Not):
        return NOT
    return formula.op


def children(formula: Formula) -> tuple[Formula, ...]:
    """The immediate subformulas, left to right."""
    if isinstance(formula, Not):
        return (formula.arg,)
    if isinstance(formula, Binary):
        return (formula.left, formula.right)
    return ()


def _precedence(formula: Formula) -> int:
    return _PRECEDENCE[formula.op] if isinstance(formula, Binary) else _ATOMIC


def show(formula: Formula) -> str:
    """The canonical text of ``formula`` (see the module docstring)."""
    if isinstance(formula, Atom):
        return formula.name
    if isinstance(formula, Const):
        return "T" if formula.value else "F"
    if isinstance(formula, Not):
        inner = show(formula.arg)
        return f"~({inner})" if isinstance(formula.arg, Binary) else f"~{inner}"
    prec = _PRECEDENCE[formula.op]
    left, right = show(formula.left), show(formula.right)
    # Right-associative: an equally binding left operand needs parentheses, a right one not.
    if _precedence(formula.left) <= prec:
        left = f"({left})"
    if _precedence(formula.right) < prec:
        right = f"({right})"
    return f"{left} {formula.op} {right}"


def _quote(text: str) -> str:
    """``text`` for an error message, cut short: formulas can be long."""
    return repr(text) if len(text) <= 60 else repr(text[:57]) + "..."


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    end = len(text.rstrip())
    while position < end:
        match = _TOKEN.match(text, position)
        if match is None:
            snippet = text[position : position + 10].strip()
            raise FormulaError(f"unexpected {snippet!r} at character {position} of {_quote(text)}")
        tokens.append(match.group(match.lastindex or 0))
        position = match.end()
    return tokens


def _reduce(operands: list[Formula], operators: list[str], above: int) -> None:
    """Combine the trailing operators that bind tighter than ``above`` (right to left)."""
    while operators and _PRECEDENCE[operators[-1]] > above:
        right = operands.pop()
        operands.append(Binary(operators.pop(), operands.pop(), right))


@lru_cache(maxsize=65_536)
def parse(text: str) -> Formula:
    """The formula that ``text`` writes; FormulaError naming the problem otherwise.

    An operator-precedence parser with explicit stacks (no recursion), cached: the same goals
    are parsed again and again during a search.
    """
    if not isinstance(text, str):
        raise FormulaError(f"a formula must be a string, got {type(text).__name__}")
    if len(text) > MAX_FORMULA_CHARS:
        raise FormulaError(f"formula longer than {MAX_FORMULA_CHARS} characters")
    tokens = _tokens(text)
    if not tokens:
        raise FormulaError("empty formula")
    # One frame per open parenthesis: its operands, operators and the count of negations
    # written before the operand being read.
    frames: list[tuple[list[Formula], list[str], list[int]]] = [([], [], [0])]
    expect_operand = True
    for token in tokens:
        operands, operators, negations = frames[-1]
        if expect_operand:
            if token == NOT:
                negations[-1] += 1
            elif token == "(":
                if len(frames) > MAX_DEPTH:
                    raise FormulaError(
                        f"parentheses nested deeper than {MAX_DEPTH} in {_quote(text)}"
                    )
                frames.append(([], [], [0]))
            elif token in ("T", "F"):
                _push(frames[-1], Const(token == "T"))
                expect_operand = False
            elif _ATOM.fullmatch(token):
                _push(frames[-1], Atom(token))
                expect_operand = False
            else:
                raise FormulaError(f"expected a formula before {token!r} in {_quote(text)}")
        elif token in _PRECEDENCE:
            # Right-associative: only strictly tighter operators are reduced first.
            _reduce(operands, operators, _PRECEDENCE[token])
            operators.append(token)
            expect_operand = True
        elif token == ")":
            if len(frames) == 1:
                raise FormulaError(f"unbalanced ')' in {_quote(text)}")
            _reduce(operands, operators, 0)
            frames.pop()
            _push(frames[-1], operands[0])
        else:
            raise FormulaError(f"expected a connective or ')' before {token!r} in {_quote(text)}")
    if expect_operand:
        raise FormulaError(f"formula ends where an operand is expected: {_quote(text)}")
    if len(frames) > 1:
        raise FormulaError(f"unbalanced '(' in {_quote(text)}")
    operands, operators, _ = frames[0]
    _reduce(operands, operators, 0)
    formula = operands[0]
    if _depth(formula) > MAX_DEPTH:
        raise FormulaError(f"formula nested deeper than {MAX_DEPTH}: {_quote(text)}")
    return formula


def _push(frame: tuple[list[Formula], list[str], list[int]], operand: Formula) -> None:
    """Push an operand, applying the negations written before it."""
    operands, _, negations = frame
    for _ in range(negations[-1]):
        operand = Not(operand)
    negations[-1] = 0
    operands.append(operand)


def _depth(formula: Formula) -> int:
    """The nesting depth, without recursion (a just-parsed formula may be arbitrarily deep)."""
    deepest = 0
    stack = [(formula, 0)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children(node))
    return deepest


def atoms(formula: Formula) -> frozenset[str]:
    """The names of the atoms that occur in ``formula``."""
    if isinstance(formula, Atom):
        return frozenset((formula.name,))
    found: frozenset[str] = frozenset()
    for child in children(formula):
        found |= atoms(child)
    return found


def truth_table(formula: Formula, names: tuple[str, ...]) -> int:
    """The formula's truth table over the atoms ``names``, as a bit mask: bit ``i`` is its value
    under valuation ``i``, where atom ``names[k]`` is true when bit ``k`` of ``i`` is set.

    One bitwise pass over the formula computes every row at once.
    """
    rows = 1 << len(names)
    full = (1 << rows) - 1
    columns = {name: sum(1 << i for i in range(rows) if i >> k & 1) for k, name in enumerate(names)}

    def table(f: Formula) -> int:
        if isinstance(f, Atom):
            return columns[f.name]
        if isinstance(f, Const):
            return full if f.value else 0
        if isinstance(f, Not):
            return full & ~table(f.arg)
        left, right = table(f.left), table(f.right)
        if f.op == AND:
            return left & right
        if f.op == OR:
            return left | right
        if f.op == IMP:
            return full & (~left | right)
        return full & ~(left ^ right)

    return table(formula)


def is_tautology(formula: Formula) -> bool:
    """Whether ``formula`` is true under every valuation of its atoms (a truth table)."""
    names = tuple(sorted(atoms(formula)))
    return truth_table(formula, names) == (1 << (1 << len(names))) - 1


def size(formula: Formula) -> int:
    """The number of connectives in ``formula``."""
    return sum(1 + size(child) for child in children(formula))

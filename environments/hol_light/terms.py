"""HOList-style s-expressions for HOL Light terms, in Python.

HOL Light writes every goal twice: as its own printed string (for people and text models) and
as a typed s-expression (exact; for round trips and the graph/sequence encoders):

    (v TYPE name)   variable          (c TYPE name)   constant
    (a F X)         application       (l VAR BODY)    abstraction
    (tyvar A)       type variable     (NAME ARGS...)  type constructor, e.g. (fun (num) (bool))

Names with spaces, parentheses, quotes or backslashes are written as JSON-style strings.
"""

from __future__ import annotations

import json
import re
from typing import TypeAlias

Sexp: TypeAlias = str | list["Sexp"]

_TOKEN = re.compile(r'\s*(?:(\()|(\))|("(?:[^"\\]|\\.)*")|([^\s()"\\]+))')


class SexpError(ValueError):
    """Text that is not a well-formed s-expression."""


def parse_sexp(text: str) -> Sexp:
    """Parse one s-expression into nested lists of atom strings."""
    stack: list[list[Sexp]] = [[]]
    pos, end = 0, len(text.rstrip())
    while pos < end:
        match = _TOKEN.match(text, pos)
        if match is None:
            raise SexpError(f"unexpected character {text[pos]!r} at offset {pos}")
        pos = match.end()
        opening, closing, string, atom = match.groups()
        if opening:
            stack.append([])
        elif closing:
            if len(stack) == 1:
                raise SexpError(f"unbalanced ')' at offset {match.start(2)}")
            done = stack.pop()
            stack[-1].append(done)
        elif string:
            stack[-1].append(json.loads(string))
        else:
            stack[-1].append(atom)
    if len(stack) != 1:
        raise SexpError("unbalanced '(': the s-expression is not closed")
    if len(stack[0]) != 1:
        raise SexpError(f"expected one s-expression, found {len(stack[0])}")
    return stack[0][0]


def format_atom(name: str) -> str:
    if name and re.fullmatch(r'[^\s()"\\]+', name) and name.isascii() and name.isprintable():
        return name
    return json.dumps(name)


def format_sexp(sexp: Sexp) -> str:
    """Inverse of ``parse_sexp``: ``format_sexp(parse_sexp(s)) == s`` for canonical ``s``."""
    if isinstance(sexp, str):
        return format_atom(sexp)
    return "(" + " ".join(format_sexp(item) for item in sexp) + ")"


def canonical_sexp(text: str) -> str:
    """Validate untrusted s-expression text and return it in canonical spacing."""
    return format_sexp(parse_sexp(text))


def is_term(sexp: Sexp) -> bool:
    """Whether ``sexp`` has the shape of a typed HOL term (not checking types)."""
    if not isinstance(sexp, list) or len(sexp) != 3 or not isinstance(sexp[0], str):
        return False
    tag, first, second = sexp
    if tag in ("v", "c"):
        return _is_type(first) and isinstance(second, str)
    if tag == "a":
        return is_term(first) and is_term(second)
    if tag == "l":
        return isinstance(first, list) and first[:1] == ["v"] and is_term(first) and is_term(second)
    return False


def _is_type(sexp: Sexp) -> bool:
    if not isinstance(sexp, list) or not sexp or not isinstance(sexp[0], str):
        return False
    if sexp[0] == "tyvar":
        return len(sexp) == 2 and isinstance(sexp[1], str)
    return all(_is_type(arg) for arg in sexp[1:])

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

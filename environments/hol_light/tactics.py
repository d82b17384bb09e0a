"""The HOL Light tactic language that untrusted text (a model's output) may use.

A tactic string is parsed against the HOList tactic grammar by a small hand-written lexer and
recursive-descent parser. Only a parsed expression is sent to HOL Light, as an s-expression
(``render_request``) that the OCaml helper ``itp.ml`` interprets against fixed tables of
tactics, conversions and theorems; it is never compiled as OCaml. Everything else is refused
with a ``TacticRejected`` whose message names the problem.

Surface syntax (HOL Light's)::

    expr  := atom (('THEN' | 'ORELSE') atom)*      equal precedence, left-associative
    atom  := '(' expr ')' | NAME arg*              arguments as in TACTIC_SIGNATURES
    THEOREM      := IDENT | '(' IDENT ')'
    THEOREM_LIST := '[' ']' | '[' IDENT (';' IDENT)* ']'
    TERM         := '`' printable ASCII, no backquote '`'
    CONV, CONV_TRANSFORMER := a name in CONVERSIONS, CONV_TRANSFORMERS
    STRING       := '"' [A-Za-z0-9_ ]* '"'          (LABEL_TAC's label)

SPEC_TAC takes its two terms as a pair: ``SPEC_TAC (`t1`, `t2`)``.
"""

from __future__ import annotations

from collections.abc import Container, Iterator
from dataclasses import dataclass
from enum import Enum

MAX_INPUT_CHARS = 20_000
MAX_TERM_CHARS = 4_000
# Bounds that keep every recursive walk over an expression (the parser, dataclass ==, hash and
# repr) far below Python's recursion limit, whatever the input.
MAX_TACTICS = 100
MAX_NESTING = 50


class TacticRejected(ValueError):
    """A tactic string (or expression) outside the allowed language; the reason is in str(e)."""


# ---------------------------------------------------------------------------------------------
# Expressions.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThmArg:
    """One theorem, by its name in the theorem database."""

    name: str


@dataclass(frozen=True)
class ThmListArg:
    """A list of theorems, by name."""

    names: tuple[str, ...]


@dataclass(frozen=True)
class TermArg:
    """A HOL Light term, kept verbatim as the text between backquotes."""

    text: str


@dataclass(frozen=True)
class ConvArg:
    """A conversion from CONVERSIONS."""

    name: str


@dataclass(frozen=True)
class ConvTransformerArg:
    """A conversion transformer (conv -> conv) from CONV_TRANSFORMERS."""

    name: str


@dataclass(frozen=True)
class StringArg:
    """A plain string (LABEL_TAC's label)."""

    text: str


Arg = ThmArg | ThmListArg | TermArg | ConvArg | ConvTransformerArg | StringArg


@dataclass(frozen=True)
class Tactic:
    """One tactic from TACTIC_SIGNATURES applied to its arguments."""

    name: str
    args: tuple[Arg, ...]


@dataclass(frozen=True)
class Then:
    """``first THEN second``: second is applied to every subgoal of first."""

    first: TacticExpr
    second: TacticExpr


@dataclass(frozen=True)
class OrElse:
    """``first ORELSE second``: second is tried if first fails."""

    first: TacticExpr
    second: TacticExpr


TacticExpr = Tactic | Then | OrElse


# ---------------------------------------------------------------------------------------------
# The allowed language: these tables must agree with those in itp.ml.
# ---------------------------------------------------------------------------------------------


class ArgKind(Enum):
    """The kinds of tactic arguments."""

    THEOREM = "theorem"
    THEOREM_LIST = "theorem list"
    TERM = "term"
    CONV = "conversion"
    CONV_TRANSFORMER = "conversion transformer"
    STRING = "string"


_ARG_CLASS: dict[ArgKind, type] = {
    ArgKind.THEOREM: ThmArg,
    ArgKind.THEOREM_LIST: ThmListArg,
    ArgKind.TERM: TermArg,
    ArgKind.CONV: ConvArg,
    ArgKind.CONV_TRANSFORMER: ConvTransformerArg,
    ArgKind.STRING: StringArg,
}

_NO_ARGS: tuple[ArgKind, ...] = ()
_K = ArgKind

# fmt: off
TACTIC_SIGNATURES: dict[str, tuple[ArgKind, ...]] = {
    **dict.fromkeys(
        ["ARITH_TAC", "REAL_ARITH_TAC", "INT_ARITH_TAC", "EQ_TAC", "ITAUT_TAC", "DISCH_TAC",
         "MK_COMB_TAC", "ABS_TAC", "DISJ1_TAC", "DISJ2_TAC", "ANTS_TAC", "CONJ_TAC", "REFL_TAC",
         "GEN_TAC", "STRIP_TAC", "INDUCT_TAC", "LIST_INDUCT_TAC", "TAUT_TAC", "ASM_ARITH_TAC",
         "ASM_REAL_ARITH_TAC", "ASM_INT_ARITH_TAC", "COND_CASES_TAC"],
        _NO_ARGS,
    ),
    **dict.fromkeys(
        ["EXISTS_TAC", "X_GEN_TAC", "RAW_SUBGOAL_TAC", "UNDISCH_TAC", "ASM_CASES_TAC"],
        (_K.TERM,),
    ),
    **dict.fromkeys(
        ["DISJ_CASES_TAC", "MATCH_ACCEPT_TAC", "MP_TAC", "RAW_CONJUNCTS_TAC", "ACCEPT_TAC",
         "MATCH_MP_TAC", "SUBST1_TAC", "CONTR_TAC", "CHOOSE_TAC"],
        (_K.THEOREM,),
    ),
    **dict.fromkeys(
        ["REWRITE_TAC", "PURE_REWRITE_TAC", "PURE_ONCE_REWRITE_TAC", "ONCE_REWRITE_TAC",
         "ASM_REWRITE_TAC", "SIMP_TAC", "ASM_SIMP_TAC", "ASM_MESON_TAC", "MESON_TAC",
         "ASM_METIS_TAC", "SET_TAC"],
        (_K.THEOREM_LIST,),
    ),
    "X_CHOOSE_TAC": (_K.TERM, _K.THEOREM),
    "SPEC_TAC": (_K.TERM, _K.TERM),
    "TRANS_TAC": (_K.THEOREM, _K.TERM),
    "LABEL_TAC": (_K.STRING, _K.THEOREM),
    "CONV_TAC": (_K.CONV,),
    "GEN_REWRITE_TAC": (_K.CONV_TRANSFORMER, _K.THEOREM_LIST),
}

CONVERSIONS: frozenset[str] = frozenset([
    "ARITH_RULE", "NUM_REDUCE_CONV", "REAL_RAT_REDUCE_CONV", "INT_REDUCE_CONV", "BETA_CONV",
    "ETA_CONV", "SYM_CONV", "TAUT", "NNF_CONV", "CNF_CONV", "DNF_CONV", "LAMBDA_ELIM_CONV",
    "REAL_ARITH", "NUM_RING", "REAL_RING", "PRENEX_CONV", "CONTRAPOS_CONV", "GEN_BETA_CONV",
])

CONV_TRANSFORMERS: frozenset[str] = frozenset([
    "ONCE_DEPTH_CONV", "DEPTH_CONV", "REDEPTH_CONV", "TOP_DEPTH_CONV", "TOP_SWEEP_CONV",
    "LAND_CONV", "RAND_CONV", "RATOR_CONV", "BINDER_CONV", "ABS_CONV", "BINOP_CONV", "SUB_CONV",
    "I",
])

# HOList's tactic ids (DeepHOL's tactic vocabulary) for the tactics in our set.
HOLIST_TACTIC_IDS: dict[str, int] = {
    "EXISTS_TAC": 0, "ARITH_TAC": 1, "DISJ_CASES_TAC": 2, "REAL_ARITH_TAC": 4,
    "REWRITE_TAC": 5, "MATCH_ACCEPT_TAC": 6, "EQ_TAC": 7, "X_GEN_TAC": 8,
    "RAW_SUBGOAL_TAC": 10, "ITAUT_TAC": 11, "UNDISCH_TAC": 12, "DISCH_TAC": 13,
    "ASM_METIS_TAC": 14, "MP_TAC": 15, "RAW_CONJUNCTS_TAC": 16, "ACCEPT_TAC": 18,
    "MK_COMB_TAC": 19, "PURE_REWRITE_TAC": 20, "ABS_TAC": 21, "MATCH_MP_TAC": 22,
    "DISJ2_TAC": 23, "PURE_ONCE_REWRITE_TAC": 25, "SUBST1_TAC": 26, "CONV_TAC": 27,
    "SIMP_TAC": 28, "ANTS_TAC": 29, "CONTR_TAC": 30, "CONJ_TAC": 31, "ASM_MESON_TAC": 32,
    "REFL_TAC": 33, "X_CHOOSE_TAC": 34, "DISJ1_TAC": 35, "SPEC_TAC": 36, "LABEL_TAC": 37,
    "ONCE_REWRITE_TAC": 38, "GEN_REWRITE_TAC": 39, "TRANS_TAC": 40,
}

# HOList ids of tactics that exist only in DeepHOL's HOL Light fork; we leave them out.
OMITTED_HOLIST_TACTICS: dict[int, str] = {
    3: "RAW_POP_TAC", 9: "BACKCHAIN_TAC", 17: "REAL_ARITH_TAC2", 24: "RAW_POP_ALL_TAC",
}

# Never theorem names: refusing them gives a clear message for OCaml code posing as a name.
_OCAML_KEYWORDS = frozenset([
    "and", "as", "assert", "asr", "begin", "class", "constraint", "do", "done", "downto", "else",
    "end", "exception", "external", "false", "for", "fun", "function", "functor", "if", "in",
    "include", "inherit", "initializer", "land", "lazy", "let", "lor", "lsl", "lsr", "lxor",
    "match", "method", "mod", "module", "mutable", "new", "nonrec", "object", "of", "open", "or",
    "private", "rec", "sig", "struct", "then", "to", "true", "try", "type", "val", "virtual",
    "when", "while", "with",
])
# fmt: on

# Tactics whose arguments are written as one OCaml tuple: SPEC_TAC (`t1`, `t2`).
_TUPLED_TACTICS = frozenset({"SPEC_TAC"})

_OPERATORS = frozenset({"THEN", "ORELSE"})

_IDENT_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_IDENT_CHARS = _IDENT_START | frozenset("0123456789'")
_LABEL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_ ")
_WHITESPACE = frozenset(" \t\n\r")


def _char_name(c: str) -> str:
    """A character for a message: quoted if printable ASCII, else its code point."""
    if 32 <= ord(c) < 127:
        return repr(c)
    return f"U+{ord(c):04X}"


def _shorten(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters for a message."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_ident(name: str) -> bool:
    return bool(name) and name[0] in _IDENT_START and all(c in _IDENT_CHARS for c in name)


def _term_problem(text: str) -> str | None:
    """Why ``text`` may not be a term (None if it may)."""
    if not text.strip():
        return "empty term"
    if len(text) > MAX_TERM_CHARS:
        return f"term longer than {MAX_TERM_CHARS} characters ({len(text)})"
    for i, c in enumerate(text):
        if c == "`":
            return f"term contains a backquote at index {i}"
        if not 32 <= ord(c) < 127:
            kind = "non-ASCII" if ord(c) >= 127 else "control"
            return (
                f"term contains a {kind} character {_char_name(c)} at index {i}"
                " (terms must be printable ASCII)"
            )
    return None


def _label_problem(text: str) -> str | None:
    """Why ``text`` may not be a LABEL_TAC label (None if it may)."""
    for i, c in enumerate(text):
        if c not in _LABEL_CHARS:
            return (
                f"invalid character {_char_name(c)} at index {i} of string"
                " (only letters, digits, '_' and spaces are allowed)"
            )
    return None


def is_theorem_name(name: str) -> bool:
    """Whether ``name`` may stand as a theorem argument of a tactic (e.g. not ``Mod.thm``)."""
    return _theorem_name_problem(name) is None


def _theorem_name_problem(name: str) -> str | None:
    """Why ``name`` may not be a theorem name, syntactically (None if it may)."""
    if not _is_ident(name):
        return f"invalid theorem name {_shorten(name)!r}"
    if name in _OCAML_KEYWORDS:
        return f"'{name}' is an OCaml keyword, not a theorem name"
    if name in _OPERATORS:
        return f"'{name}' is a tactical, not a theorem name"
    return None


# ---------------------------------------------------------------------------------------------
# Lexer.
# ---------------------------------------------------------------------------------------------


class _Tok(Enum):
    IDENT = "identifier"
    TERM = "term"
    STRING = "string"
    LPAREN = "'('"
    RPAREN = "')'"
    LBRACK = "'['"
    RBRACK = "']'"
    SEMI = "';'"
    COMMA = "','"
    EOF = "end of input"


@dataclass(frozen=True)
class _Token:
    kind: _Tok
    text: str  # an identifier's name, a term's or string's contents; "" otherwise
    pos: int  # offset of the token's first character in the input

    def describe(self) -> str:
        if self.kind is _Tok.IDENT:
            return f"'{_shorten(self.text)}'"
        if self.kind is _Tok.TERM:
            return f"term `{_shorten(self.text)}`"
        if self.kind is _Tok.STRING:
            return f'string "{self.text}"'
        return self.kind.value


_PUNCTUATION = {
    "(": _Tok.LPAREN,
    ")": _Tok.RPAREN,
    "[": _Tok.LBRACK,
    "]": _Tok.RBRACK,
    ";": _Tok.SEMI,
    ",": _Tok.COMMA,
}

# Character sequences that are OCaml, never tactic syntax, with the reason given for them.
_OCAML_SEQUENCES = {
    ";;": "unexpected ';;' at offset {pos} (a tactic is one expression, not OCaml phrases)",
    "(*": "unexpected '(*' at offset {pos} (OCaml comments are not allowed)",
    "{|": "unexpected '{{|' at offset {pos} (OCaml quoted strings are not allowed)",
}


def _lex(text: str) -> Iterator[_Token]:
    """Tokens of ``text`` in order, ending with EOF; raises TacticRejected at the first bad one.

    Lazy, so that the parser reports whichever problem comes first in the text.
    """
    n = len(text)
    i = 0
    while True:
        while i < n and text[i] in _WHITESPACE:
            i += 1
        if i >= n:
            yield _Token(_Tok.EOF, "", n)
            return
        c = text[i]
        start = i
        if text[i : i + 2] in _OCAML_SEQUENCES:
            raise TacticRejected(_OCAML_SEQUENCES[text[i : i + 2]].format(pos=i))
        if c in _IDENT_START:
            i += 1
            while i < n and text[i] in _IDENT_CHARS:
                i += 1
            yield _Token(_Tok.IDENT, text[start:i], start)
        elif c in _PUNCTUATION:
            i += 1
            yield _Token(_PUNCTUATION[c], "", start)
        elif c == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise TacticRejected(
                    f"unterminated term: the backquote at offset {start} is never closed"
                )
            body = text[i + 1 : end]
            problem = _term_problem(body)
            if problem is not None:
                raise TacticRejected(f"{problem}, in the term at offset {start}")
            i = end + 1
            yield _Token(_Tok.TERM, body, start)
        elif c == '"':
            end = text.find('"', i + 1)
            body = text[i + 1 : end] if end >= 0 else text[i + 1 :]
            problem = _label_problem(body)
            if problem is not None:
                raise TacticRejected(f"{problem} at offset {start}")
            if end < 0:
                raise TacticRejected(
                    f"unterminated string: the '\"' at offset {start} is never closed"
                )
            i = end + 1
            yield _Token(_Tok.STRING, body, start)
        elif c == "\\":
            raise TacticRejected(
                f"unexpected character '\\' at offset {i}"
                " (backslashes are only allowed inside terms)"
            )
        elif c == ".":
            raise TacticRejected(
                f"unexpected character '.' at offset {i}"
                " (module paths and fields are not allowed; '.' may only appear inside terms)"
            )
        else:
            raise TacticRejected(f"unexpected character {_char_name(c)} at offset {i}")


# ---------------------------------------------------------------------------------------------
# Parser.
# ---------------------------------------------------------------------------------------------


def _describe_signature(name: str) -> str:
    kinds = TACTIC_SIGNATURES[name]
    if not kinds:
        return f"{name} takes no arguments"
    plural = "argument" if len(kinds) == 1 else "arguments"
    return f"{name} takes {len(kinds)} {plural}: " + ", ".join(k.value for k in kinds)


class _Parser:
    def __init__(
        self,
        text: str,
        theorem_names: Container[str] | None,
        database_names: Container[str] | None,
    ) -> None:
        self._tokens = _lex(text)
        self._peek = next(self._tokens)
        self._theorem_names = theorem_names
        self._database_names = database_names
        self._tactics = 0
        # The last tactic whose arguments were just parsed, for "extra argument" messages.
        self._last_tactic: _Token | None = None

    def _advance(self) -> _Token:
        token = self._peek
        if token.kind is not _Tok.EOF:
            self._peek = next(self._tokens)
        return token

    def parse(self) -> TacticExpr:
        if self._peek.kind is _Tok.EOF:
            raise TacticRejected("empty tactic")
        expr = self._expr(depth=0)
        token = self._peek
        if token.kind is _Tok.RPAREN:
            raise TacticRejected(f"unbalanced parenthesis: unexpected ')' at offset {token.pos}")
        if token.kind is not _Tok.EOF:
            raise TacticRejected(self._unexpected_after_atom(token, "end of input"))
        return expr

    def _unexpected_after_atom(self, token: _Token, alternative: str) -> str:
        message = f"unexpected {token.describe()} at offset {token.pos}"
        last = self._last_tactic
        if last is not None:
            return (
                f"{message} after {last.text} ({_describe_signature(last.text)};"
                f" tactics are joined with THEN or ORELSE)"
            )
        return f"{message}: expected THEN, ORELSE or {alternative}"

    def _expr(self, depth: int) -> TacticExpr:
        left = self._atom(depth)
        while self._peek.kind is _Tok.IDENT and self._peek.text in _OPERATORS:
            op = self._advance().text
            right = self._atom(depth)
            left = Then(left, right) if op == "THEN" else OrElse(left, right)
        return left

    def _atom(self, depth: int) -> TacticExpr:
        token = self._peek
        self._last_tactic = None
        if token.kind is _Tok.LPAREN:
            if depth >= MAX_NESTING:
                raise TacticRejected(
                    f"parentheses nested deeper than {MAX_NESTING} at offset {token.pos}"
                )
            self._advance()
            expr = self._expr(depth + 1)
            close = self._peek
            if close.kind is _Tok.EOF:
                raise TacticRejected(
                    f"unbalanced parenthesis: the '(' at offset {token.pos} is never closed"
                )
            if close.kind is not _Tok.RPAREN:
                raise TacticRejected(self._unexpected_after_atom(close, "')'"))
            self._advance()
            self._last_tactic = None
            return expr
        if token.kind is not _Tok.IDENT:
            raise TacticRejected(f"expected a tactic at offset {token.pos}, got {token.describe()}")
        name = token.text
        if name in _OPERATORS:
            raise TacticRejected(f"expected a tactic before {name} at offset {token.pos}")
        if name not in TACTIC_SIGNATURES:
            hint = ""
            if name in CONVERSIONS or name in CONV_TRANSFORMERS:
                hint = " (conversions are applied with CONV_TAC or GEN_REWRITE_TAC)"
            elif name in _OCAML_KEYWORDS:
                hint = " (OCaml code is not allowed)"
            raise TacticRejected(f"unknown tactic '{_shorten(name)}' at offset {token.pos}{hint}")
        self._tactics += 1
        if self._tactics > MAX_TACTICS:
            raise TacticRejected(f"more than {MAX_TACTICS} tactics in one expression")
        self._advance()
        args = self._arguments(name)
        self._last_tactic = token
        return Tactic(name, args)

    def _arguments(self, name: str) -> tuple[Arg, ...]:
        kinds = TACTIC_SIGNATURES[name]
        if name not in _TUPLED_TACTICS:
            return tuple(self._argument(name, kind) for kind in kinds)
        open_ = self._peek
        if open_.kind is not _Tok.LPAREN:
            raise TacticRejected(
                f"expected '(' after {name} at offset {open_.pos}, got {open_.describe()}"
                f" ({name} takes a pair: (`term`, `term`))"
            )
        self._advance()
        args: list[Arg] = []
        for index, kind in enumerate(kinds):
            if index > 0:
                self._expect(_Tok.COMMA, f"in {name}'s pair", open_)
            args.append(self._argument(name, kind))
        self._expect(_Tok.RPAREN, f"to close {name}'s pair", open_)
        return tuple(args)

    def _expect(self, kind: _Tok, where: str, opener: _Token) -> None:
        token = self._peek
        if token.kind is kind:
            self._advance()
            return
        if token.kind is _Tok.EOF:
            raise TacticRejected(
                f"unbalanced parenthesis: the '(' at offset {opener.pos} is never closed"
            )
        raise TacticRejected(
            f"expected {kind.value} {where} at offset {token.pos}, got {token.describe()}"
        )

    def _argument(self, tactic: str, kind: ArgKind) -> Arg:
        token = self._peek
        got = f"at offset {token.pos}, got {token.describe()}"
        if kind is ArgKind.THEOREM:
            if token.kind is _Tok.IDENT:
                return ThmArg(self._theorem_name(tactic))
            if token.kind is _Tok.LPAREN:
                self._advance()
                name = self._theorem_name(tactic)
                self._expect(_Tok.RPAREN, f"after theorem name '{name}'", token)
                return ThmArg(name)
            raise TacticRejected(f"expected a theorem after {tactic} {got}")
        if kind is ArgKind.THEOREM_LIST:
            return self._theorem_list(tactic)
        if kind is ArgKind.TERM:
            if token.kind is not _Tok.TERM:
                raise TacticRejected(f"expected a term in backquotes after {tactic} {got}")
            return TermArg(self._advance().text)
        if kind is ArgKind.STRING:
            if token.kind is not _Tok.STRING:
                raise TacticRejected(f'expected a "string" after {tactic} {got}')
            return StringArg(self._advance().text)
        table, arg_class = (
            (CONVERSIONS, ConvArg)
            if kind is ArgKind.CONV
            else (CONV_TRANSFORMERS, ConvTransformerArg)
        )
        if token.kind is not _Tok.IDENT:
            raise TacticRejected(f"expected a {kind.value} after {tactic} {got}")
        if token.text not in table:
            raise TacticRejected(
                f"unknown {kind.value} '{_shorten(token.text)}' after {tactic}"
                f" at offset {token.pos}"
                f" (allowed: {', '.join(sorted(table))})"
            )
        return arg_class(self._advance().text)

    def _theorem_list(self, tactic: str) -> ThmListArg:
        open_ = self._peek
        if open_.kind is not _Tok.LBRACK:
            raise TacticRejected(
                f"expected a theorem list after {tactic} at offset {open_.pos},"
                f" got {open_.describe()}"
            )
        self._advance()
        names: list[str] = []
        if self._peek.kind is _Tok.RBRACK:
            self._advance()
            return ThmListArg(())
        while True:
            if self._peek.kind is _Tok.EOF:
                raise TacticRejected(
                    f"unbalanced bracket: the '[' at offset {open_.pos} is never closed"
                )
            names.append(self._theorem_name(tactic, in_list=True))
            token = self._peek
            if token.kind is _Tok.RBRACK:
                self._advance()
                return ThmListArg(tuple(names))
            if token.kind is _Tok.EOF:
                raise TacticRejected(
                    f"unbalanced bracket: the '[' at offset {open_.pos} is never closed"
                )
            if token.kind is not _Tok.SEMI:
                raise TacticRejected(
                    f"expected ';' or ']' in the theorem list after {tactic}"
                    f" at offset {token.pos}, got {token.describe()}"
                )
            self._advance()

    def _theorem_name(self, tactic: str, in_list: bool = False) -> str:
        token = self._peek
        if token.kind is not _Tok.IDENT:
            where = "in the theorem list after" if in_list else "after"
            raise TacticRejected(
                f"expected a theorem name {where} {tactic} at offset {token.pos},"
                f" got {token.describe()}"
            )
        name = token.text
        problem = _theorem_name_problem(name)
        if problem is not None:
            raise TacticRejected(f"{problem} (after {tactic} at offset {token.pos})")
        allowed = self._theorem_names
        database = self._database_names
        if allowed is not None and name not in allowed:
            if database is not None and name in database:
                raise TacticRejected(f"theorem '{name}' is not an allowed premise")
            raise TacticRejected(f"unknown theorem '{_shorten(name)}'")
        if allowed is None and database is not None and name not in database:
            raise TacticRejected(f"unknown theorem '{_shorten(name)}'")
        self._advance()
        return name


def parse_tactic(
    text: str,
    theorem_names: Container[str] | None = None,
    database_names: Container[str] | None = None,
) -> TacticExpr:
    """Parse untrusted tactic text; raise TacticRejected (with the reason) unless it is valid.

    ``theorem_names`` are the theorems the tactic may use (None: any well-formed name). When
    ``database_names`` is also given, a name in the database but not in ``theorem_names`` is
    reported as "not an allowed premise" rather than "unknown".
    """
    if not isinstance(text, str):
        raise TacticRejected(f"a tactic must be a string, not {type(text).__name__}")
    if len(text) > MAX_INPUT_CHARS:
        raise TacticRejected(f"tactic text longer than {MAX_INPUT_CHARS} characters ({len(text)})")
    return _Parser(text, theorem_names, database_names).parse()


# ---------------------------------------------------------------------------------------------
# Validation of expressions built in code, and output.
# ---------------------------------------------------------------------------------------------


def _check_arg(tactic: str, kind: ArgKind, arg: Arg) -> None:
    if type(arg) is not _ARG_CLASS[kind]:
        raise TacticRejected(
            f"{tactic}: expected a {kind.value} argument, got {type(arg).__name__}"
        )
    problem: str | None = None
    if isinstance(arg, ThmArg):
        problem = _theorem_name_problem(arg.name)
    elif isinstance(arg, ThmListArg):
        for name in arg.names:
            problem = problem or _theorem_name_problem(name)
    elif isinstance(arg, TermArg):
        problem = _term_problem(arg.text)
    elif isinstance(arg, StringArg):
        problem = _label_problem(arg.text)
    elif isinstance(arg, ConvArg) and arg.name not in CONVERSIONS:
        problem = f"unknown conversion '{arg.name}'"
    elif isinstance(arg, ConvTransformerArg) and arg.name not in CONV_TRANSFORMERS:
        problem = f"unknown conversion transformer '{arg.name}'"
    if problem is not None:
        raise TacticRejected(f"{tactic}: {problem}")


def _check_tactic(tactic: Tactic) -> None:
    """Raise TacticRejected unless ``tactic`` is in the language (theorems by syntax only)."""
    if tactic.name not in TACTIC_SIGNATURES:
        raise TacticRejected(f"unknown tactic '{tactic.name}'")
    kinds = TACTIC_SIGNATURES[tactic.name]
    if len(tactic.args) != len(kinds):
        raise TacticRejected(f"{_describe_signature(tactic.name)}, got {len(tactic.args)}")
    for kind, arg in zip(kinds, tactic.args, strict=True):
        _check_arg(tactic.name, kind, arg)


def quote_sexp_string(text: str) -> str:
    """``text`` as a double-quoted s-expression string, read back exactly by itp.ml's parse_sx.

    Escapes backslash, double quote, newline and tab; every other character outside printable
    ASCII becomes ``\\uXXXX`` (a UTF-16 surrogate pair beyond U+FFFF).
    """
    out = ['"']
    for c in text:
        code = ord(c)
        if c == "\\":
            out.append("\\\\")
        elif c == '"':
            out.append('\\"')
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif 32 <= code < 127:
            out.append(c)
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
    out.append('"')
    return "".join(out)


def _render_arg(arg: Arg) -> str:
    if isinstance(arg, ThmArg):
        return f"(thm {arg.name})"
    if isinstance(arg, ThmListArg):
        return "(" + " ".join(("thms", *arg.names)) + ")"
    if isinstance(arg, TermArg):
        return f"(term {quote_sexp_string(arg.text)})"
    if isinstance(arg, ConvArg):
        return f"(conv {arg.name})"
    if isinstance(arg, ConvTransformerArg):
        return f"(convx {arg.name})"
    return f"(str {quote_sexp_string(arg.text)})"


def _format_arg(arg: Arg) -> str:
    if isinstance(arg, ThmArg):
        return arg.name
    if isinstance(arg, ThmListArg):
        return "[" + "; ".join(arg.names) + "]"
    if isinstance(arg, TermArg):
        return f"`{arg.text}`"
    if isinstance(arg, ConvArg | ConvTransformerArg):
        return arg.name
    return f'"{arg.text}"'


def _render_tactic(tactic: Tactic) -> str:
    return "(" + " ".join(("tac", tactic.name, *map(_render_arg, tactic.args))) + ")"


def _format_tactic(tactic: Tactic) -> str:
    args = [_format_arg(a) for a in tactic.args]
    if tactic.name in _TUPLED_TACTICS:
        return f"{tactic.name} ({', '.join(args)})"
    return " ".join((tactic.name, *args))


@dataclass(frozen=True)
class _Child:
    """A sub-expression still to be written (as opposed to text already produced)."""

    expr: object


def _expand(expr: object, render: bool) -> list[str | _Child]:
    """The pieces of one node, in output order: text and sub-expressions."""
    if isinstance(expr, Tactic):
        _check_tactic(expr)
        return [_render_tactic(expr) if render else _format_tactic(expr)]
    if not isinstance(expr, Then | OrElse):
        raise TypeError(f"not a tactic expression: {type(expr).__name__}")
    first, second = _Child(expr.first), _Child(expr.second)
    if render:
        op = "then" if isinstance(expr, Then) else "orelse"
        return [f"({op} ", first, " ", second, ")"]
    op = "THEN" if isinstance(expr, Then) else "ORELSE"
    # Equal precedence, left-associative: only a compound right operand needs parentheses.
    if isinstance(expr.second, Tactic):
        return [first, f" {op} ", second]
    return [first, f" {op} (", second, ")"]


def _serialise(expr: TacticExpr, render: bool) -> str:
    # An explicit stack rather than recursion: expressions built in code may be arbitrarily deep.
    out: list[str] = []
    stack: list[str | _Child] = [_Child(expr)]
    while stack:
        item = stack.pop()
        if isinstance(item, _Child):
            stack.extend(reversed(_expand(item.expr, render)))
        else:
            out.append(item)
    return "".join(out)


def render_request(expr: TacticExpr) -> str:
    """The s-expression for itp.ml: (tac NAME ARG...), (then A B), (orelse A B).

    The expression is checked against the language first (theorem names by syntax only), so
    one built in code cannot smuggle anything into the request either.
    """
    return _serialise(expr, render=True)


def format_tactic(expr: TacticExpr) -> str:
    """Canonical HOL Light text for ``expr``; ``parse_tactic(format_tactic(e)) == e``."""
    return _serialise(expr, render=False)

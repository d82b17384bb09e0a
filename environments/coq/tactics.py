"""The Coq tactic language that untrusted text (a model's output, a trace file) may use.

Coq ends a sentence at a ``.`` followed by whitespace or the end of the input, so tactic text
could smuggle in vernacular commands (``auto. Drop.``). Every text is therefore checked against
the grammar below by a small hand-written lexer and recursive-descent parser *before* anything
reaches Coq; a rejected text raises ``TacticRejected`` (the message says what and where) and
sends nothing. An accepted text is sent as exactly one sentence (``render_sentence``).

Lexical rules (columns in messages are 1-based, in the text as given)::

    characters  printable ASCII and space; tab, newline and CR count as spaces and every
                whitespace run is normalised to one space; other control characters refused
    refused     '"' (strings), '(*' (comments), '`', and any text over MAX_TACTIC_CHARS
    '.'         only inside a qualified name (Nat.add_comm) or before a projection (x.(fst))
    NAME        [?@]? ident ('.' ident)*     ident := [A-Za-z_][A-Za-z0-9_']*
    NUM         [0-9]+
    brackets    ( ) [ ] { }, balanced and properly nested
    symbols     '||' and '|-' as one token each, else one per character of + - * / < > = ~ ^
                & | ! ? @ % $ # : , ; ' _ \\
    refused     a word of FORBIDDEN_WORDS, as a name or a part of a qualified name; a name
                followed at once by ':(' (a quotation such as ltac:(...) or constr:(...))

Structure (an Ltac subset)::

    tactic   := seq                                  (no goal selector: the driver adds it)
    seq      := binary (';' (binary | '[' branches ']'))*
    branches := [seq] ('|' [seq])*
    binary   := unary ('||' unary)*
    unary    := ('try' | 'repeat' | 'progress' | 'once' | 'exactly_once' | 'now') unary
              | 'do' NUM unary
              | ('first' | 'solve') '[' branches ']'
              | '(' seq ')'
              | atomic
    atomic   := NAME arg*        NAME one of ALLOWED_TACTICS (one or two words)
    arg      := any token; at bracket depth 0 (a 'match' ... 'end' counts as a bracket) the
                atomic ends before ';', '||', '|' or an unmatched closing bracket, and
                'by' TACTIC ends it with a checked binary tactic (autorewrite: also 'using')

``intuition``, ``dintuition``, ``firstorder`` and ``abstract`` take a tactic first: unless the
next token is ``using``, ``with`` or the atomic's end, it is parsed as a unary tactic, so it is
checked too.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

MAX_TACTIC_CHARS = 2000
# Bounds the parser's recursion (brackets, branches, tactic arguments) far below Python's
# recursion limit, whatever the input.
MAX_NESTING = 50


class TacticRejected(ValueError):
    """The text is not one tactic expression of the allowed grammar (the message says why)."""


# ---------------------------------------------------------------------------------------------
# The allowed words.
# ---------------------------------------------------------------------------------------------

# fmt: off
ALLOWED_TACTICS: frozenset[str] = frozenset({
    # Hypotheses and the context.
    "intro", "intros", "revert", "revert dependent", "clear", "clear dependent", "clearbody",
    "generalize", "generalize dependent", "specialize", "pose", "epose", "pose proof",
    "epose proof", "set", "eset", "remember", "eremember", "assert", "eassert", "enough",
    "eenough", "cut", "rename", "move", "subst", "lapply",
    # Closing and refining with a term.
    "exact", "eexact", "apply", "eapply", "rapply", "simple apply", "simple eapply", "refine",
    "assumption", "eassumption", "trivial", "easy", "exfalso", "contradiction", "contradict",
    "absurd", "instantiate", "evar", "unify", "constr_eq", "idtac", "fail",
    # Inductive types and constructors.
    "constructor", "econstructor", "split", "esplit", "left", "right", "eleft", "eright",
    "exists", "eexists", "destruct", "edestruct", "induction", "einduction", "elim", "eelim",
    "elimtype", "case", "ecase", "case_eq", "simple induction", "simple destruct",
    "dependent induction", "dependent destruction", "functional induction", "inversion",
    "inversion_clear", "simple inversion", "dependent inversion", "dependent inversion_clear",
    "functional inversion", "inversion_sigma", "injection", "einjection", "simple injection",
    "discriminate", "ediscriminate", "simplify_eq", "esimplify_eq", "decompose", "fix", "cofix",
    "decide equality", "decide",
    # Equality and rewriting.
    "reflexivity", "symmetry", "transitivity", "etransitivity", "f_equal", "congruence",
    "rewrite", "erewrite", "rewrite_strat", "setoid_rewrite", "setoid_replace",
    "setoid_reflexivity", "setoid_symmetry", "setoid_transitivity", "dependent rewrite",
    "replace", "autorewrite", "stepl", "stepr", "f_equiv", "solve_proper", "extensionality",
    # Conversion.
    "simpl", "cbn", "cbv", "lazy", "compute", "vm_compute", "red", "hnf", "unfold", "fold",
    "pattern", "change", "now_show", "autounfold",
    # Automation and decision procedures.
    "auto", "eauto", "info_auto", "info_eauto", "typeclasses eauto", "autoapply", "tauto",
    "dtauto", "intuition", "dintuition", "firstorder", "btauto", "rtauto", "classical_left",
    "classical_right", "lia", "nia", "lra", "nra", "psatz", "zify", "ring", "ring_simplify",
    "field", "field_simplify", "field_simplify_eq", "nsatz", "abstract",
})
# fmt: on

# Words refused anywhere in the text, grouped by why (the reason is quoted in the message).
# They are case-sensitive like Coq: 'Set', 'Type' and 'Prop' are sorts and stay allowed.
# Vernacular command words: no tactic needs them, and refusing them is a second line of defence
# behind the lexer, which already keeps a text to one sentence.
# fmt: off
_VERNACULAR_WORDS = frozenset({
    "Drop", "Load", "Declare", "Redirect", "Extraction", "Recursive", "Cd", "Add", "Require",
    "Import", "Export", "Ltac", "Ltac2", "Qed", "Defined", "Save", "Proof", "Time", "Timeout",
    "Fail", "Succeed", "Undo", "Restart", "Back", "BackTo", "Reset", "Quit", "Show", "Print",
    "Locate", "Search", "Check", "Eval", "Compute", "Goal", "Theorem", "Lemma", "Definition",
    "Module", "Section", "End", "Local", "Global", "Unset", "Opaque", "Transparent", "Hint",
    "Instance", "Existing", "Obligation", "Next", "Program", "Focus", "Unfocus",
    # Commands that would add assumptions or notations.
    "Axiom", "Axioms", "Parameter", "Parameters", "Conjecture", "Hypothesis", "Hypotheses",
    "Variable", "Variables", "Tactic", "Notation", "Infix",
})
# fmt: on
_FORBIDDEN_GROUPS: dict[str, frozenset[str]] = {
    "it never counts as a proof": frozenset({"admit", "give_up", "Admitted", "Abort"}),
    "shelved goals never count as proved": frozenset({"shelve", "shelve_unifiable", "unshelve"}),
    "it skips type checking": frozenset(
        {"exact_no_check", "vm_cast_no_check", "native_cast_no_check", "change_no_check"}
    ),
    "it compiles and loads OCaml code": frozenset({"native_compute"}),
    "a term quotation ltac:(...) would run a tactic inside a term, unchecked": frozenset(
        {"ltac", "ltac1", "ltac2"}
    ),
    "it is a vernacular command word, which has no place in a tactic": _VERNACULAR_WORDS,
}
FORBIDDEN_WORDS: frozenset[str] = frozenset().union(*_FORBIDDEN_GROUPS.values())
_WHY_FORBIDDEN = {word: why for why, words in _FORBIDDEN_GROUPS.items() for word in words}

_PREFIX_COMBINATORS = frozenset({"try", "repeat", "progress", "once", "exactly_once", "now"})
_BRANCH_COMBINATORS = frozenset({"first", "solve"})
COMBINATORS: frozenset[str] = _PREFIX_COMBINATORS | _BRANCH_COMBINATORS | {"do"}
"""The tacticals of the grammar (``do`` takes a count first); they are not ALLOWED_TACTICS."""

# Atomics whose first argument is a tactic, and the words that end their tactic-free prefix.
_TACTIC_FIRST = frozenset({"intuition", "dintuition", "firstorder", "abstract"})
_NOT_A_TACTIC = frozenset({"using", "with"})
# Words after which the rest of an atomic is a tactic (checked like any other).
_TACTIC_AFTER: dict[str, frozenset[str]] = {"autorewrite": frozenset({"by", "using"})}
_TACTIC_AFTER_DEFAULT = frozenset({"by"})

# ---------------------------------------------------------------------------------------------
# The lexer.
# ---------------------------------------------------------------------------------------------

_IDENT_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_IDENT_CHARS = _IDENT_START | frozenset("0123456789'")
_DIGITS = frozenset("0123456789")
_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = frozenset(_OPEN.values())
_SPACES = frozenset(" \t\n\r")
_SEPARATORS = frozenset({";", "|", "||"})
_SELECTOR = re.compile(
    r"(\d+(\s*-\s*\d+)?(\s*,\s*\d+(\s*-\s*\d+)?)*|all|par|!|\[\s*[A-Za-z_][\w']*\s*\])\s*:(?!=)"
)


@dataclass(frozen=True)
class _Token:
    """One token: its text, kind ('name', 'num', 'open', 'close' or 'sym') and 0-based offset."""

    text: str
    kind: str
    pos: int


def _at(pos: int) -> str:
    return f"at column {pos + 1}"


def _name_end(text: str, i: int) -> int:
    """The end of the (possibly qualified) identifier starting at ``i``."""
    j = i
    while True:
        while j < len(text) and text[j] in _IDENT_CHARS:
            j += 1
        if j + 1 < len(text) and text[j] == "." and text[j + 1] in _IDENT_START:
            j += 1
        else:
            return j


def _check_name(text: str, pos: int) -> None:
    """Refuse a name containing a forbidden word, wherever it stands."""
    for part in text.lstrip("?@").split("."):
        if part in _WHY_FORBIDDEN:
            raise TacticRejected(f"{part!r} {_at(pos)} is refused: {_WHY_FORBIDDEN[part]}")


def _tokenize(text: str) -> list[_Token]:
    """Split ``text`` into tokens, refusing every lexical problem (see the module docstring)."""
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in _SPACES:
            i += 1
        elif not " " <= c <= "~":
            raise TacticRejected(f"character {c!r} {_at(i)} is not printable ASCII")
        elif c == '"':
            raise TacticRejected(f"strings ('\"' {_at(i)}) are not allowed in a tactic")
        elif c == "`":
            raise TacticRejected(f"'`' {_at(i)} is not allowed in a tactic")
        elif text.startswith("(*", i):
            raise TacticRejected(f"comments ('(*' {_at(i)}) are not allowed in a tactic")
        elif c in _IDENT_START or (c in "?@" and text[i + 1 : i + 2] in _IDENT_START):
            j = _name_end(text, i + (c in "?@"))
            _check_name(text[i:j], i)
            if text.startswith(":(", j):
                raise TacticRejected(
                    f"{text[i:j]}:( {_at(i)} is a quotation, not allowed in a tactic "
                    "(for a binder, write a space: 'H : (...)')"
                )
            tokens.append(_Token(text[i:j], "name", i))
            if text.startswith(".(", j):
                tokens.append(_Token(".", "sym", j))
                j += 1
            i = j
        elif c in _DIGITS:
            j = i
            while j < n and text[j] in _DIGITS:
                j += 1
            tokens.append(_Token(text[i:j], "num", i))
            i = j
        elif c == ".":
            raise TacticRejected(
                f"'.' {_at(i)} is allowed only inside a qualified name (Nat.add_comm) or before "
                "a projection (x.(fst)): elsewhere it could end the Coq sentence"
            )
        elif c in _OPEN or c in _CLOSE:
            tokens.append(_Token(c, "open" if c in _OPEN else "close", i))
            i += 1
        else:  # the other printable ASCII: + - * / < > = ~ ^ & | ! ? @ % $ # : , ; ' backslash
            two = text[i : i + 2]
            sym = two if two in ("||", "|-") else c
            tokens.append(_Token(sym, "sym", i))
            i += len(sym)
    return tokens


def _check_brackets(tokens: list[_Token]) -> None:
    """Refuse brackets that do not balance or nest properly."""
    stack: list[_Token] = []
    for tok in tokens:
        if tok.kind == "open":
            stack.append(tok)
        elif tok.kind == "close":
            if not stack:
                raise TacticRejected(f"unmatched {tok.text!r} {_at(tok.pos)}")
            opened = stack.pop()
            if _OPEN[opened.text] != tok.text:
                raise TacticRejected(
                    f"{tok.text!r} {_at(tok.pos)} does not close {opened.text!r} {_at(opened.pos)}"
                )
    if stack:
        raise TacticRejected(f"{stack[-1].text!r} {_at(stack[-1].pos)} is never closed")


# ---------------------------------------------------------------------------------------------
# The parser.
# ---------------------------------------------------------------------------------------------


class _Parser:
    """Recursive descent over the token list; it only checks, nothing is built."""

    def __init__(self, tokens: list[_Token], library: frozenset[str]):
        self.tokens = tokens
        self.library = library
        self.i = 0
        self.depth = 0

    def peek(self, ahead: int = 0) -> _Token | None:
        k = self.i + ahead
        return self.tokens[k] if k < len(self.tokens) else None

    def at(self, text: str, kind: str = "sym") -> bool:
        tok = self.peek()
        return tok is not None and tok.text == text and tok.kind == kind

    def where(self) -> str:
        tok = self.peek()
        return "at the end of the text" if tok is None else f"{tok.text!r} {_at(tok.pos)}"

    def expect(self, text: str, kind: str, why: str) -> None:
        if not self.at(text, kind):
            raise TacticRejected(f"expected {text!r} {why}, found {self.where()}")
        self.i += 1

    def seq(self) -> None:
        self.binary()
        while self.at(";"):
            self.i += 1
            if self.at("[", "open"):
                self.i += 1
                self.branches()
                self.expect("]", "close", "to end the branches")
            else:
                self.binary()

    def branches(self) -> None:
        while True:
            if not (self.at("|") or self.at("]", "close")):
                self.seq()
            if not self.at("|"):
                return
            self.i += 1

    def binary(self) -> None:
        self.unary()
        while self.at("||"):
            self.i += 1
            self.unary()

    def unary(self) -> None:
        # Every recursion passes through here: one level per nested tactic.
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise TacticRejected(f"the tactic nests more than {MAX_NESTING} deep")
        while (tok := self.peek()) is not None and tok.kind == "name":
            if tok.text in _PREFIX_COMBINATORS:
                self.i += 1
            elif tok.text == "do":
                self.i += 1
                tok = self.peek()
                if tok is None or tok.kind != "num":
                    raise TacticRejected(f"expected a count after 'do', found {self.where()}")
                self.i += 1
            else:
                break
        if tok is not None and tok.kind == "name" and tok.text in _BRANCH_COMBINATORS:
            self.i += 1
            self.expect("[", "open", f"after {tok.text!r}")
            self.branches()
            self.expect("]", "close", f"to end {tok.text!r}")
        elif self.at("(", "open"):
            self.i += 1
            self.seq()
            self.expect(")", "close", "to end the parenthesised tactic")
        else:
            self.atomic()
        self.depth -= 1

    def atomic(self) -> None:
        tok, nxt = self.peek(), self.peek(1)
        if tok is None or tok.kind != "name":
            raise TacticRejected(f"expected a tactic, found {self.where()}")
        two = f"{tok.text} {nxt.text}" if nxt is not None and nxt.kind == "name" else ""
        if two in ALLOWED_TACTICS:
            name = two
        elif tok.text in ALLOWED_TACTICS or tok.text in self.library:
            name = tok.text
        else:
            raise TacticRejected(
                f"unknown tactic {tok.text!r} {_at(tok.pos)} (not in ALLOWED_TACTICS)"
            )
        self.i += name.count(" ") + 1
        if name in _TACTIC_FIRST and not self.ends_atomic() and not self.at_any(_NOT_A_TACTIC):
            self.unary()
        self.args(_TACTIC_AFTER.get(name, _TACTIC_AFTER_DEFAULT))

    def at_any(self, names: frozenset[str]) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "name" and tok.text in names

    def ends_atomic(self) -> bool:
        """Whether the next token, at bracket depth 0, ends an atomic (or there is none)."""
        tok = self.peek()
        return tok is None or tok.kind == "close" or (tok.kind == "sym" and tok.text in _SEPARATORS)

    def args(self, tactic_after: frozenset[str]) -> None:
        """Skip an atomic's arguments; check the tactic after one of ``tactic_after``."""
        depth = 0
        matches: list[_Token] = []  # the open 'match'es at depth 0
        while (tok := self.peek()) is not None:
            if depth == 0:
                if not matches and self.ends_atomic():
                    break
                if tok.kind == "close":
                    break
                if tok.kind == "name" and tok.text == "match":
                    matches.append(tok)
                elif tok.kind == "name" and tok.text == "end" and matches:
                    matches.pop()
                elif not matches and tok.kind == "name" and tok.text in tactic_after:
                    self.i += 1
                    self.binary()
                    return
            depth += {"open": 1, "close": -1}.get(tok.kind, 0)
            self.i += 1
        if matches:
            raise TacticRejected(f"'match' {_at(matches[-1].pos)} has no 'end'")


# ---------------------------------------------------------------------------------------------
# The interface.
# ---------------------------------------------------------------------------------------------


def parse_tactic(text: str, library: frozenset[str] = frozenset()) -> str:
    """Check ``text`` against the grammar; return it with whitespace runs made one space.

    ``library``: names of tactics the theorem's own library defines (``Ltac destr_bool``),
    allowed as atomic tactics beside ALLOWED_TACTICS; their arguments follow the same rules.
    Raises TacticRejected, naming the offending token and its column, for anything else.
    """
    if len(text) > MAX_TACTIC_CHARS:
        raise TacticRejected(f"the tactic is {len(text)} characters, over {MAX_TACTIC_CHARS}")
    tokens = _tokenize(text)
    if not tokens:
        raise TacticRejected("the tactic is empty")
    normal = " ".join(text.split())
    if _SELECTOR.match(normal):
        raise TacticRejected(
            f"goal selectors ({normal.split(':')[0].strip()}:) are not allowed: "
            "the driver chooses the goal"
        )
    _check_brackets(tokens)
    parser = _Parser(tokens, library)
    parser.seq()
    if parser.peek() is not None:
        raise TacticRejected(f"unexpected {parser.where()}")
    return normal


def render_sentence(
    tactic: str, goal_index: int, timeout: float, library: frozenset[str] = frozenset()
) -> str:
    """The one sentence sent to Coq: ``N: timeout T (tactic).``, the tactic checked again.

    Coq's ``timeout`` takes whole seconds, so ``timeout`` is rounded up (at least 1).
    """
    if isinstance(goal_index, bool) or not isinstance(goal_index, int) or goal_index < 1:
        raise ValueError(f"goal_index must be an int >= 1, got {goal_index!r}")
    if not (math.isfinite(timeout) and timeout > 0):
        raise ValueError(f"timeout must be a finite number of seconds > 0, got {timeout!r}")
    text = parse_tactic(tactic, library)
    return f"{goal_index}: timeout {max(1, math.ceil(timeout))} ({text})."

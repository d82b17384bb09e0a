"""Split Coq source into sentences and say what each one does, for exporting a library.

coqidetop's ``Add`` runs only the first sentence of the text it is given and silently drops the
rest, so the exporter feeds a file one sentence at a time, and it has to know which sentences
state theorems, start and end proofs, and open or close modules and sections (to qualify names).

The splitter follows Coq's lexer rather than a regex, because the hard cases are lexical:

* a sentence ends at a ``.`` followed by a blank (space, tab, newline, carriage return; Coq's
  lexer treats nothing else, not even a form feed, as a blank) or by the end of the input, and at
  ``...`` followed likewise (the ``tac...`` of ``Proof with``); ``..`` (recursive notations) and
  a ``.`` followed by anything else (``Nat.add``, ``x.(f)``, ``1.5``, even ``x.(* c *)``) do not
  end one;
* comments ``(* *)`` nest, and a string inside a comment is lexed as a string, so
  ``(* "*)" *)`` is one comment; strings escape ``"`` as ``""``;
* at the start of a sentence, a run of one bullet character (``-``, ``--``, ``+``, ``**``...)
  is a sentence of its own whatever follows it (Coq accepts ``-exact I.`` as the bullet ``-``
  and then ``exact I.``), as are ``{``, ``}`` and a goal selector with a brace (``2: {``,
  ``[x]: {``); no ordinary command starts with those characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Literal


@dataclass(frozen=True)
class Sentence:
    """One sentence as coqidetop should receive it.

    ``text`` is the source from the sentence's first character that is neither blank nor in a
    comment up to and including its terminator, with each comment inside replaced by a single
    space; ordinary sentences end with ``.`` or ``...``, bullets and braces have no dot.
    ``line`` (1-based) and ``offset`` locate that first character in the source.
    """

    text: str
    line: int
    offset: int


SentenceKind = Literal[
    "theorem", "proof_start", "proof_end", "bullet", "scope_open", "scope_close", "other"
]
ProofEnd = Literal["Qed", "Defined", "Admitted", "Abort", "Save", "Proof"]

_BLANKS = frozenset(" \t\n\r")
_BULLETS = frozenset("-+*")
_SELECTOR_BRACE = re.compile(r"(?:\d+|\[\s*[^\W\d][\w']*\s*\])\s*:\s*\{")
_IN_CODE = re.compile(r'\(\*|"|\.')
_IN_COMMENT = re.compile(r'\(\*|\*\)|"')


def _line_of(source: str, offset: int) -> int:
    return source.count("\n", 0, offset) + 1


def _skip_string(source: str, start: int) -> int:
    """The index just past the string that opens at ``start``."""
    i = start + 1
    while (close := source.find('"', i)) >= 0:
        if not source.startswith('"', close + 1):
            return close + 1
        i = close + 2
    raise ValueError(f"line {_line_of(source, start)}: unterminated string")


def _skip_comment(source: str, start: int) -> int:
    """The index just past the (nested) comment that opens at ``start``."""
    depth, i = 0, start
    while (m := _IN_COMMENT.search(source, i)) is not None:
        if m.group() == '"':
            i = _skip_string(source, m.start())
            continue
        depth += 1 if m.group() == "(*" else -1
        i = m.end()
        if depth == 0:
            return i
    raise ValueError(f"line {_line_of(source, start)}: unterminated comment")


def _skip_blanks(source: str, i: int) -> int:
    """The index of the next character that is neither blank nor in a comment."""
    while i < len(source):
        if source[i] in _BLANKS:
            i += 1
        elif source.startswith("(*", i):
            i = _skip_comment(source, i)
        else:
            break
    return i


def _scan_ordinary(source: str, start: int) -> tuple[int, str]:
    """The end of the dot-terminated sentence at ``start`` and its text, comments blanked."""
    pieces: list[str] = []
    i = kept = start
    while (m := _IN_CODE.search(source, i)) is not None:
        at = m.start()
        if m.group() == "(*":
            pieces += [source[kept:at], " "]
            i = kept = _skip_comment(source, at)
        elif m.group() == '"':
            i = _skip_string(source, at)
        else:
            i = at
            while i < len(source) and source[i] == ".":
                i += 1
            if i - at in (1, 3) and (i == len(source) or source[i] in _BLANKS):
                pieces.append(source[kept:i])
                return i, "".join(pieces)
    raise ValueError(f"line {_line_of(source, start)}: text without a terminating '.'")


def split_sentences(source: str) -> list[Sentence]:
    """Coq's sentences of ``source``, in order.

    Raises ``ValueError`` naming the line of an unterminated comment or string, or of trailing
    text without a terminator.
    """
    sentences: list[Sentence] = []
    line, counted = 1, 0
    i = _skip_blanks(source, 0)
    while i < len(source):
        line += source.count("\n", counted, i)
        counted = i
        char = source[i]
        if char in _BULLETS:
            end = i + 1
            while end < len(source) and source[end] == char:
                end += 1
            text = source[i:end]
        elif char in "{}":
            end, text = i + 1, char
        elif (selector := _SELECTOR_BRACE.match(source, i)) is not None:
            end, text = selector.end(), selector.group()
        else:
            end, text = _scan_ordinary(source, i)
        sentences.append(Sentence(text, line, i))
        i = _skip_blanks(source, end)
    return sentences


# Classification works on tokens of the text after its attributes and modifiers.

_PREFIX = re.compile(
    r'(?:#\[(?:"(?:[^"]|"")*"|[^\]"])*\]\s*'  # an attribute, where strings may hold "]"
    r"|(?:Local|Global|Polymorphic|Monomorphic|Program|Cumulative|NonCumulative|Private)\s+)*"
)
_TOKEN = re.compile(
    r"""
    "(?:[^"]|"")*"                          # a string
    | [^\W\d][\w']*(?:\.[^\W\d][\w']*)*     # an identifier, maybe qualified
    | \d[\w']*                              # a number
    | :=|:>|\{\||\|\}|\|\|                  # the symbols whose characters must not split
    | \S                                    # any other character
    """,
    re.VERBOSE,
)
_IDENT = re.compile(r"[^\W\d][\w']*")
_HEAD = 4  # tokens that settle every question but a Module's and an Example's
_OPENERS = frozenset({"(", "[", "{", "{|", "match"})
_CLOSERS = frozenset({")", "]", "}", "|}", "end"})

_THEOREM_KEYWORDS = frozenset(
    {"Theorem", "Lemma", "Corollary", "Proposition", "Fact", "Remark", "Property", "Example"}
)
_THEOREM = re.compile(r"(\w+)\s+([^\W\d][\w']*)(.*)", re.DOTALL)
_PROOF_ENDS: dict[str, ProofEnd] = {
    "Qed": "Qed",
    "Defined": "Defined",
    "Admitted": "Admitted",
    "Abort": "Abort",
    "Save": "Save",
}
_FIXPOINT_KEYWORDS = frozenset({"Fixpoint", "CoFixpoint", "Function"})
_INDUCTIVE_KEYWORDS = frozenset(
    {"Inductive", "CoInductive", "Variant", "Record", "Structure", "Class"}
)
_ASSUMPTION_KEYWORDS = frozenset(
    {
        "Axiom",
        "Axioms",
        "Conjecture",
        "Conjectures",
        "Parameter",
        "Parameters",
        "Hypothesis",
        "Hypotheses",
        "Variable",
        "Variables",
        "Context",
    }
)


def _body(text: str) -> str:
    """An ordinary sentence's text without its terminator, attributes and modifiers."""
    if not text.endswith("."):
        return ""
    text = text[:-3] if text.endswith("...") else text[:-1]
    prefix = _PREFIX.match(text)
    return text[prefix.end() if prefix else 0 :]


def _tokens(body: str, limit: int | None = None) -> list[str]:
    """The body's tokens, or only its first ``limit`` (most questions need only the head)."""
    return [m.group() for m in islice(_TOKEN.finditer(body), limit)]


def _is_name(token: str) -> bool:
    return token != "_" and _IDENT.fullmatch(token) is not None


def _with_depth(tokens: list[str]) -> Iterator[tuple[int, str]]:
    """Each token with its nesting depth in brackets and ``match ... end``."""
    depth = 0
    for token in tokens:
        if token in _CLOSERS:
            depth -= 1
        yield depth, token
        if token in _OPENERS:
            depth += 1


def _split_top(tokens: list[str], separator: str) -> list[list[str]]:
    """``tokens`` cut at each ``separator`` outside brackets and ``match ... end``."""
    parts: list[list[str]] = [[]]
    for depth, token in _with_depth(tokens):
        if depth == 0 and token == separator:
            parts.append([])
        else:
            parts[-1].append(token)
    return parts


def _top_index(tokens: list[str], token: str) -> int | None:
    return next((i for i, (d, t) in enumerate(_with_depth(tokens)) if d == 0 and t == token), None)


def _theorem(body: str) -> re.Match[str] | None:
    """Keyword, name and the rest of a Theorem-like body."""
    m = _THEOREM.fullmatch(body)
    if m is None or m.group(1) not in _THEOREM_KEYWORDS:
        return None
    if m.group(1) == "Example" and _top_index(_tokens(body), ":=") is not None:
        return None
    return m


def theorem_name(sentence: Sentence) -> str | None:
    """The name a Theorem-like sentence declares, else ``None``.

    The keywords are Theorem, Lemma, Corollary, Proposition, Fact, Remark, Property and Example,
    after any ``#[...]``, ``Local``, ``Global``, ``Program`` or universe modifiers. An Example
    given with ``:=`` is a definition, not a theorem to prove.
    """
    m = _theorem(_body(sentence.text))
    return m.group(2) if m else None


def statement(sentence: Sentence) -> str:
    """What a theorem sentence says after its name, up to the terminator, whitespace collapsed.

    So ``Lemma foo (n : nat) : n + 0 = n.`` gives ``(n : nat) : n + 0 = n`` and
    ``Lemma foo : True.`` gives ``: True``: ``f"Lemma {name} {statement}."`` restates it.
    Mutual theorems (``... with bar : B``) keep their ``with`` parts.
    """
    m = _theorem(_body(sentence.text))
    if m is None:
        raise ValueError(f"line {sentence.line}: not a theorem sentence: {sentence.text!r}")
    return " ".join(m.group(3).split())


def _proof_end(head: list[str]) -> ProofEnd | None:
    if head[:1] == ["Proof"]:
        mode = head[1:2] == ["Mode"] and len(head) == 3 and head[2].startswith('"')
        return None if _starts_proof(head) or mode else "Proof"
    return _PROOF_ENDS.get(head[0]) if head else None


def proof_end(sentence: Sentence) -> ProofEnd | None:
    """How a proof-ending sentence ends the proof, else ``None``.

    ``Qed``, ``Defined``, ``Admitted``, ``Abort`` (also ``Abort All``) and ``Save``; ``"Proof"``
    for ``Proof term.``, which ends the proof at once, as ``exact term. Qed.`` would.
    """
    return _proof_end(_tokens(_body(sentence.text), _HEAD))


def _starts_proof(head: list[str]) -> bool:
    """``Proof.``, ``Proof with tac.`` or ``Proof using H.``, as opposed to ``Proof term.``"""
    return head[:1] == ["Proof"] and (len(head) == 1 or head[1] in ("with", "using"))


Scope = tuple[Literal["module", "section", "end"], str]


def _scope_change(body: str, head: list[str]) -> Scope | None:
    if len(head) == 2 and head[0] in ("Section", "End") and _is_name(head[1]):
        return ("section" if head[0] == "Section" else "end", head[1])
    if head[:1] != ["Module"]:
        return None
    rest = _tokens(body)[1:]
    if rest[:1] in (["Type"], ["Import"], ["Export"]):
        rest = rest[1:]
    if not rest or not _is_name(rest[0]):
        return None
    for i, token in enumerate(rest):
        constraint = i >= 3 and rest[i - 3] == "with" and rest[i - 2] in ("Module", "Definition")
        if token == ":=" and not constraint:
            return None
    return ("module", rest[0])


def scope_change(sentence: Sentence) -> Scope | None:
    """The block a sentence opens or closes, with its name.

    ``Module [Type] [Import|Export] X ...`` opens a module unless it is defined at once with
    ``:=`` (the ``:=`` of ``with Module E := X`` or ``with Definition t := u`` constraints
    does not count); ``Section S`` opens a section; ``End X`` closes either.
    """
    body = _body(sentence.text)
    return _scope_change(body, _tokens(body, _HEAD))


def kind(sentence: Sentence) -> SentenceKind:
    """What the sentence does, for the exporter's bookkeeping; braces count as bullets."""
    if not sentence.text.endswith("."):
        return "bullet"
    body = _body(sentence.text)
    head = _tokens(body, _HEAD)
    if head[:1] and head[0] in _THEOREM_KEYWORDS and _theorem(body) is not None:
        return "theorem"
    if _proof_end(head) is not None:
        return "proof_end"
    if _starts_proof(head):
        return "proof_start"
    change = _scope_change(body, head)
    if change is not None:
        return "scope_close" if change[0] == "end" else "scope_open"
    return "other"


def _mutual_names(tokens: list[str]) -> list[str]:
    """The first name and each name after a top-level ``with``."""
    return [part[0] for part in _split_top(tokens, "with") if part and _is_name(part[0])]


def _inductive_names(tokens: list[str]) -> list[str]:
    """Each type of a (mutual) inductive or record, then its constructors and fields."""
    names: list[str] = []
    for block in _split_top(tokens, "with"):
        if not block or not _is_name(block[0]):
            continue
        names.append(block[0])
        defined = _top_index(block, ":=")
        if defined is None:
            continue
        body = block[defined + 1 :]
        where = _top_index(body, "where")
        body = body[:where] if where is not None else body
        names += _record_names(body) if _is_record(body) else _constructor_names(body)
    return names


def _is_record(body: list[str]) -> bool:
    """Whether ``body`` is ``[Constructor] { fields }`` and nothing more."""
    start = 1 if body[:1] and _is_name(body[0]) else 0
    if body[start : start + 1] != ["{"]:
        return False
    return _top_index(body[start:], "}") == len(body) - start - 1


def _record_names(body: list[str]) -> list[str]:
    names = [body[0]] if _is_name(body[0]) else []
    fields = body[body.index("{") + 1 : -1]
    for field in _split_top(fields, ";"):
        if field[:2] == ["#", "["]:
            close = _top_index(field[1:], "]")
            field = field[close + 2 :] if close is not None else []
        if field and _is_name(field[0]):
            names.append(field[0])
    return names


def _constructor_names(body: list[str]) -> list[str]:
    return [part[0] for part in _split_top(body, "|") if part and _is_name(part[0])]


def _assumption_names(tokens: list[str]) -> list[str]:
    """The names of ``x y : T`` or of binder groups ``(x y : T) {z : U} `{C}``."""
    if tokens[:1] == ["Inline"]:
        tokens = tokens[1:]
        if tokens[:1] == ["("]:
            close = _top_index(tokens, ")")
            tokens = tokens[close + 1 :] if close is not None else []
    if tokens[:1] not in (["("], ["{"], ["["], ["`"]):
        colon = _top_index(tokens, ":")
        return [t for t in tokens[:colon] if _is_name(t)] if colon is not None else []
    names: list[str] = []
    group: list[str] = []
    generalized = False
    for depth, token in _with_depth(tokens):
        if depth == 0:
            if token in _CLOSERS:
                colon = _top_index(group, ":")
                if colon is not None or not generalized:
                    names += [t for t in group[:colon] if _is_name(t)]
                group, generalized = [], False
            elif token in ("`", "!"):
                generalized = True
        else:
            group.append(token)
    return names


def declared_names(sentence: Sentence) -> list[str]:
    """The names a sentence declares, in order.

    Theorem-like sentences, Definition, Let, Fixpoint, CoFixpoint and Function (with their
    ``with`` mutual names), named Instance and Declare Instance; Inductive, CoInductive,
    Variant, Record, Structure and Class with their constructors and record fields; Axiom,
    Parameter, Hypothesis, Variable, Conjecture (and plurals) and Context binders with a name.
    Notations, modules and everything else declare nothing here.
    """
    tokens = _tokens(_body(sentence.text))
    if tokens[:1] in (["Let"], ["Declare"]) and tokens[1:2] in (
        ["Fixpoint"],
        ["CoFixpoint"],
        ["Instance"],
    ):
        tokens = tokens[1:]
    if not tokens:
        return []
    head, rest = tokens[0], tokens[1:]
    if head in _THEOREM_KEYWORDS or head in _FIXPOINT_KEYWORDS:
        return _mutual_names(rest)
    if head in ("Definition", "Let", "Instance"):
        return rest[:1] if rest and _is_name(rest[0]) else []
    if head in _INDUCTIVE_KEYWORDS:
        return _inductive_names(rest)
    if head in _ASSUMPTION_KEYWORDS:
        return _assumption_names(rest)
    return []


_LTAC = re.compile(r"^(?:#\[[^\]]*\]\s*)?(?:(?:Local|Global|Export)\s+)?Ltac\s+([^\W\d][\w']*)")
_TACTIC_NOTATION = re.compile(
    r"^(?:#\[[^\]]*\]\s*)?(?:(?:Local|Global|Export)\s+)?Tactic\s+Notation\s+"
    r"(?:\(\s*at\s+level\s+\d+\s*\)\s*)?\"([^\W\d][\w']*)\""
)


def defined_tactics(sentence: Sentence) -> list[str]:
    """The tactic a sentence defines: ``Ltac name ...`` or ``Tactic Notation "name" ...``."""
    for pattern in (_LTAC, _TACTIC_NOTATION):
        match = pattern.match(sentence.text)
        if match:
            return [match.group(1)]
    return []

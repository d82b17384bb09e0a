"""Tokens of HOL Light typed s-expressions, shared by the sequence and graph term encoders.

A token says what an atom is, not only how it is spelt: ``c:+`` (a constant), ``ty:num`` (a type
constructor), ``tyvar:A`` (a type variable), ``v:x`` (a variable name, only for the most frequent
names; the rest become ``<var>``, as names of bound variables carry little meaning), plus the
structural tokens ``( ) a c v l tyvar``. Lexing is one regex pass with a stack of frame kinds, no
recursion, so terms of any depth tokenise in linear time.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from data.files import write_atomic

PAD, UNK, CLS, VAR = "<pad>", "<unk>", "<cls>", "<var>"
SPECIAL_TOKENS = (PAD, UNK, CLS, VAR)
TERM_TAGS = frozenset({"a", "c", "v", "l"})
STRUCTURAL_TOKENS = ("(", ")", "a", "c", "v", "l", "tyvar")
CONST, TYPE, TYVAR, VARIABLE = "c:", "ty:", "tyvar:", "v:"
FORMAT_VERSION = 1

# Parentheses, JSON-style quoted names (kept verbatim: they are the canonical spelling) and atoms.
_TOKEN = re.compile(r'\(|\)|"(?:[^"\\]|\\.)*"|[^\s()"]+')
# Frame kinds on the lexer's stack while the frame's head atom is still to come.
_PENDING_TERM, _PENDING_TYPE = "?term", "?type"
# Heads whose nested lists are terms; under any other head (c, v, a type) they are types.
_TERM_PARENTS = frozenset({"a", "l", _PENDING_TERM})


def sexp_keys(text: str, types: bool = True) -> list[str]:
    """The token strings of ``text`` (vocabulary keys, before any lookup), in order.

    ``types=False`` leaves out the type of every constant and variable, which is most of a HOL
    Light s-expression (a sequence model then sees three times more of the term). Malformed
    text (unbalanced parentheses, plain words) never raises: atoms that fit no frame become
    ``<unk>``, so an encoder can always embed what a prover hands it.
    """
    keys: list[str] = []
    heads: list[str] = []  # per open frame: its head kind, or a pending marker
    hidden = 0  # open type frames while types are left out
    for token in _TOKEN.findall(text):
        if token == "(":
            in_term = not heads or heads[-1] in _TERM_PARENTS
            heads.append(_PENDING_TERM if in_term else _PENDING_TYPE)
            if not types and (hidden or not in_term):
                hidden += 1
                continue
            keys.append("(")
        elif token == ")":
            if heads:
                heads.pop()
            if hidden:
                hidden -= 1
                continue
            keys.append(")")
        elif hidden:
            if heads[-1] == _PENDING_TYPE:
                heads[-1] = "ty"
        elif not heads:
            keys.append(UNK)
        else:
            head = heads[-1]
            if head == _PENDING_TERM:
                head = token if token in TERM_TAGS else UNK
                keys.append(head)
            elif head == _PENDING_TYPE:
                head = "tyvar" if token == "tyvar" else "ty"
                keys.append("tyvar" if token == "tyvar" else TYPE + token)
            elif head == "c":
                keys.append(CONST + token)
            elif head == "v":
                keys.append(VARIABLE + token)
            elif head == "tyvar":
                keys.append(TYVAR + token)
            else:
                keys.append(UNK)
            heads[-1] = head
    return keys


class Vocabulary:
    """Token strings <-> ids; id 0 is ``<pad>``. Serialises to plain JSON data for checkpoints."""

    def __init__(self, tokens: Sequence[str]) -> None:
        tokens = list(tokens)
        if tuple(tokens[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
            raise ValueError(
                f"Vocabulary: tokens must start with {SPECIAL_TOKENS}, got {tokens[:4]}"
            )
        if len(set(tokens)) != len(tokens):
            raise ValueError("Vocabulary: duplicate tokens")
        self.tokens = tokens
        self.index = {t: i for i, t in enumerate(tokens)}
        self.pad_id, self.unk_id = self.index[PAD], self.index[UNK]
        self.cls_id, self.var_id = self.index[CLS], self.index[VAR]

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.tokens == other.tokens

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def build(cls, sexps: Iterable[str], num_variable_names: int = 32) -> Vocabulary:
        """All constants, types and type variables seen, plus the most frequent variable names."""
        if num_variable_names < 0:
            raise ValueError(
                f"Vocabulary: num_variable_names must be >= 0, got {num_variable_names}"
            )
        names: set[str] = set()
        variables: Counter[str] = Counter()
        for text in sexps:
            for key in sexp_keys(text):
                if key.startswith(VARIABLE):
                    variables[key] += 1
                elif key.startswith((CONST, TYPE, TYVAR)):
                    names.add(key)
        frequent = sorted(variables.items(), key=lambda item: (-item[1], item[0]))
        kept = [key for key, _ in frequent[:num_variable_names]]
        return cls([*SPECIAL_TOKENS, *STRUCTURAL_TOKENS, *sorted(names), *kept])

    @classmethod
    def from_database(cls, database: str | None = None, num_variable_names: int = 32) -> Vocabulary:
        """The vocabulary of every statement (and hypothesis) in the HOL Light theorem database."""
        from data.hol_light.database import TheoremDatabase

        db = TheoremDatabase.cached(database)
        texts = (s for r in db for s in (r.sexp, *r.hypothesis_sexps))
        return cls.build(texts, num_variable_names)

    def id_of(self, key: str) -> int:
        """The id of a token string; unknown variable names share ``<var>``, the rest ``<unk>``."""
        found = self.index.get(key)
        if found is not None:
            return found
        return self.var_id if key.startswith(VARIABLE) else self.unk_id

    def tokenize(self, text: str, max_len: int | None = None, types: bool = True) -> list[int]:
        """Token ids of an s-expression, cut to ``max_len`` tokens if given (see ``sexp_keys``)."""
        keys = sexp_keys(text, types)
        if max_len is not None:
            keys = keys[:max_len]
        index, var_id, unk_id = self.index, self.var_id, self.unk_id
        return [index.get(k, var_id if k.startswith(VARIABLE) else unk_id) for k in keys]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (what a checkpoint's hyperparameters hold)."""
        return {"format_version": FORMAT_VERSION, "tokens": list(self.tokens)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Vocabulary:
        version = data.get("format_version")
        if version != FORMAT_VERSION or not isinstance(data.get("tokens"), Sequence):
            raise ValueError(
                f"Vocabulary.from_dict: expected format_version {FORMAT_VERSION} and a token "
                f"list, got version {version!r}"
            )
        return cls([str(t) for t in data["tokens"]])

    def save(self, path: str | Path) -> None:
        """Write the vocabulary as JSON, atomically."""
        write_atomic(Path(path), json.dumps(self.to_dict()))

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        with Path(path).open() as handle:
            return cls.from_dict(json.load(handle))

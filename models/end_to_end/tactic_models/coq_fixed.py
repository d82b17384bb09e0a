"""The fixed-template tactic model in the Coq dialect: no training, Coq's own automation.

The templates are Ltac tactics, checked against the safe grammar of
``environments.coq.tactics`` when the model is built. The premises are ranked as the HOL Light
model ranks them (``TemplateTacticModel``: by shared symbols, IDF-weighted with ``score:
idf``), and three placeholders are filled per goal:

- ``{premises}``: the goal's top ``num_premises`` premises as a comma-separated list
  (``eauto using {premises}``); with no premise to cite the template yields nothing, since
  ``auto using`` with an empty list is not Coq;
- ``{premise}``: one suggestion per premise among the top ``num_premise_choices``
  (``apply {premise}``, ``rewrite <- {premise}``), its prior shared among them;
- ``{variable}``: one suggestion per candidate variable of the goal, at most
  ``num_variables`` (``induction {variable}``, ``destruct {variable}``; see
  ``goal_variables``).
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from data.proof_tree import Goal
from environments.base import Premise
from environments.coq.tactics import MAX_TACTIC_CHARS, TacticRejected, parse_tactic
from models.end_to_end.tactic_models.fixed import PLACEHOLDER, PREMISE, TemplateTacticModel

VARIABLE = "{variable}"
"""Where one of the goal's variables goes; the template yields one suggestion per variable."""

# Coq identifiers (Unicode letters and subscripts too: List.v writes l₁), qualified or not.
_IDENT = r"[^\W\d][\w']*"
_NAME = re.compile(rf"{_IDENT}(?:\.{_IDENT})*")
# Names, numerals, the empty list and runs of symbol characters; brackets only group.
_TOKEN = re.compile(rf"{_NAME.pattern}|\d+|\[\]|[^\s\w()\[\]{{}}]+")
# One letter and digits or primes (n, l', x1, l₁): bound or section variables, which say
# nothing about which lemma applies; S and O are the successor and zero of nat.
_VARIABLE = re.compile(r"[^\W\d_][\d'₀-₉]*")
_CONSTANTS = frozenset({"S", "O"})
# Binders, pattern matching and punctuation: they occur everywhere or only shape the term.
_SYNTAX = frozenset(
    {":", ",", ";", "|", ":=", "=>", ".", "@", "'", "_", "fun", "let", "in", "as", "return"}
    | {"match", "with", "end", "if", "then", "else"}
)
# A hypothesis as Coq prints it: `n : nat`, `n, m : nat` (names sharing a type) or
# `x := body : type` (a local definition).
_HYPOTHESIS = re.compile(rf"\s*({_IDENT}(?:\s*,\s*{_IDENT})*)\s*(:=|:)\s*(.*)", re.DOTALL)
# What makes a type a proposition rather than data: (in)equalities, orders, implications and
# arrows, negation, conjunction, disjunction, iff, quantifiers, sig and sumbool braces.
_PROPOSITIONAL = re.compile(r"[=<>~{}|]|/\\|\\/|\b(?:forall|exists|fun|let|match|if)\b")
# Premises whose statement declares data (a function, a section's type, a local `Let` gone
# with its section) rather than a proof: `auto using` refuses the whole list over one of them
# ("length cannot be used as a hint"). Inductives stay (their constructors are the hints).
_DATA_DECLARATION = re.compile(
    r"\s*(?:#\[[^\]]*\]\s*)*(?:(?:Local|Global|Program)\s+)*"
    r"(?:Definition|Fixpoint|CoFixpoint|Variables?|Context|Let|Parameters?)\b"
)
_SORTS = frozenset({"Type", "Set", "Prop", "SProp"})
_OPEN, _CLOSE = "([{", ")]}"


def coq_symbols(text: str) -> frozenset[str]:
    """The constants and operators of Coq text, without variables, binders and punctuation."""
    return frozenset(
        token
        for token in _TOKEN.findall(text)
        if token not in _SYNTAX and (token in _CONSTANTS or not _VARIABLE.fullmatch(token))
    )


class Hypothesis(NamedTuple):
    """A hypothesis as Coq prints it."""

    names: list[str]  # several for `n, m : nat`
    rest: str  # the type, or `body : type` for a local definition
    defined: bool  # a local definition `x := body : type`


def split_hypothesis(text: str) -> Hypothesis | None:
    """The parts of a printed hypothesis, or None if it is not one."""
    found = _HYPOTHESIS.fullmatch(text)
    if found is None:
        return None
    names = [name.strip() for name in found.group(1).split(",")]
    return Hypothesis(names, found.group(3).strip(), found.group(2) == ":=")


def _is_name(name: str) -> bool:
    """Whether ``name`` is one Coq name the grammar accepts as a tactic's argument."""
    if not _NAME.fullmatch(name):
        return False
    try:
        parse_tactic(f"apply {name}")
    except TacticRejected:
        return False
    return True


def _top_level(text: str, stop: str) -> int:
    """The index of the first ``stop`` outside brackets in ``text`` (-1: none)."""
    depth = 0
    for i, c in enumerate(text):
        if depth == 0 and c == stop:
            return i
        depth += (c in _OPEN) - (c in _CLOSE)
    return -1


def _chunks(text: str) -> list[str]:
    """The top-level parts of a binder list: bare words and bracketed groups, brackets kept."""
    chunks: list[str] = []
    current, depth = "", 0
    for c in text:
        if depth == 0 and (c.isspace() or (c in _OPEN and current not in ("", "'"))):
            chunks.append(current)
            current = ""
        if not (depth == 0 and c.isspace()):
            current += c
        depth += (c in _OPEN) - (c in _CLOSE)
    return [chunk for chunk in [*chunks, current] if chunk]


def leading_binders(conclusion: str) -> list[tuple[str, str | None]]:
    """``(name, type or None)`` of the conclusion's leading ``forall``, in order.

    Both ``forall n m : nat, ...`` and ``forall (n m : nat) (l : list A) k, ...``; pattern
    binders (``forall '(x, y), ...``) bind no name and are skipped.
    """
    found = re.match(r"\s*forall\s", conclusion)
    if found is None:
        return []
    rest = conclusion[found.end() :]
    end = _top_level(rest, ",")
    if end < 0:
        return []
    binders = rest[:end]
    colon = _top_level(binders, ":")
    if colon >= 0:  # `names : type`, no brackets
        return [(name, binders[colon + 1 :].strip()) for name in binders[:colon].split()]
    out: list[tuple[str, str | None]] = []
    for chunk in _chunks(binders):
        if chunk[0] in "({":  # `(n m : nat)`, `{A : Type}`, `{A}`
            names, colon_, type_ = chunk[1:-1].partition(":")
            out += [(name, type_.strip() if colon_ else None) for name in names.split()]
        elif _NAME.fullmatch(chunk):
            out.append((chunk, None))
    return out


def is_data_type(type_: str, opaque: frozenset[str] = frozenset()) -> bool:
    """Whether a variable of type ``type_`` is data to destruct, not a proof to use.

    The heuristic: an applied identifier (``nat``, ``list A``, ``bool``, ``A * B``, also an
    inductive predicate such as ``NoDup l``, on which induction is rule induction) with none
    of the propositional marks ``= < > -> /\\ \\/ ~ <-> <= <>``, no quantifier and no braces;
    not a sort (``A : Type`` is a type, not a value) and not one of ``opaque``, the type
    variables of the goal (``x : A`` where ``A : Type``: nothing to case on).
    """
    head = re.match(_IDENT, type_.strip())
    if head is None or head.group() in _SORTS or head.group() in opaque:
        return False
    return _PROPOSITIONAL.search(type_) is None


def goal_variables(goal: Goal) -> list[str]:
    """The goal's candidate variables for ``induction``/``destruct``, in ``intros`` order.

    First the hypotheses whose type is data (``is_data_type``), then the binders of the
    conclusion's leading ``forall`` whose type is data or not written (``forall p q, ...``);
    each name once, only names the grammar accepts (not ``l₁``, not ``_``).
    """
    declared: list[tuple[str, str | None]] = []
    for text in goal.hypotheses:
        hypothesis = split_hypothesis(text)
        if hypothesis is not None and not hypothesis.defined:
            declared += [(name, hypothesis.rest) for name in hypothesis.names]
    declared += leading_binders(goal.conclusion)
    opaque = frozenset(name for name, type_ in declared if type_ in _SORTS)
    out: list[str] = []
    for name, type_ in declared:
        if name in out or name == "_" or not _is_name(name):
            continue
        if type_ is None or is_data_type(type_, opaque):
            out.append(name)
    return out


class CoqFixedTacticModel(TemplateTacticModel):
    """Fixed Coq templates with fixed priors, filled with the goal's premises and variables.

    A premise is citable when its name is one (possibly qualified) Coq identifier that the
    grammar accepts in ``apply NAME`` and its statement does not declare data (``Definition``,
    ``Fixpoint``, ``Variable``, ...: see ``_DATA_DECLARATION``). Hypotheses count towards the
    goal's symbols by their types (and bodies), not their names: ``IHl``, ``Hx`` are not
    constants. The options and their defaults are ``TemplateTacticModel``'s;
    ``configs/end_to_end/tac_model/coq_fixed.yaml`` sets those measured for Coq.
    """

    separator = ", "
    max_tactic_chars = MAX_TACTIC_CHARS
    empty_lists = False

    def __init__(self, *args: Any, num_variables: int = 3, **kwargs: Any) -> None:
        """``num_variables``: at most this many fill ``{variable}``; the other options are
        ``TemplateTacticModel``'s."""
        self.check_counts(num_variables=num_variables)
        self.num_variables = num_variables
        super().__init__(*args, **kwargs)

    def check_template(self, template: str) -> None:
        unknown = set(re.findall(r"\{\w+\}", template)) - {PLACEHOLDER, PREMISE, VARIABLE}
        if unknown:
            raise ValueError(
                f"CoqFixedTacticModel: template {template!r} has unknown placeholder(s) "
                f"{sorted(unknown)}; the placeholders are {PLACEHOLDER}, {PREMISE}, {VARIABLE}"
            )
        for names in ("PREMISE_A, PREMISE_B", "PREMISE_A"):
            text = template.replace(PLACEHOLDER, names)
            text = text.replace(PREMISE, "PREMISE_C").replace(VARIABLE, "x")
            try:
                parse_tactic(text)
            except TacticRejected as e:
                raise ValueError(
                    f"CoqFixedTacticModel: template {template!r} is not a tactic of the safe Coq "
                    f"grammar ({e}); see environments/coq/tactics.py for the allowed tactics"
                ) from e

    def symbols(self, text: str) -> frozenset[str]:
        return coq_symbols(text)

    def is_citable(self, premise: Premise) -> bool:
        return _is_name(premise.name) and not _DATA_DECLARATION.match(premise.statement)

    def goal_symbols(self, goal: Goal) -> frozenset[str]:
        found = set(coq_symbols(goal.conclusion))
        for hypothesis in goal.hypotheses:
            parsed = split_hypothesis(hypothesis)
            found |= coq_symbols(hypothesis if parsed is None else parsed.rest)
        return frozenset(found)

    def choice_fillings(self, goal: Goal, ranked: list[str]) -> dict[str, list[str]]:
        fillings = super().choice_fillings(goal, ranked)
        if any(VARIABLE in t for t in self.templates):
            fillings[VARIABLE] = goal_variables(goal)[: self.num_variables]
        return fillings

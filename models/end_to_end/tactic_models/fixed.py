"""A tactic model that needs no training: fixed templates filled with overlap-ranked premises.

It is the baseline every learned model must beat and the model the loop can run before any
training: DeepHOL's ``ASM_MESON_TAC[<premises>]`` plus HOL Light's decision procedures, with
the premises chosen by the symbols they share with the goal, or by a trained dense retriever
(``retriever``, ``retrieval/``). Three placeholders:

- ``{premises}`` (inside a theorem list): the goal's top ``num_premises`` premises;
- ``{definitions}`` (inside a theorem list): the defining theorem of each of the goal's
  constants, taken as the first premise in load order that mentions it (HOL Light binds a
  definition before any theorem about its constant), rarest constants first;
- ``{premise}`` (one theorem): the template becomes one suggestion per premise among the top
  ``num_premise_choices``, its prior shared among them (``MATCH_MP_TAC {premise}``).

What knows no tactic language (priors, premise ranking, filling and merging the templates) is
``TemplateTacticModel``, so that another prover's dialect (``coq_fixed.py``) shares it.
"""

from __future__ import annotations

import heapq
import math
import re
from abc import abstractmethod
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from data.proof_tree import Goal
from environments.base import Premise, Suggestion

# Only for validation: templates and premise names are checked against the safe grammar here,
# so a bad config fails when the model is built, not as rejected tactics during search.
from environments.hol_light.tactics import (
    MAX_INPUT_CHARS,
    TacticRejected,
    is_theorem_name,
    parse_tactic,
)
from models.end_to_end.tactic_models.base import Premises, TacticModel, check_batch

if TYPE_CHECKING:
    from models.end_to_end.tactic_models.retrieval.retriever import PremiseRetriever

PLACEHOLDER = "{premises}"
"""What a template writes where the selected premises' names go, as a theorem list."""
DEFINITIONS = "{definitions}"
"""Where the definitions of the goal's constants go, as a theorem list."""
PREMISE = "{premise}"
"""Where one ranked premise goes; the template yields one suggestion per premise."""

# Identifiers, numerals and runs of symbol characters; parentheses only group, so never count.
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_']*|[0-9]+|[^\sA-Za-z0-9_()]+")
# Names such as x, n1, P, y' are (almost always) bound or free variables: they say nothing
# about which theorem applies.
_VARIABLE = re.compile(r"[A-Za-z][0-9']*")
# Binder dots, pair commas and type colons occur nearly everywhere.
_PUNCTUATION = frozenset({".", ",", ":", ";"})
# List placeholders must fill a whole theorem list: `[{premises}]`.
_LIST_PLACEHOLDERS = (PLACEHOLDER, DEFINITIONS)
_IN_LIST = {p: re.compile(r"\[\s*" + re.escape(p) + r"\s*\]") for p in _LIST_PLACEHOLDERS}
_DUMMY_NAMES = "PREMISE_A; PREMISE_B"
# The logic's own symbols: their "definitions" (T_DEF, AND_DEF, ...) unfold a goal into lambda
# terms, never towards a proof.
_LOGICAL = frozenset(
    ["=", "!", "?", "?!", "==>", "/\\", "\\/", "~", "<=>", "T", "F", "@", "\\", "{", "}", "|"]
)


def symbols(text: str) -> frozenset[str]:
    """The constants and operators of HOL Light text, without variables and punctuation."""
    return frozenset(
        token
        for token in _TOKEN.findall(text)
        if token not in _PUNCTUATION and not _VARIABLE.fullmatch(token)
    )


def _unit_weights(goal: frozenset[str], shared: list[frozenset[str]]) -> dict[str, float]:
    """Plain overlap: every shared symbol counts once."""
    return dict.fromkeys(goal, 1.0)


def _idf_weights(goal: frozenset[str], shared: list[frozenset[str]]) -> dict[str, float]:
    """Smoothed IDF over this premise list: `+` says more about a premise than `=` or `!`."""
    df: Counter[str] = Counter()
    for found in shared:
        df.update(found)
    n = len(shared)
    return {s: math.log((n + 1) / (df[s] + 1)) + 1.0 for s in goal}


_WEIGHTS: dict[str, Callable[[frozenset[str], list[frozenset[str]]], dict[str, float]]] = {
    "overlap": _unit_weights,
    "idf": _idf_weights,
}


@dataclass(frozen=True)
class _PremiseInfo:
    """What the model keeps about a premise between calls (premise lists repeat)."""

    statement: str
    symbols: frozenset[str]
    citable: bool


class TemplateTacticModel(TacticModel):
    """Fixed templates with fixed priors, filled per goal: what every dialect shares.

    A subclass is one prover's tactic language: how a template is checked (``check_template``),
    what a term's symbols are (``symbols``), which premise names a tactic may cite
    (``is_citable``), how a list of names is written (``separator``, ``max_tactic_chars``) and
    what fills each placeholder (``list_fillings``, ``choice_fillings``). Priors are normalised
    with logsumexp; premises are ranked by the symbols they share with the goal, divided by
    sqrt(1 + the premise's symbol count) so that long premises do not win by size alone;
    ``score="idf"`` also weights each shared symbol by its rarity in the premise list. Ties go
    to the later premise (closest in load order). Premises sharing nothing are never cited.
    Templates that coincide once filled are merged, so each tactic is tried once.

    With ``retriever`` (``PremiseRetriever`` options: ``ckpt_path``, ``model``, ``device``,
    ``seed``) the premises are ranked by a dense retriever instead, batched over the goals of
    one call. The retriever's weights come from its config: ``reload`` still refuses, so a
    mixture never hands this model another model's checkpoint (the loop rebuilds its servers
    when ``retriever.ckpt_path`` changes).
    """

    list_placeholders: ClassVar[tuple[str, ...]] = (PLACEHOLDER,)
    """Placeholders filled with a list of names (``separator``-joined)."""
    separator: ClassVar[str]
    max_tactic_chars: ClassVar[int]
    """The grammar's length limit: lists of names are cut so that every filled template fits."""
    empty_lists: ClassVar[bool] = True
    """Whether a list placeholder may be filled with no name; if not, its template yields none."""

    def __init__(
        self,
        templates: Sequence[str],
        log_priors: Sequence[float] | None = None,
        num_premises: int = 20,
        score: str = "overlap",
        num_premise_choices: int = 4,
        retriever: Mapping[str, Any] | PremiseRetriever | None = None,
    ) -> None:
        name = type(self).__name__
        if isinstance(templates, str):
            raise ValueError(f"{name}: templates must be a list, got {templates!r}")
        self.templates = list(templates)
        if not self.templates:
            raise ValueError(f"{name}: templates is empty; give at least one tactic")
        for template in self.templates:
            if not isinstance(template, str) or not template.strip():
                raise ValueError(f"{name}: template {template!r} is not a non-empty string")
            self.check_template(template)
        if log_priors is None:
            priors = [0.0] * len(self.templates)
        else:
            priors = [float(p) for p in log_priors]
            if len(priors) != len(self.templates):
                raise ValueError(
                    f"{name}: log_priors has {len(priors)} entries but there are "
                    f"{len(self.templates)} templates; give one per template or none"
                )
            bad = [p for p in priors if not math.isfinite(p)]
            if bad:
                raise ValueError(f"{name}: log_priors must be finite, got {bad}")
        total = float(np.logaddexp.reduce(priors))
        self.log_priors = [p - total for p in priors]
        self.check_counts(num_premises=num_premises, num_premise_choices=num_premise_choices)
        self.num_premises = num_premises
        self.num_premise_choices = num_premise_choices
        if score not in _WEIGHTS:
            raise ValueError(f"{name}: unknown score {score!r}; choose one of {sorted(_WEIGHTS)}")
        self.score = score
        self._weights = _WEIGHTS[score]
        # The longest name list every template can take and stay within the grammar's limit.
        lists = [(t, sum(t.count(p) for p in self.list_placeholders)) for t in self.templates]
        self._max_list_chars = min(
            (
                (self.max_tactic_chars - len(t)) // count + len(PLACEHOLDER)
                for t, count in lists
                if count
            ),
            default=self.max_tactic_chars,
        )
        # By name; the statement is kept to notice a different premise under a known name.
        self._premises: dict[str, _PremiseInfo] = {}
        # The dense ranker of the premises, if any (None: rank them by shared symbols).
        self.retriever = None if retriever is None else _retriever(retriever)
        if self.retriever is not None:
            self.checkpoint = self.retriever.checkpoint

    # The dialect.

    @abstractmethod
    def check_template(self, template: str) -> None:
        """Raise ValueError naming ``template`` unless every way of filling it parses."""

    @abstractmethod
    def symbols(self, text: str) -> frozenset[str]:
        """The constants and operators of a term (or hypothesis) of the dialect."""

    @abstractmethod
    def is_citable(self, premise: Premise) -> bool:
        """Whether a tactic of the dialect may cite ``premise``."""

    def goal_symbols(self, goal: Goal) -> frozenset[str]:
        """Symbols of the conclusion and the hypotheses: assumptions say which theorems help."""
        found = set(self.symbols(goal.conclusion))
        for hypothesis in goal.hypotheses:
            found |= self.symbols(hypothesis)
        return frozenset(found)

    def list_fillings(
        self, goal: Goal, premises: Premises, ranked: list[str]
    ) -> dict[str, list[str]]:
        """Per list placeholder, the names it lists (``ranked``: the goal's best premises)."""
        return {PLACEHOLDER: ranked[: self.num_premises]}

    def choice_fillings(self, goal: Goal, ranked: list[str]) -> dict[str, list[str]]:
        """Per one-name placeholder, the names its template yields one suggestion each for."""
        return {PREMISE: ranked[: self.num_premise_choices]}

    def check_counts(self, **counts: int) -> None:
        """Raise ValueError unless every one of ``counts`` is an int >= 0."""
        for key, value in counts.items():
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{type(self).__name__}: {key} must be an int, got {value!r}")
            if value < 0:
                raise ValueError(f"{type(self).__name__}: {key} must be >= 0, got {value}")

    # The machinery.

    def get_tactics(self, goals: list[Goal], premises: list[Premises]) -> list[list[Suggestion]]:
        check_batch(goals, premises)
        count = max(self.num_premises, self.num_premise_choices)
        if self.retriever is not None:
            ranked = self._retrieve(goals, premises, count)  # one pass over the whole batch
        else:
            ranked = [
                self.select_premises(g, ps, count) for g, ps in zip(goals, premises, strict=True)
            ]
        return [
            self._suggest(goal, ps, names)
            for goal, ps, names in zip(goals, premises, ranked, strict=True)
        ]

    def select_premises(
        self, goal: Goal, premises: Sequence[Premise], count: int | None = None
    ) -> list[str]:
        """Names of the (at most ``count``, default ``num_premises``) premises that best match
        ``goal``, best first."""
        count = self.num_premises if count is None else count
        if count == 0 or not premises:
            return []
        if self.retriever is not None:
            return self._retrieve([goal], [premises], count)[0]
        goal_symbols = self.goal_symbols(goal)
        infos = [self._info(p) for p in premises]
        shared = [goal_symbols & info.symbols for info in infos]
        weights = self._weights(goal_symbols, shared)
        scores = [
            math.fsum(weights[s] for s in found) / math.sqrt(len(info.symbols) + 1)
            if found and info.citable
            else 0.0
            for found, info in zip(shared, infos, strict=True)
        ]
        candidates = (i for i, s in enumerate(scores) if s > 0.0)
        best = heapq.nlargest(count, candidates, key=lambda i: (scores[i], i))
        return [premises[i].name for i in best]

    def _retrieve(
        self, goals: list[Goal], premises: Sequence[Sequence[Premise]], count: int
    ) -> list[list[str]]:
        """Per goal, the names of its ``count`` citable premises the retriever ranks best."""
        assert self.retriever is not None
        citable: list[Sequence[Premise]] = [
            [p for p in ps if self._info(p).citable] for ps in premises
        ]
        ranked = self.retriever.rank(goals, citable, count)
        return [[premise.name for premise, _ in found] for found in ranked]

    def _info(self, premise: Premise) -> _PremiseInfo:
        info = self._premises.get(premise.name)
        if info is None or info.statement != premise.statement:
            symbols = self.symbols(premise.statement)
            info = _PremiseInfo(premise.statement, symbols, self.is_citable(premise))
            self._premises[premise.name] = info
        return info

    def _fill(self, names: list[str]) -> str:
        """The names as the inside of a list, cut to fit the grammar's length limit."""
        length = -len(self.separator)
        for count, name in enumerate(names):
            length += len(name) + len(self.separator)
            if length > self._max_list_chars:
                names = names[:count]
                break
        return self.separator.join(names)

    def _suggest(self, goal: Goal, premises: Premises, ranked: list[str]) -> list[Suggestion]:
        """The filled templates for ``goal``, given its premises' names ranked best first."""
        lists = {
            p: self._fill(names) for p, names in self.list_fillings(goal, premises, ranked).items()
        }
        choices = self.choice_fillings(goal, ranked)
        # Templates can coincide once filled (REWRITE_TAC[{premises}] with no premises is
        # REWRITE_TAC[]): merge them, so each tactic is tried once.
        merged: dict[str, float] = {}
        for template, logprob in zip(self.templates, self.log_priors, strict=True):
            if not self.empty_lists and any(p in template and not t for p, t in lists.items()):
                continue
            filled = template
            for placeholder, text in lists.items():
                filled = filled.replace(placeholder, text)
            # One suggestion per combination of the one-name placeholders it uses, the
            # template's prior shared among them; none to choose from: no suggestion.
            tactics = [filled]
            for placeholder, names in choices.items():
                if placeholder in filled:
                    tactics = [t.replace(placeholder, name) for t in tactics for name in names]
            logprob -= math.log(max(len(tactics), 1))
            for tactic in tactics:
                previous = merged.get(tactic)
                merged[tactic] = (
                    logprob if previous is None else float(np.logaddexp(previous, logprob))
                )
        # A {premise} template without premises yields nothing: renormalise what is left.
        total = float(np.logaddexp.reduce(list(merged.values()))) if merged else 0.0
        return sorted(((t, lp - total) for t, lp in merged.items()), key=lambda item: -item[1])


class FixedTacticModel(TemplateTacticModel):
    """Fixed HOL Light templates with fixed priors; ``{premises}`` is filled with the goal's
    top-k premises.

    HOL Light-specific by nature: its templates are HOList tactics, checked against the safe
    grammar of ``environments.hol_light.tactics`` once, when the model is built; premises are
    ranked as ``TemplateTacticModel`` says. ``{definitions}`` is filled by the first premise
    mentioning each of the goal's constants, with or without ``retriever``.
    """

    list_placeholders = _LIST_PLACEHOLDERS
    separator = "; "
    max_tactic_chars = MAX_INPUT_CHARS

    def __init__(self, *args: Any, num_definitions: int = 8, **kwargs: Any) -> None:
        """``num_definitions``: at most this many fill ``{definitions}``; the other options are
        ``TemplateTacticModel``'s."""
        self.check_counts(num_definitions=num_definitions)
        self.num_definitions = num_definitions
        # The premise list last indexed and, per symbol, its first premise that mentions it.
        self._first_mention: tuple[Sequence[Premise], dict[str, int]] | None = None
        super().__init__(*args, **kwargs)

    def check_template(self, template: str) -> None:
        for placeholder in _LIST_PLACEHOLDERS:
            if len(_IN_LIST[placeholder].findall(template)) != template.count(placeholder):
                raise ValueError(
                    f"FixedTacticModel: template {template!r} uses {placeholder} outside a "
                    f"theorem list; write it as a whole list, e.g. 'REWRITE_TAC[{placeholder}]'"
                )
        fillings = [(_DUMMY_NAMES, "PREMISE_C"), ("", "PREMISE_C")]
        for names, name in fillings:
            text = template.replace(PREMISE, name)
            for placeholder in _LIST_PLACEHOLDERS:
                text = text.replace(placeholder, names)
            try:
                parse_tactic(text)
            except TacticRejected as e:
                raise ValueError(
                    f"FixedTacticModel: template {template!r} is not a tactic of the safe HOL "
                    f"Light grammar ({e}); see environments/hol_light/tactics.py for the allowed "
                    "tactics"
                ) from e

    def symbols(self, text: str) -> frozenset[str]:
        return symbols(text)

    def is_citable(self, premise: Premise) -> bool:
        return is_theorem_name(premise.name)

    def list_fillings(
        self, goal: Goal, premises: Premises, ranked: list[str]
    ) -> dict[str, list[str]]:
        return {
            PLACEHOLDER: ranked[: self.num_premises],
            DEFINITIONS: self.select_definitions(goal, premises),
        }

    def select_definitions(self, goal: Goal, premises: Sequence[Premise]) -> list[str]:
        """The defining premise of each non-logical constant of ``goal``, rarest constant first.

        A constant's definition is the first premise, in load order, that mentions it: HOL
        Light binds ``SUBSET``'s definition before any theorem about ``SUBSET``.
        """
        if self.num_definitions == 0 or not premises:
            return []
        first = self._first_mentions(premises)
        found = {
            symbol: first[symbol]
            for symbol in self.goal_symbols(goal) - _LOGICAL
            if symbol in first and self._info(premises[first[symbol]]).citable
        }
        # The later a constant is introduced, the more specific it is: rarest first.
        ranked = sorted(set(found.values()), reverse=True)[: self.num_definitions]
        return [premises[i].name for i in ranked]

    def _first_mentions(self, premises: Sequence[Premise]) -> dict[str, int]:
        """Per symbol, the index of the first premise mentioning it (cached per premise list)."""
        if self._first_mention is not None and self._first_mention[0] is premises:
            return self._first_mention[1]
        first: dict[str, int] = {}
        for i, premise in enumerate(premises):
            for symbol in self._info(premise).symbols:
                first.setdefault(symbol, i)
        self._first_mention = (premises, first)
        return first


def _retriever(config: Mapping[str, Any] | PremiseRetriever) -> PremiseRetriever:
    # Imported here, so that the fixed model loads torch and transformers only when asked to.
    from models.end_to_end.tactic_models.retrieval.retriever import build_retriever

    return build_retriever(config, "cpu")

"""A tactic model that needs no training: fixed templates filled with overlap-ranked premises.

It is the baseline every learned model must beat and the model the loop can run before any
training: DeepHOL's ``ASM_MESON_TAC[<premises>]`` plus HOL Light's decision procedures, with
the premises chosen by the symbols they share with the goal.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

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

PLACEHOLDER = "{premises}"
"""What a template writes where the selected premises' names go, as a theorem list."""

# Identifiers, numerals and runs of symbol characters; parentheses only group, so never count.
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_']*|[0-9]+|[^\sA-Za-z0-9_()]+")
# Names such as x, n1, P, y' are (almost always) bound or free variables: they say nothing
# about which theorem applies.
_VARIABLE = re.compile(r"[A-Za-z][0-9']*")
# Binder dots, pair commas and type colons occur nearly everywhere.
_PUNCTUATION = frozenset({".", ",", ":", ";"})
# Every placeholder must fill a whole theorem list: `[{premises}]`.
_PLACEHOLDER_IN_LIST = re.compile(r"\[\s*" + re.escape(PLACEHOLDER) + r"\s*\]")
_DUMMY_NAMES = "PREMISE_A; PREMISE_B"


def symbols(text: str) -> frozenset[str]:
    """The constants and operators of HOL Light text, without variables and punctuation."""
    return frozenset(
        token
        for token in _TOKEN.findall(text)
        if token not in _PUNCTUATION and not _VARIABLE.fullmatch(token)
    )


def _goal_symbols(goal: Goal) -> frozenset[str]:
    """Symbols of the conclusion and the hypotheses: assumptions say which theorems help too."""
    found = set(symbols(goal.conclusion))
    for hypothesis in goal.hypotheses:
        found |= symbols(hypothesis)
    return frozenset(found)


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


def _check_template(template: str) -> None:
    """Raise ValueError naming ``template`` unless every way of filling it parses."""
    if not isinstance(template, str) or not template.strip():
        raise ValueError(f"FixedTacticModel: template {template!r} is not a non-empty string")
    count = template.count(PLACEHOLDER)
    if len(_PLACEHOLDER_IN_LIST.findall(template)) != count:
        raise ValueError(
            f"FixedTacticModel: template {template!r} uses {PLACEHOLDER} outside a theorem list;"
            f" write it as a whole list, e.g. 'REWRITE_TAC[{PLACEHOLDER}]'"
        )
    for names in (_DUMMY_NAMES, ""):
        try:
            parse_tactic(template.replace(PLACEHOLDER, names))
        except TacticRejected as e:
            raise ValueError(
                f"FixedTacticModel: template {template!r} is not a tactic of the safe HOL Light"
                f" grammar ({e}); see environments/hol_light/tactics.py for the allowed tactics"
            ) from e


class FixedTacticModel(TacticModel):
    """Fixed templates with fixed priors; ``{premises}`` is filled with the goal's top-k premises.

    HOL Light-specific by nature: its templates are HOList tactics, checked against the safe
    grammar of ``environments.hol_light.tactics`` once, when the model is built. Premises are
    ranked by the symbols they share with the goal (conclusion and hypotheses), divided by
    sqrt(1 + the premise's symbol count) so that long premises do not win by size alone;
    ``score="idf"`` also weights each shared symbol by its rarity in the premise list. Ties go
    to the later premise (closest in load order). Premises sharing nothing are never cited.
    """

    def __init__(
        self,
        templates: Sequence[str],
        log_priors: Sequence[float] | None = None,
        num_premises: int = 20,
        score: str = "overlap",
    ) -> None:
        if isinstance(templates, str):
            raise ValueError(f"FixedTacticModel: templates must be a list, got {templates!r}")
        self.templates = list(templates)
        if not self.templates:
            raise ValueError("FixedTacticModel: templates is empty; give at least one tactic")
        for template in self.templates:
            _check_template(template)
        if log_priors is None:
            priors = [0.0] * len(self.templates)
        else:
            priors = [float(p) for p in log_priors]
            if len(priors) != len(self.templates):
                raise ValueError(
                    f"FixedTacticModel: log_priors has {len(priors)} entries but there are "
                    f"{len(self.templates)} templates; give one per template or none"
                )
            bad = [p for p in priors if not math.isfinite(p)]
            if bad:
                raise ValueError(f"FixedTacticModel: log_priors must be finite, got {bad}")
        total = float(np.logaddexp.reduce(priors))
        self.log_priors = [p - total for p in priors]
        if isinstance(num_premises, bool) or not isinstance(num_premises, int):
            raise ValueError(f"FixedTacticModel: num_premises must be an int, got {num_premises!r}")
        if num_premises < 0:
            raise ValueError(f"FixedTacticModel: num_premises must be >= 0, got {num_premises}")
        self.num_premises = num_premises
        if score not in _WEIGHTS:
            raise ValueError(
                f"FixedTacticModel: unknown score {score!r}; choose one of {sorted(_WEIGHTS)}"
            )
        self.score = score
        self._weights = _WEIGHTS[score]
        # The longest name list every template can take and stay within the grammar's limit.
        self._max_list_chars = min(
            (
                (MAX_INPUT_CHARS - len(t)) // t.count(PLACEHOLDER) + len(PLACEHOLDER)
                for t in self.templates
                if PLACEHOLDER in t
            ),
            default=MAX_INPUT_CHARS,
        )
        # By name; the statement is kept to notice a different premise under a known name.
        self._premises: dict[str, _PremiseInfo] = {}

    def get_tactics(self, goals: list[Goal], premises: list[Premises]) -> list[list[Suggestion]]:
        check_batch(goals, premises)
        return [self._suggest(goal, ps) for goal, ps in zip(goals, premises, strict=True)]

    def select_premises(self, goal: Goal, premises: Sequence[Premise]) -> list[str]:
        """Names of the (at most ``num_premises``) premises that best match ``goal``, best first."""
        if self.num_premises == 0 or not premises:
            return []
        goal_symbols = _goal_symbols(goal)
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
        best = heapq.nlargest(self.num_premises, candidates, key=lambda i: (scores[i], i))
        return [premises[i].name for i in best]

    def _info(self, premise: Premise) -> _PremiseInfo:
        info = self._premises.get(premise.name)
        if info is None or info.statement != premise.statement:
            citable = info.citable if info is not None else is_theorem_name(premise.name)
            info = _PremiseInfo(premise.statement, symbols(premise.statement), citable)
            self._premises[premise.name] = info
        return info

    def _fill(self, names: list[str]) -> str:
        """The names as the inside of a theorem list, cut to fit the grammar's length limit."""
        length = -2
        for count, name in enumerate(names):
            length += len(name) + 2
            if length > self._max_list_chars:
                names = names[:count]
                break
        return "; ".join(names)

    def _suggest(self, goal: Goal, premises: Premises) -> list[Suggestion]:
        theorem_list = self._fill(self.select_premises(goal, premises))
        # Templates can coincide once filled (REWRITE_TAC[{premises}] with no premises is
        # REWRITE_TAC[]): merge them, so each tactic is tried once and the mass still sums to 1.
        merged: dict[str, float] = {}
        for template, logprob in zip(self.templates, self.log_priors, strict=True):
            tactic = template.replace(PLACEHOLDER, theorem_list)
            previous = merged.get(tactic)
            merged[tactic] = logprob if previous is None else float(np.logaddexp(previous, logprob))
        return sorted(merged.items(), key=lambda item: -item[1])

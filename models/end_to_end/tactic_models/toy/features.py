"""What the learned toy model sees of a goal and a candidate tactic: a short vector of numbers.

A goal is described by its conclusion's top connectives, the connectives of its hypotheses
and a few facts the rules care about (is the conclusion a hypothesis, is F); a candidate by
its template and, for ``elim i``, the same description of hypothesis ``i`` and how it relates
to the rest (is its antecedent a hypothesis, is its consequent the conclusion). Plain Python:
the model turns the lists into tensors. Changing the features changes ``FEATURE_DIM``, which
checkpoints record, so an old checkpoint is refused rather than misread.
"""

from __future__ import annotations

from environments.toy.logic import (
    CONNECTIVES,
    FALSE,
    IMP,
    Binary,
    Formula,
    Not,
    children,
    connective,
    size,
)
from environments.toy.rules import Sequent
from environments.toy.tactics import TEMPLATES
from models.end_to_end.tactic_models.toy.candidates import Candidate

_CONNECTIVE_INDEX = {name: i for i, name in enumerate(CONNECTIVES)}
_TEMPLATE_INDEX = {name: i for i, name in enumerate(TEMPLATES)}
_SHAPE = 3 * len(CONNECTIVES)  # a formula's connective and its two operands' connectives
_GOAL = _SHAPE + len(CONNECTIVES) + 6
_CANDIDATE = len(TEMPLATES) + _SHAPE + 6
FEATURE_DIM = _GOAL + _CANDIDATE


def _one_hot(index: int | None, length: int) -> list[float]:
    out = [0.0] * length
    if index is not None:
        out[index] = 1.0
    return out


def _shape(formula: Formula) -> list[float]:
    """One-hot connectives of the formula and of its first and second operands."""
    parts = children(formula)
    out = _one_hot(_CONNECTIVE_INDEX[connective(formula)], len(CONNECTIVES))
    for k in range(2):
        index = _CONNECTIVE_INDEX[connective(parts[k])] if k < len(parts) else None
        out += _one_hot(index, len(CONNECTIVES))
    return out


def _scaled(count: int, cap: int) -> float:
    return min(count, cap) / cap


def goal_features(s: Sequent) -> list[float]:
    """The goal's description (``_GOAL`` numbers)."""
    c, hyps = s.conclusion, s.hypotheses
    counts = [0] * len(CONNECTIVES)
    for h in hyps:
        counts[_CONNECTIVE_INDEX[connective(h)]] += 1
    implications = [h for h in hyps if isinstance(h, Binary) and h.op == IMP]
    return [
        *_shape(c),
        *(_scaled(n, 4) for n in counts),
        float(c in hyps),
        float(FALSE in hyps),
        float(Not(c) in hyps),
        float(any(h.left in hyps for h in implications)),
        _scaled(len(hyps), 8),
        _scaled(size(c), 20),
    ]


def candidate_features(s: Sequent, candidate: Candidate) -> list[float]:
    """The candidate's description (``_CANDIDATE`` numbers); zeros past the template for all
    but ``elim``."""
    template = _one_hot(_TEMPLATE_INDEX[candidate.template], len(TEMPLATES))
    if candidate.hypothesis is None:
        return template + [0.0] * (_CANDIDATE - len(TEMPLATES))
    h = s.hypotheses[candidate.hypothesis]
    parts = children(h)
    first = parts[0] if parts else None
    second = parts[1] if len(parts) > 1 else None
    return [
        *template,
        *_shape(h),
        float(first is not None and first in s.hypotheses),
        float(first == s.conclusion),
        float(second == s.conclusion),
        float(second is not None and second in s.hypotheses),
        _scaled(size(h), 20),
        _scaled(candidate.hypothesis, 8),
    ]


def features(s: Sequent, candidates: list[Candidate]) -> list[list[float]]:
    """One ``FEATURE_DIM`` row per candidate: the goal's description, then the candidate's."""
    goal = goal_features(s)
    return [goal + candidate_features(s, c) for c in candidates]

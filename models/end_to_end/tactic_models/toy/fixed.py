"""The toy prover's tactic model without weights: the candidates that fit, with fixed priors.

The baseline the learned toy model must beat, and the prior the loop mixes into it so that
the untrained first iteration proves something.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from data.proof_tree import Goal
from environments.base import Suggestion
from environments.toy.tactics import TEMPLATES
from models.end_to_end.tactic_models.base import Premises, TacticModel, check_batch
from models.end_to_end.tactic_models.toy.candidates import candidates, goal_sequent


def normalised(scored: list[tuple[str, float]]) -> list[Suggestion]:
    """``scored`` as log-probabilities (logsumexp 0), best first (ties keep their order)."""
    if not scored:
        return []
    total = float(np.logaddexp.reduce([score for _, score in scored]))
    return sorted(((tactic, score - total) for tactic, score in scored), key=lambda s: -s[1])


class ToyFixedTacticModel(TacticModel):
    """Every candidate that fits the goal (``candidates.py``), scored by its template's prior.

    ``log_priors`` maps each template of the toy language to an unnormalised log-prior; each
    ``elim i`` gets the ``elim`` prior. Under best-first search the priors order the tries, so
    give rules that lose nothing (``assumption``, ``intro``, ``split``) the highest.
    """

    def __init__(self, log_priors: Mapping[str, float]) -> None:
        priors = {str(name): float(value) for name, value in dict(log_priors).items()}
        if set(priors) != set(TEMPLATES):
            raise ValueError(
                f"ToyFixedTacticModel: log_priors must give one prior per template {TEMPLATES}; "
                f"missing {sorted(set(TEMPLATES) - set(priors))}, "
                f"unknown {sorted(set(priors) - set(TEMPLATES))}"
            )
        bad = {name: value for name, value in priors.items() if not math.isfinite(value)}
        if bad:
            raise ValueError(f"ToyFixedTacticModel: log_priors must be finite, got {bad}")
        self.log_priors = priors

    def get_tactics(self, goals: list[Goal], premises: list[Premises]) -> list[list[Suggestion]]:
        check_batch(goals, premises)
        return [self._suggest(goal) for goal in goals]

    def _suggest(self, goal: Goal) -> list[Suggestion]:
        sequent = goal_sequent(goal)
        if sequent is None:
            return []
        return normalised([(c.tactic, self.log_priors[c.template]) for c in candidates(sequent)])

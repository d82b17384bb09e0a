"""The GoalModel interface (the critic): goals in, log-probability that each is provable out.

Batched by design, like the tactic model: a ``GoalServer`` answers many provers' goals in one
call. HTPS, UpDown and Fringe never see this class: the prover hands them its ``values`` as a
plain function (``SearchModel.bind``), so searches stay free of models and Ray.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

from data.proof_tree import Goal


class GoalModel(ABC):
    """Values goals: ``log P(provable)``, at most 0, one per goal."""

    checkpoint: str | None = None
    """Where the weights came from (None for models without weights); recorded in traces."""

    @abstractmethod
    def values(self, goals: list[Goal]) -> list[float]:
        """One log-probability (<= 0, -inf allowed) per goal, in order."""

    def reload(self, checkpoint: str) -> None:
        """Load new weights between iterations; models without weights cannot."""
        raise NotImplementedError(
            f"{type(self).__name__} has no weights to reload (asked to load {checkpoint!r})"
        )


class ConstantGoalModel(GoalModel):
    """Every goal has the same value: no critic (iteration 0, tests, benchmarks).

    The default, log 0.5, is an uninformed coin, as HTPS's authors use without a critic.
    """

    def __init__(self, logprob: float = math.log(0.5)) -> None:
        if not (logprob <= 0.0):  # also refuses NaN
            raise ValueError(f"goal_model.logprob: must be a log-probability <= 0, got {logprob}")
        self.logprob = float(logprob)

    def values(self, goals: list[Goal]) -> list[float]:
        return [self.logprob] * len(goals)


def check_values(goals: list[Goal], values: list[float]) -> list[float]:
    """``values`` if it is one log-probability per goal; a ValueError naming the problem if not.

    The prover checks every answer: a NaN or a positive value would silently corrupt a search.
    """
    if len(values) != len(goals):
        raise ValueError(f"goal model returned {len(values)} values for {len(goals)} goals")
    for goal, value in zip(goals, values, strict=True):
        if not isinstance(value, int | float) or math.isnan(value) or value > 0.0:
            raise ValueError(
                f"goal model returned {value!r} for goal {goal}: values must be "
                "log-probabilities <= 0 (not NaN)"
            )
    return [float(v) for v in values]

"""The TacticModel interface: goals (with their premises) in, scored tactic suggestions out.

Batched by design: one call serves many goals from many provers and theorems, so a server can
answer them in one forward pass. Models are plain Python (or torch): they know nothing of Ray,
the prover or the search, which meet them only through this interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TypeAlias

from data.proof_tree import Goal
from environments.base import Premise, Suggestion

Premises: TypeAlias = Sequence[Premise]
"""The premises one goal may cite; ``premises[i]`` of a batch belongs to ``goals[i]``."""


class TacticModel(ABC):
    """Suggests tactics for goals; scores are log-probabilities normalised by the model."""

    checkpoint: str | None = None
    """Where the weights came from (None for models without weights); recorded in traces."""

    @abstractmethod
    def get_tactics(self, goals: list[Goal], premises: list[Premises]) -> list[list[Suggestion]]:
        """One list of ``(tactic, logprob)`` per goal, sorted by logprob, highest first.

        Each list's log-probabilities are normalised (their logsumexp is at most 0), so the
        search can compare and accumulate them across models and goals.
        """

    def reload(self, checkpoint: str) -> None:
        """Load new weights between iterations; models without weights cannot."""
        raise NotImplementedError(
            f"{type(self).__name__} has no weights to reload (asked to load {checkpoint!r})"
        )


def check_batch(goals: Sequence[Goal], premises: Sequence[Premises]) -> None:
    """Refuse a batch whose premise lists do not pair up with its goals, naming both lengths."""
    if len(goals) != len(premises):
        raise ValueError(
            f"get_tactics: premises must hold one list per goal (premises[i] belongs to "
            f"goals[i]); got {len(goals)} goals and {len(premises)} premise lists"
        )

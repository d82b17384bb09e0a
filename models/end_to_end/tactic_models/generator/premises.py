"""Which premises the generator reads in front of a goal, best first: the same ranking in
training (the data module) and at inference (the tactic model), or the inputs would differ.

A trained dense retriever ranks them when one is configured (``retriever``: a
``PremiseRetriever`` config); otherwise the symbol-overlap ranking of the ``fixed`` model.
Either ranks only the premises the goal may use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from data.proof_tree import Goal
from environments.base import Premise
from models.end_to_end.tactic_models.fixed import FixedTacticModel


class PremiseRanking:
    """Ranks each goal's own premises; ``retriever`` None ranks by shared rare symbols."""

    def __init__(self, retriever: Mapping[str, Any] | None = None, device: str = "cpu") -> None:
        self.retriever: Any = None
        if retriever is not None:
            # Imported here: without a retriever the generator never loads the retrieval package.
            from models.end_to_end.tactic_models.retrieval.retriever import build_retriever

            self.retriever = build_retriever(retriever, device)
        self._overlap = FixedTacticModel(["ASM_MESON_TAC[{premises}]"], score="idf")

    def rank(
        self, goals: Sequence[Goal], premises: Sequence[Sequence[Premise]], k: int
    ) -> list[list[Premise]]:
        """The (at most) ``k`` best premises of each goal, best first, in one batch."""
        if k == 0 or not goals:
            return [[] for _ in goals]
        if self.retriever is not None:
            ranked = self.retriever.rank(list(goals), [list(p) for p in premises], k)
            return [[p for p, _ in row] for row in ranked]
        out = []
        for goal, own in zip(goals, premises, strict=True):
            by_name = {p.name: p for p in reversed(own)}  # the first premise of each name
            out.append([by_name[n] for n in self._overlap.select_premises(goal, own, k)])
        return out

    def reload(self, checkpoint: str) -> None:
        """New retriever weights (the symbol-overlap ranking has none)."""
        if self.retriever is None:
            raise NotImplementedError("PremiseRanking: no retriever to reload")
        self.retriever.reload(checkpoint)

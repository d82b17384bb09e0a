"""The premises a training example may use, and the ones it did not: written once for every
data module that learns premise selection (HOList, the retriever, the generator's retrieval).

A theorem may cite the theorems loaded before it (HOL Light's theorem database, in load
order), exactly what the environment offers the prover for it. Negatives are the uncited
premises that overlap the goal's symbols most (hard, as in DeepHOL) and random ones, drawn
deterministically from a key, so a data module builds the same examples every time.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from data.hol_light.database import TheoremDatabase, TheoremRecord
from data.proof_tree import Goal
from environments.base import Premise
from models.end_to_end.tactic_models.fixed import FixedTacticModel


class PremisePool:
    """The theorem database's premises, per theorem, with a symbol-overlap ranker."""

    def __init__(self, database: str | None = None) -> None:
        self.database = TheoremDatabase.cached(database)
        self.premises = [Premise(r.name, r.statement, r.sexp) for r in self.database]
        self._by_name = {p.name: p for p in reversed(self.premises)}  # the first of a name
        self._ranker = FixedTacticModel(["ASM_MESON_TAC[{premises}]"], score="idf")

    def record(self, theorem: Mapping[str, Any], theorem_id: str) -> TheoremRecord | None:
        """The database record of a trace's theorem (by its name), or None if it is not there."""
        name = theorem.get("name", theorem_id)
        return self.database[name] if name in self.database.by_name else None

    def premise(self, name: str) -> Premise:
        """The premise called ``name`` (KeyError if there is none)."""
        return self._by_name[name]

    def available(self, record: TheoremRecord) -> list[Premise]:
        """What the theorem may cite: the premises loaded before it."""
        return self.premises[: record.position]

    def ranked(self, goal: Goal, premises: Sequence[Premise], count: int) -> list[str]:
        """Names of the ``count`` premises sharing the most (rarest) symbols with ``goal``."""
        return self._ranker.select_premises(goal, premises, count)

    def negatives(
        self,
        goal: Goal,
        available: Sequence[Premise],
        positives: Sequence[str],
        count: int,
        num_hard: int,
        key: str,
    ) -> tuple[str, ...]:
        """``count`` uncited premises of ``available``: the ``num_hard`` most overlapping with
        ``goal`` first, the rest at random (seeded by ``key``)."""
        excluded = set(positives)
        hard: list[str] = []
        if num_hard:
            ranked = self.ranked(goal, available, num_hard + len(excluded))
            hard = [n for n in ranked if n not in excluded][:num_hard]
            excluded.update(hard)
        pool = [p.name for p in available if p.name not in excluded]
        picked = random.Random(key).sample(pool, min(count - len(hard), len(pool)))
        return (*hard, *picked)


def hard_count(num_negatives: int, hard_negatives: bool, hard_fraction: float, owner: str) -> int:
    """How many of ``num_negatives`` are hard; a ValueError naming ``owner`` for bad settings."""
    if num_negatives < 0 or not 0.0 <= hard_fraction <= 1.0:
        raise ValueError(
            f"{owner}: need num_negatives >= 0 and hard_fraction in [0, 1]; got "
            f"{num_negatives} and {hard_fraction}"
        )
    return round(num_negatives * hard_fraction) if hard_negatives else 0

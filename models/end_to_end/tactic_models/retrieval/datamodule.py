"""Training data for the premise retriever: the theorems the loop's proofs cited.

For each goal with a proving tactic (`data.traces.examples`: every proving edge of every
trace, proved theorems or not) the positives are the premises its proving tactics cite (a
premise name appearing in the tactic's text), among those the theorem may use; negatives are
uncited premises, the most symbol-overlapping first (hard), the rest at random
(`premise_pool.PremisePool`). A batch labels every (goal, premise) pair of the batch, so one
goal's negative may be another's positive (ReProver's in-batch rule).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from data.proof_tree import Goal
from data.traces.examples import EdgeExample
from models.end_to_end.tactic_models.premise_pool import PremisePool, hard_count
from models.end_to_end.tactic_models.retrieval.model import RetrieverBatch, goal_text, premise_text
from models.end_to_end.trace_datamodule import EdgeDataModule

logger = logging.getLogger(__name__)

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_'.]*")


@dataclass(frozen=True)
class RetrievalExample:
    """One goal, the premises its proofs cited and premises they did not (by name)."""

    theorem: str
    goal: Goal
    positives: tuple[str, ...]
    negatives: tuple[str, ...]


def cited(tactic: str, names: frozenset[str] | set[str]) -> list[str]:
    """The names of ``names`` that ``tactic`` mentions as whole identifiers, in order."""
    return list(dict.fromkeys(t for t in _NAME.findall(tactic) if t in names))


class RetrievalDataModule(EdgeDataModule[RetrievalExample]):
    """Examples from ``trace_files`` (see `EdgeDataModule` for the splits and the held-out
    theorems). ``num_negatives`` per goal, ``hard_fraction`` of them hard; premises come
    from the theorem database (``database``, null: the packaged HOL Light one)."""

    def __init__(
        self,
        trace_files: str | Sequence[str],
        batch_size: int = 16,
        num_negatives: int = 3,
        hard_negatives: bool = True,
        hard_fraction: float = 0.5,
        val_fraction: float = 0.1,
        seed: int = 0,
        database: str | None = None,
        num_workers: int = 0,
        splits: Sequence[str] | None = ("train",),
    ) -> None:
        super().__init__(trace_files, batch_size, val_fraction, seed, splits, num_workers)
        self.num_negatives = num_negatives
        self.num_hard = hard_count(
            num_negatives, hard_negatives, hard_fraction, "RetrievalDataModule"
        )
        self.database = database

    def build_examples(
        self, labelled: Mapping[str, list[EdgeExample]]
    ) -> dict[str, list[RetrievalExample]]:
        self._pool = PremisePool(self.database)
        by_theorem: dict[str, list[RetrievalExample]] = {}
        for theorem_id, edges in sorted(labelled.items()):
            proving = [e for e in edges if e.kind == "proving"]
            if not proving:
                continue
            record = self._pool.record(proving[0].theorem, theorem_id)
            if record is None:
                logger.warning("RetrievalDataModule: %r is not in the database", theorem_id)
                self.skipped_steps += len(proving)
                continue
            available = self._pool.available(record)
            names = {p.name for p in available}
            positives: dict[Any, tuple[Goal, list[str]]] = {}
            for edge in proving:  # one example per goal: every premise its proofs cite
                goal, found = positives.setdefault(edge.goal.key, (edge.goal, []))
                found.extend(n for n in cited(edge.tactic, names) if n not in found)
            for index, (goal, found) in enumerate(positives.values()):
                if not found:
                    continue
                negatives = self._pool.negatives(
                    goal,
                    available,
                    found,
                    self.num_negatives,
                    self.num_hard,
                    key=f"{self.seed}:{theorem_id}:{index}",
                )
                example = RetrievalExample(theorem_id, goal, tuple(found), negatives)
                by_theorem.setdefault(theorem_id, []).append(example)
        return by_theorem

    def collate(self, examples: Sequence[RetrievalExample]) -> RetrieverBatch:
        """The goals, the batch's distinct premises and the full goal-by-premise label matrix."""
        columns: dict[str, int] = {}
        for e in examples:
            for name in (*e.positives, *e.negatives):
                columns.setdefault(name, len(columns))
        labels = torch.zeros(len(examples), len(columns))
        for j, e in enumerate(examples):
            for name in e.positives:
                labels[j, columns[name]] = 1.0
        return {
            "goals": [goal_text(e.goal) for e in examples],
            "premises": [premise_text(self._pool.premise(name)) for name in columns],
            "labels": labels,
        }

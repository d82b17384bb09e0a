"""Training data for the HOList tactic model, from proof traces (docs/training.md).

Each goal's best proving tactic (`data.traces.examples`: in every attempt, so the proved
subgoals of an unproved theorem count too) is one example: the goal, the tactic's name (the
class), its theorem arguments (positive premises) and premises it did not cite (negatives),
drawn from the theorems loaded before the theorem: the most symbol-overlapping first (hard
negatives, as in DeepHOL), the rest at random. Traces are read only through the one trace
loader.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from data.hol_light.database import TheoremRecord
from data.traces.examples import EdgeExample
from environments.hol_light.tactics import (
    TACTIC_SIGNATURES,
    Tactic,
    TacticRejected,
    ThmArg,
    ThmListArg,
    parse_tactic,
)
from models.embeddings.base import goal_sexp
from models.end_to_end.tactic_models.holist_model.model import HOListBatch
from models.end_to_end.tactic_models.premise_pool import PremisePool, hard_count
from models.end_to_end.trace_datamodule import EdgeDataModule

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HOListExample:
    """One proof step as a training example; premises by database name."""

    theorem: str
    goal_sexp: str
    tactic: str
    positives: tuple[str, ...]
    negatives: tuple[str, ...]


class HOListDataModule(EdgeDataModule[HOListExample]):
    """Examples from the best proving tactic of every goal in ``trace_files`` (a run's
    ``traces/`` with all its iterations, or trace files), split into train/val by theorem id.

    Only single tactics of the grammar's tactic set make examples (THEN/ORELSE compounds do not
    name one class). Negatives are drawn once, deterministically from ``seed``; examples
    without theorem arguments get none (they train the classifier only).
    """

    def __init__(
        self,
        trace_files: str | Sequence[str],
        batch_size: int = 16,
        num_negatives: int = 7,
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
        self.num_hard = hard_count(num_negatives, hard_negatives, hard_fraction, "HOListDataModule")
        self.database_path = database

    @property
    def examples(self) -> list[HOListExample]:
        return [*self.train_examples, *self.val_examples]

    def build_examples(
        self, labelled: Mapping[str, list[EdgeExample]]
    ) -> dict[str, list[HOListExample]]:
        self._pool = PremisePool(self.database_path)
        by_theorem = {}
        for theorem_id, edges in sorted(labelled.items()):
            best = [e for e in edges if e.best]
            if not best:
                continue
            record = self._pool.record(best[0].theorem, theorem_id)
            if record is None:
                logger.warning("HOListDataModule: theorem %r is not in the database", theorem_id)
                self.skipped_steps += len(best)
                continue
            examples = []
            for edge in best:
                example = self._example(record, edge)
                if example is None:
                    self.skipped_steps += 1
                else:
                    examples.append(example)
            if examples:
                by_theorem[theorem_id] = examples
        return by_theorem

    def _example(self, record: TheoremRecord, edge: EdgeExample) -> HOListExample | None:
        """The example of one proving tactic, or None if it does not fit the model."""
        if edge.goal.conclusion_sexp is None:
            return None
        try:
            expr = parse_tactic(edge.tactic)
        except TacticRejected:
            return None
        if not isinstance(expr, Tactic) or expr.name not in TACTIC_SIGNATURES:
            return None
        cited: list[str] = []
        for arg in expr.args:
            if isinstance(arg, ThmArg):
                cited.append(arg.name)
            elif isinstance(arg, ThmListArg):
                cited.extend(arg.names)
        known = self._pool.database.by_name
        positives = tuple(dict.fromkeys(n for n in cited if n in known))
        negatives = (
            self._pool.negatives(
                edge.goal,
                self._pool.available(record),
                positives,
                self.num_negatives,
                self.num_hard,
                key=f"{self.seed}:{record.name}:{edge.iteration}:{edge.edge}",
            )
            if positives
            else ()
        )
        return HOListExample(record.name, goal_sexp(edge.goal), expr.name, positives, negatives)

    def collate(self, examples: Sequence[HOListExample]) -> HOListBatch:
        """Goals, tactic names, the batch's distinct premise texts and the labelled pairs."""
        premises: dict[str, int] = {}
        pair_goal: list[int] = []
        pair_premise: list[int] = []
        pair_label: list[float] = []
        for i, example in enumerate(examples):
            labelled = [(n, 1.0) for n in example.positives] + [(n, 0.0) for n in example.negatives]
            for name, label in labelled:
                text = self._pool.database[name].sexp
                pair_goal.append(i)
                pair_premise.append(premises.setdefault(text, len(premises)))
                pair_label.append(label)
        return {
            "goals": [e.goal_sexp for e in examples],
            "tactics": [e.tactic for e in examples],
            "premises": list(premises),
            "pair_goal": torch.tensor(pair_goal, dtype=torch.long),
            "pair_premise": torch.tensor(pair_premise, dtype=torch.long),
            "pair_label": torch.tensor(pair_label, dtype=torch.float),
        }

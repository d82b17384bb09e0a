"""Training data for the learned toy tactic model: the proving tactics of the loop's traces.

Every goal's best proving tactic (`data.traces.examples`: all iterations, proved theorems or
not) is one example: the goal's candidates, as features, and which of them proved it. Only
theorems of the training split make examples, and validation holds out whole theorems
(`EdgeDataModule`, shared with the other data modules, does both).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from data.proof_tree import Goal
from data.traces.examples import EdgeExample
from models.end_to_end.tactic_models.toy.candidates import candidates, goal_sequent
from models.end_to_end.tactic_models.toy.features import features
from models.end_to_end.tactic_models.toy.model import ToyBatch, pad
from models.end_to_end.trace_datamodule import EdgeDataModule


@dataclass(frozen=True)
class ToyExample:
    """One proving step: the features of the goal's candidates and the one that proved it."""

    theorem: str
    features: list[list[float]]
    target: int


def example(theorem: str, goal: Goal, tactic: str) -> ToyExample | None:
    """The example of one proving step, or None if its tactic is not a candidate of its goal."""
    sequent = goal_sequent(goal)
    if sequent is None:
        return None
    options = candidates(sequent)
    tactics = [c.tactic for c in options]
    if tactic not in tactics:
        return None
    return ToyExample(theorem, features(sequent, options), tactics.index(tactic))


class ToyDataModule(EdgeDataModule[ToyExample]):
    """Examples from the traces in ``trace_files`` (a run's ``traces/`` directory with all its
    iterations, or trace files) of theorems in ``splits``; a ``val_fraction`` of those
    theorems is held out for validation (see `EdgeDataModule`)."""

    def __init__(
        self,
        trace_files: str | Sequence[str],
        batch_size: int = 32,
        val_fraction: float = 0.1,
        seed: int = 0,
        splits: Sequence[str] | None = ("train",),
        num_workers: int = 0,
    ) -> None:
        super().__init__(trace_files, batch_size, val_fraction, seed, splits, num_workers)

    def build_examples(
        self, labelled: Mapping[str, list[EdgeExample]]
    ) -> dict[str, list[ToyExample]]:
        by_theorem: dict[str, list[ToyExample]] = {}
        for theorem_id, edges in labelled.items():
            for edge in edges:
                if not edge.best:
                    continue
                found = example(theorem_id, edge.goal, edge.tactic)
                if found is None:
                    self.skipped_steps += 1
                else:
                    by_theorem.setdefault(theorem_id, []).append(found)
        return by_theorem

    def collate(self, examples: Sequence[ToyExample]) -> ToyBatch:
        feats, mask = pad([e.features for e in examples])
        target = torch.tensor([e.target for e in examples], dtype=torch.long)
        return {"features": feats, "mask": mask, "target": target}

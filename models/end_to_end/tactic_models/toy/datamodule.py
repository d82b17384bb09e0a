"""Training data for the learned toy tactic model: the proof steps of the loop's traces.

Every step of every proof found (all iterations; the same goal and tactic counted once per
theorem) is one example: the goal's candidates, as features, and which of them the proof
used. Only theorems of the training split make examples, and validation holds out whole
theorems (`TraceDataModule`, shared with the other data modules, does both).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from data.proof_tree import ProofStep
from data.traces.schema import ProofTrace
from models.end_to_end.tactic_models.toy.candidates import candidates, goal_sequent
from models.end_to_end.tactic_models.toy.features import features
from models.end_to_end.tactic_models.toy.model import ToyBatch, pad
from models.end_to_end.tactic_models.trace_datamodule import TraceDataModule


@dataclass(frozen=True)
class ToyExample:
    """One proof step: the features of the goal's candidates and the one the proof used."""

    theorem: str
    features: list[list[float]]
    target: int


def example(theorem: str, step: ProofStep) -> ToyExample | None:
    """The example of one proof step, or None if its tactic is not a candidate of its goal."""
    sequent = goal_sequent(step.goal)
    if sequent is None:
        return None
    options = candidates(sequent)
    tactics = [c.tactic for c in options]
    if step.tactic not in tactics:
        return None
    return ToyExample(theorem, features(sequent, options), tactics.index(step.tactic))


class ToyDataModule(TraceDataModule[ToyExample]):
    """Examples from the proved traces in ``trace_files`` (a run's ``traces/`` directory with
    all its iterations, or trace files) of theorems in ``splits``; a ``val_fraction`` of those
    theorems is held out for validation (see `TraceDataModule`)."""

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

    def build_examples(self, traces: Iterable[ProofTrace]) -> dict[str, list[ToyExample]]:
        seen: set[tuple[str, Any, str]] = set()
        by_theorem: dict[str, list[ToyExample]] = {}
        for trace in traces:
            if not trace.proved:
                continue
            for step in trace.proof_steps():
                key = (trace.theorem_id, step.goal.key, step.tactic)
                if key in seen:
                    continue
                seen.add(key)
                found = example(trace.theorem_id, step)
                if found is None:
                    self.skipped_steps += 1
                else:
                    by_theorem.setdefault(trace.theorem_id, []).append(found)
        return by_theorem

    def collate(self, examples: Sequence[ToyExample]) -> ToyBatch:
        feats, mask = pad([e.features for e in examples])
        target = torch.tensor([e.target for e in examples], dtype=torch.long)
        return {"features": feats, "mask": mask, "target": target}

"""Training data for the goal model, from proof traces (docs/goal_model.md).

Every goal of every attempt of a theorem in ``splits`` is labelled by the shared rules
(`data.traces.examples.goal_examples`: proved 1; failed, or open after ``min_effort``
expansions, 0; one example per goal over all attempts, any proof wins). Theorems are split
into train and validation by a seeded hash of their id, as the tactic models' data modules do,
so no theorem has goals on both sides. Traces are read only through the one trace loader.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch

from data.traces.examples import DEFAULT_MIN_EFFORT, GoalExample, goal_examples
from data.traces.schema import ProofTrace
from models.embeddings.base import goal_sexp
from models.end_to_end.search_models.goal_model.model import GoalBatch
from models.end_to_end.trace_datamodule import TraceDataModule

logger = logging.getLogger(__name__)


class GoalDataModule(TraceDataModule[GoalExample]):
    """Labelled goals from ``trace_files`` (a run's ``traces/`` with all its iterations, or
    trace files), split into train/val by theorem (see `TraceDataModule`).

    ``class_counts`` holds ``{"train"|"val": {"positive", "negative", "proved", "failed",
    "open"}}`` after ``setup``.
    """

    no_examples = (
        "no trace of a theorem in {splits} has a proved, failed or open goal with enough "
        "expansions; prove or search more first"
    )

    def __init__(
        self,
        trace_files: str | Path | Sequence[str | Path],
        batch_size: int = 32,
        min_effort: int = DEFAULT_MIN_EFFORT,
        val_fraction: float = 0.1,
        seed: int = 0,
        num_workers: int = 0,
        splits: Sequence[str] | None = ("train",),
    ) -> None:
        super().__init__(trace_files, batch_size, val_fraction, seed, splits, num_workers)
        goal_examples([], min_effort)  # checks min_effort now, not after reading the traces
        self.min_effort = min_effort
        self.class_counts: dict[str, dict[str, int]] = {}

    def examples_from(self, traces: Iterable[ProofTrace]) -> dict[str, list[GoalExample]]:
        by_theorem: dict[str, list[GoalExample]] = {}
        for example in goal_examples(traces, self.min_effort):
            by_theorem.setdefault(example.theorem_id, []).append(example)
        return by_theorem

    def setup(self, stage: str | None = None) -> None:
        """Read the traces, label the goals and split them, once; log the class counts."""
        if self.class_counts:
            return
        super().setup(stage)
        self.class_counts = {
            "train": _counts(self.train_examples),
            "val": _counts(self.val_examples),
        }
        for split, counts in self.class_counts.items():
            logger.info(
                "GoalDataModule: %s: %d positive, %d negative goals (%d failed, %d open after "
                ">= %d expansions)",
                split,
                counts["positive"],
                counts["negative"],
                counts["failed"],
                counts["open"],
                self.min_effort,
            )

    def collate(self, examples: Sequence[GoalExample]) -> GoalBatch:
        """Goal terms (`goal_sexp`) and float labels."""
        return {
            "goals": [goal_sexp(e.goal) for e in examples],
            "labels": torch.tensor([float(e.label) for e in examples]),
        }


def _counts(examples: Iterable[GoalExample]) -> dict[str, int]:
    counts = dict.fromkeys(("positive", "negative", "proved", "failed", "open"), 0)
    for e in examples:
        counts["positive" if e.label else "negative"] += 1
        counts[e.status] += 1
    return counts

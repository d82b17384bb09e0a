"""A tiny retriever config, batches in the data module's format, and a one-line trainer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch

# One layer of width 32: builds in milliseconds, embeds a few hundred texts in a second.
TINY: dict[str, Any] = {
    "t5": {"d_model": 32, "d_kv": 8, "d_ff": 64, "num_layers": 1, "num_heads": 2},
    "max_bytes": 128,
}


def batch(positives: Mapping[str, Sequence[str]], negatives: Sequence[str] = ()) -> dict[str, Any]:
    """A training batch: the goals, their distinct premises, and labels[j, k] = 1 when premise
    k is any positive of goal j (so one goal's negative may be another's positive)."""
    goals = list(positives)
    premises = list(dict.fromkeys([p for ps in positives.values() for p in ps] + list(negatives)))
    labels = torch.tensor(
        [[float(p in positives[g]) for p in premises] for g in goals], dtype=torch.float32
    )
    return {"goals": goals, "premises": premises, "labels": labels}


def trainer(root: Path, max_steps: int) -> pl.Trainer:
    """A quiet CPU trainer that saves nothing by itself."""
    return pl.Trainer(
        max_steps=max_steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        default_root_dir=str(root),
    )

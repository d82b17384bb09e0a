"""A tiny generator config, a Lightning fit on (source, target) pairs, and an independent
teacher-forced log-probability, shared by the generator's tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader
from transformers import ByT5Tokenizer, T5ForConditionalGeneration

from models.end_to_end.tactic_models.generator.model import GeneratorBatch, GeneratorModel

CONFIG = (
    Path(__file__).resolve().parents[5] / "configs" / "end_to_end" / "tac_model" / "generator.yaml"
)

# One layer each way: about 30 ms a training step of 32 short examples on one CPU thread.
TINY_T5: dict[str, Any] = {
    "d_model": 64,
    "d_kv": 16,
    "d_ff": 128,
    "num_layers": 1,
    "num_decoder_layers": 1,
    "num_heads": 4,
    "dropout_rate": 0.0,
}
TINY: dict[str, Any] = {"t5": TINY_T5, "lr": 3e-3, "max_output_bytes": 24}


def collate(rows: Sequence[tuple[str, str]]) -> GeneratorBatch:
    return {"sources": [s for s, _ in rows], "targets": [t for _, t in rows]}


def fit(
    model: GeneratorModel,
    sources: Sequence[str],
    targets: Sequence[str],
    steps: int,
    batch_size: int = 32,
) -> pl.Trainer:
    """Train ``model`` for ``steps`` steps with a real Lightning trainer on CPU; the trainer."""
    loader = DataLoader(
        list(zip(sources, targets, strict=True)),
        batch_size=batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(0),
        collate_fn=collate,
    )
    trainer = pl.Trainer(
        max_steps=steps,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, loader)
    return trainer


def teacher_forced_logprob(t5: T5ForConditionalGeneration, source: str, target: str) -> float:
    """log p(target </s> | source), computed with the HF tokenizer and HF's own loss:
    minus the mean token cross-entropy times the number of label tokens."""
    tokenizer = ByT5Tokenizer()
    encoded = tokenizer([source], return_tensors="pt")
    labels = tokenizer([target], return_tensors="pt")["input_ids"]
    t5 = t5.eval()
    with torch.inference_mode():
        loss = t5(
            input_ids=encoded["input_ids"].to(t5.device),
            attention_mask=encoded["attention_mask"].to(t5.device),
            labels=labels.to(t5.device),
        ).loss
    return -float(loss) * labels.shape[1]

"""ReProver's premise retriever (Yang et al. 2023) as a Lightning module: one byte-level T5
encoder embeds goals and premises alike, and a premise's score for a goal is their cosine.

Embeddings are the masked mean of the encoder's last hidden states, normalised to unit length,
so cosine is a dot product and a goal is scored against many cached premise vectors by one
matrix product. Training regresses the in-batch similarity matrix on a 0/1 label matrix (MSE),
as ReProver does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypedDict

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor
from transformers import T5EncoderModel

from data.jsonable import jsonable
from environments.base import Premise
from models.end_to_end.checkpoints import TaggedCheckpoint, load_module
from models.end_to_end.tactic_models.byt5 import (
    adamw_with_warmup,
    build_t5_config,
    byte_ids,
    load_pretrained,
)
from models.end_to_end.tactic_models.generator.inputs import format_goal


def premise_text(premise: Premise) -> str:
    """The one text form of a premise that the retriever embeds, in training and at inference."""
    return f"{premise.name}: {premise.statement}"


goal_text = format_goal
"""The goal as the retriever reads it: the generator's form (conclusion, then hypotheses)."""


class RetrieverBatch(TypedDict):
    """What the data module's collate function hands ``training_step``.

    ``premises`` are the batch's distinct positive and negative premise texts;
    ``labels[j, k]`` is 1.0 when premise k is any positive of goal j (one goal's negative may
    be another's positive), else 0.0.
    """

    goals: list[str]
    premises: list[str]
    labels: Tensor


class RetrieverModel(TaggedCheckpoint, pl.LightningModule):
    """A T5 encoder over bytes whose pooled, normalised states embed goals and premises.

    Built from ``t5`` (``T5Config`` keys over ``byt5.DEFAULT_T5``, randomly initialised with
    ``seed``) or from ``pretrained``, a local Hugging Face directory such as a downloaded
    ``google/byt5-small``. The full config goes into the hyperparameters, so a checkpoint
    rebuilds the model without that directory.
    """

    def __init__(
        self,
        t5: Mapping[str, Any] | None = None,
        pretrained: str | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        max_bytes: int = 512,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if t5 is not None and pretrained is not None:
            raise ValueError(
                "RetrieverModel: give t5 (a config to initialise randomly) or pretrained (a local "
                "model directory), not both"
            )
        if not lr > 0:
            raise ValueError(f"RetrieverModel: lr must be > 0, got {lr!r}")
        for key, value, least in (("warmup_steps", warmup_steps, 0), ("max_bytes", max_bytes, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"RetrieverModel: {key} must be an int >= {least}, got {value!r}")
        if pretrained is not None:
            self.encoder = load_pretrained(pretrained, T5EncoderModel, "RetrieverModel")
        else:
            config = build_t5_config(t5, "RetrieverModel")
            # Seeded, so every process that builds the untrained model builds the same one.
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                self.encoder = T5EncoderModel(config)
        config_dict = jsonable(self.encoder.config.to_dict(), "t5")
        self.save_hyperparameters(
            {
                "t5": config_dict,
                "pretrained": None,  # the weights travel in the checkpoint, not the directory
                "lr": lr,
                "weight_decay": weight_decay,
                "warmup_steps": warmup_steps,
                "max_bytes": max_bytes,
                "seed": seed,
            }
        )
        self.lr, self.weight_decay, self.warmup_steps = lr, weight_decay, warmup_steps
        self.max_bytes = max_bytes

    @property
    def dim(self) -> int:
        return int(self.encoder.config.d_model)

    def embed(self, texts: list[str]) -> Tensor:
        """Unit-norm embeddings ``[len(texts), dim]``; texts are cut to ``max_bytes`` bytes."""
        if not texts:
            return torch.zeros(0, self.dim, device=self.device)
        input_ids, attention_mask = byte_ids(texts, self.max_bytes)
        input_ids, attention_mask = input_ids.to(self.device), attention_mask.to(self.device)
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        # Mean over real tokens only: padding must not move a text's embedding.
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        return F.normalize(pooled, dim=-1)

    def losses(self, batch: RetrieverBatch) -> dict[str, Tensor]:
        """MSE of the similarity matrix against the labels, and in-batch recall@1: the share
        of goals with a positive whose best-scored batch premise is one."""
        goals = self.embed(batch["goals"])
        premises = self.embed(batch["premises"])
        labels = batch["labels"].to(goals.dtype)
        if labels.shape != (len(goals), len(premises)):
            raise ValueError(
                f"RetrieverModel: batch labels have shape {tuple(labels.shape)}, need "
                f"[len(goals), len(premises)] = [{len(goals)}, {len(premises)}]"
            )
        similarity = goals @ premises.T
        loss = F.mse_loss(similarity, labels)
        with torch.no_grad():
            has_positive = labels.sum(dim=1) > 0
            if len(premises) and has_positive.any():
                hit = labels.gather(1, similarity.argmax(dim=1, keepdim=True)).squeeze(1) > 0
                recall = hit[has_positive].float().mean()
            else:
                recall = similarity.new_zeros(())
        return {"loss": loss, "recall@1": recall}

    def training_step(self, batch: RetrieverBatch, batch_idx: int) -> Tensor:
        out = self.losses(batch)
        self.log("train/loss", out["loss"], batch_size=len(batch["goals"]), prog_bar=True)
        return out["loss"]

    def validation_step(self, batch: RetrieverBatch, batch_idx: int) -> None:
        out = self.losses(batch)
        size = len(batch["goals"])
        self.log("val/loss", out["loss"], batch_size=size, prog_bar=True)
        self.log("val/recall@1", out["recall@1"], batch_size=size)

    def configure_optimizers(self) -> Any:
        return adamw_with_warmup(self.parameters(), self.lr, self.weight_decay, self.warmup_steps)


def load_retriever_checkpoint(path: str | Path, device: str = "cpu") -> RetrieverModel:
    """A trained ``RetrieverModel`` from a local Lightning checkpoint, in eval mode on ``device``.

    Raises ValueError naming ``path`` if the file is missing or holds another model.
    """
    return load_module(path, RetrieverModel, "premise retriever", device)

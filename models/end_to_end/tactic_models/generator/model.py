"""The generator's Lightning module: a byte-level T5 (ByT5 vocabulary) trained to write the
tactic of a goal, as ReProver does, with token cross-entropy on ``tactic </s>``.

The architecture comes from a plain ``T5Config`` dict (random weights, seeded) or from a local
Hugging Face directory; either way the checkpoint stores the full config dict and no path, so
loading it rebuilds the model with no directory and no network. ByT5's tokenizer is
algorithmic (ids 0 pad = decoder start, 1 ``</s>``, 2 unk, 3..258 the UTF-8 bytes, then 125
sentinels), so it needs no file either.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor
from transformers import (
    ByT5Tokenizer,
    GenerationConfig,
    T5ForConditionalGeneration,
)
from transformers.modeling_outputs import BaseModelOutput

from data.files import write_atomic
from data.jsonable import jsonable
from models.end_to_end.checkpoints import TaggedCheckpoint, load_module
from models.end_to_end.tactic_models.byt5 import (
    EOS_ID,
    IGNORE_INDEX,
    PAD_ID,
    adamw_with_warmup,
    build_t5_config,
    byte_ids,
    load_pretrained,
)

logger = logging.getLogger(__name__)


class GeneratorBatch(TypedDict):
    """What the data module hands ``training_step``: formatted inputs (``inputs.format_input``)
    and the tactic each should produce."""

    sources: list[str]
    targets: list[str]


class GeneratorModel(TaggedCheckpoint, pl.LightningModule):
    """A ByT5-vocabulary ``T5ForConditionalGeneration`` trained on (formatted goal, tactic).

    ``t5`` holds ``T5Config`` keyword arguments over ``DEFAULT_T5`` (random weights seeded by
    ``seed``, without touching the global RNG); ``pretrained`` a local Hugging Face directory
    instead. ``max_input_bytes``/``max_output_bytes`` count bytes of text, with ``</s>`` on
    top, so an input that ``format_input`` fitted in ``max_input_bytes`` is never cut. Targets
    longer than ``max_output_bytes`` are truncated (the data module should drop them).
    Optimiser: AdamW, linear warmup over ``warmup_steps`` then constant (ReProver's schedule).
    """

    def __init__(
        self,
        t5: Mapping[str, Any] | None = None,
        pretrained: str | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        max_input_bytes: int = 1024,
        max_output_bytes: int = 128,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if max_input_bytes < 1 or max_output_bytes < 1 or warmup_steps < 0:
            raise ValueError(
                f"GeneratorModel: need max_input_bytes >= 1, max_output_bytes >= 1 and "
                f"warmup_steps >= 0; got {max_input_bytes}, {max_output_bytes}, {warmup_steps}"
            )
        if pretrained is not None:
            if t5 is not None:
                raise ValueError(
                    f"GeneratorModel: give t5 (a new model) or pretrained (a local directory), "
                    f"not both; set t5 to null to load '{pretrained}'"
                )
            self.t5 = load_pretrained(pretrained, T5ForConditionalGeneration, "GeneratorModel")
        else:
            config = build_t5_config(t5, "GeneratorModel")
            with torch.random.fork_rng(devices=[]):
                torch.default_generator.manual_seed(seed)  # the CPU, where weights are made
                self.t5 = T5ForConditionalGeneration(config)
        # Decoding is the tactic model's choice: a directory's generation_config.json (a
        # repetition penalty, a minimum length) must not reshape the distribution it samples.
        self.t5.generation_config = GenerationConfig(
            decoder_start_token_id=PAD_ID, pad_token_id=PAD_ID, eos_token_id=EOS_ID
        )
        # Plain data only: a checkpoint is read with weights_only=True and rebuilds this
        # architecture from the config dict, with no directory and no network.
        self.save_hyperparameters(
            {
                "t5": jsonable(self.t5.config.to_dict(), "t5"),
                "pretrained": None,
                "lr": lr,
                "weight_decay": weight_decay,
                "warmup_steps": warmup_steps,
                "max_input_bytes": max_input_bytes,
                "max_output_bytes": max_output_bytes,
                "seed": seed,
            }
        )
        self.lr, self.weight_decay, self.warmup_steps = lr, weight_decay, warmup_steps
        self.max_input_bytes, self.max_output_bytes = max_input_bytes, max_output_bytes

    def encode_sources(
        self, sources: Sequence[str], max_bytes: int | None = None
    ) -> tuple[Tensor, Tensor]:
        """``input_ids`` and ``attention_mask`` of the sources, right-truncated to
        ``max_bytes`` (default ``max_input_bytes``) bytes plus ``</s>``."""
        limit = self.max_input_bytes if max_bytes is None else max_bytes
        input_ids, attention_mask = byte_ids(sources, limit)
        return input_ids.to(self.device), attention_mask.to(self.device)

    def encode_targets(self, targets: Sequence[str], truncate: bool = True) -> Tensor:
        """Labels: each target's bytes then ``</s>``, padded with ``IGNORE_INDEX``; truncated
        to ``max_output_bytes`` bytes when ``truncate``."""
        ids, mask = byte_ids(targets, self.max_output_bytes if truncate else None)
        return ids.masked_fill(mask == 0, IGNORE_INDEX).to(self.device)

    def loss(self, batch: GeneratorBatch) -> Tensor:
        """Mean token cross-entropy of the targets given the sources (HF's own)."""
        input_ids, attention_mask = self.encode_sources(batch["sources"])
        labels = self.encode_targets(batch["targets"])
        out = self.t5(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
        return out.loss

    def target_logprobs(
        self, encoder_hidden: Tensor, attention_mask: Tensor, targets: Sequence[str]
    ) -> Tensor:
        """Log-probability of each whole target (its bytes and ``</s>``) by teacher forcing,
        given the aligned rows of encoder states: the exact score of a suggestion."""
        labels = self.encode_targets(targets, truncate=False)
        decoder_input_ids = self.t5.prepare_decoder_input_ids_from_labels(labels=labels)
        logits = self.t5(
            encoder_outputs=BaseModelOutput(last_hidden_state=encoder_hidden),
            attention_mask=attention_mask,
            decoder_input_ids=decoder_input_ids,
        ).logits
        token_logprobs = F.log_softmax(logits.float(), dim=-1)
        picked = token_logprobs.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        return picked.masked_fill(labels == IGNORE_INDEX, 0.0).sum(-1)

    def training_step(self, batch: GeneratorBatch, batch_idx: int) -> Tensor:
        loss = self.loss(batch)
        # batch_size from the list, not len(batch) (the number of keys: ReProver's and BAIT's bug).
        self.log("train/loss", loss, batch_size=len(batch["sources"]), prog_bar=True)
        return loss

    def validation_step(self, batch: GeneratorBatch, batch_idx: int) -> None:
        loss = self.loss(batch)
        self.log("val/loss", loss, batch_size=len(batch["sources"]), prog_bar=True)

    def configure_optimizers(self) -> Any:
        return adamw_with_warmup(self.parameters(), self.lr, self.weight_decay, self.warmup_steps)


def load_generator_checkpoint(path: str | Path, device: str = "cpu") -> GeneratorModel:
    """A trained ``GeneratorModel`` from a local Lightning checkpoint, in eval mode on ``device``.

    Raises ValueError naming ``path`` if the file is missing or holds another model.
    """
    return load_module(path, GeneratorModel, "generator tactic model", device)


def export_pretrained(model: GeneratorModel, out_dir: str | Path) -> Path:
    """Write ``model`` as a Hugging Face directory (weights, config, ByT5 tokenizer files) that
    ``GeneratorModel(pretrained=out_dir)`` and ``T5ForConditionalGeneration.from_pretrained``
    load; return it. Each file is replaced atomically; other files in ``out_dir`` are kept."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp") as tmp:
        model.t5.save_pretrained(tmp)
        ByT5Tokenizer().save_pretrained(tmp)
        for file in sorted(Path(tmp).rglob("*")):
            if file.is_file():
                write_atomic(out / file.relative_to(tmp), file.read_bytes())
    return out

"""The generator's Lightning module: a byte-level T5 (ByT5 vocabulary) trained to write the
tactic of a goal, as ReProver does, with token cross-entropy on ``tactic </s>``.

The architecture comes from a plain ``T5Config`` dict (random weights, seeded) or from a local
Hugging Face directory; either way the checkpoint stores the full config dict and no path, so
loading it rebuilds the model with no directory and no network. ByT5's tokenizer is
algorithmic (ids 0 pad = decoder start, 1 ``</s>``, 2 unk, 3..258 the UTF-8 bytes, then 125
sentinels), so it needs no file either.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence
from transformers import (
    AutoConfig,
    ByT5Tokenizer,
    GenerationConfig,
    T5Config,
    T5ForConditionalGeneration,
)
from transformers.modeling_outputs import BaseModelOutput

from data.files import write_atomic
from data.jsonable import jsonable
from models.end_to_end.tactic_models.checkpoints import read_checkpoint

logger = logging.getLogger(__name__)

VOCAB_SIZE = 384  # len(ByT5Tokenizer())
PAD_ID = 0  # also T5's decoder start token
EOS_ID = 1
BYTE_OFFSET = 3  # ByT5Tokenizer.offset: byte b is id b + 3, after pad, </s> and unk
IGNORE_INDEX = -100  # label value the HF cross-entropy skips

DEFAULT_T5: dict[str, Any] = {
    "d_model": 128,
    "d_kv": 32,
    "d_ff": 256,
    "num_layers": 2,
    "num_decoder_layers": 2,
    "num_heads": 4,
    "feed_forward_proj": "gated-gelu",
    "dropout_rate": 0.1,
}
"""A ~1M-parameter model that trains in minutes on 2 CPU cores (ByT5-small is ~300M)."""

# What the ByT5 tokenizer fixes; a config may repeat these values but not change them.
_FIXED_T5: dict[str, int] = {
    "vocab_size": VOCAB_SIZE,
    "pad_token_id": PAD_ID,
    "eos_token_id": EOS_ID,
    "decoder_start_token_id": PAD_ID,
}
_KNOWN_T5_KEYS = frozenset(T5Config().to_dict()) | set(_FIXED_T5)


def byte_ids(texts: Sequence[str], max_bytes: int | None = None) -> tuple[Tensor, Tensor]:
    """ByT5 ids of each text (its UTF-8 bytes, the first ``max_bytes`` if given, then
    ``</s>``), right-padded, and the attention mask.

    ``ByT5Tokenizer`` gives the same ids for ordinary text, but reads "</s>" or "<pad>" inside
    a goal as special tokens unless ``split_special_tokens``, which makes it ~30x slower (a
    fifth of a second per 64 short goals); ids are bytes + ``BYTE_OFFSET`` by its definition.
    """
    rows = []
    for text in texts:
        data = text.encode("utf-8")
        if max_bytes is not None:
            data = data[:max_bytes]
        rows.append(torch.tensor([*(b + BYTE_OFFSET for b in data), EOS_ID], dtype=torch.long))
    ids = pad_sequence(rows, batch_first=True, padding_value=PAD_ID)
    mask = pad_sequence([torch.ones_like(r) for r in rows], batch_first=True, padding_value=0)
    return ids, mask


def text_of(ids: Sequence[int]) -> str:
    """The text of ByT5 ids: their bytes as UTF-8, skipping special ids and invalid bytes, as
    ``ByT5Tokenizer.decode(ids, skip_special_tokens=True)`` does."""
    data = bytes(i - BYTE_OFFSET for i in ids if BYTE_OFFSET <= i < BYTE_OFFSET + 256)
    return data.decode("utf-8", errors="ignore")


class GeneratorBatch(TypedDict):
    """What the data module hands ``training_step``: formatted inputs (``inputs.format_input``)
    and the tactic each should produce."""

    sources: list[str]
    targets: list[str]


def build_t5_config(t5: Mapping[str, Any] | None) -> T5Config:
    """A ``T5Config`` over the ByT5 vocabulary: ``DEFAULT_T5`` updated by ``t5``."""
    config = {**DEFAULT_T5, **jsonable(t5 or {}, "t5")}
    for key, value in _FIXED_T5.items():
        if config.setdefault(key, value) != value:
            raise ValueError(
                f"GeneratorModel: t5.{key} is {config[key]!r}, but the ByT5 byte tokenizer "
                f"needs {value}; remove t5.{key} from the config"
            )
    unknown = sorted(set(config) - _KNOWN_T5_KEYS)
    if unknown:
        # Not an error: a checkpoint written by another transformers version may carry keys
        # this one does not know. A typo in a hand-written config shows up here.
        logger.warning("GeneratorModel: T5Config does not use t5 keys %s", unknown)
    return T5Config(**config)


def load_pretrained_t5(path: str) -> T5ForConditionalGeneration:
    """The T5 in the local Hugging Face directory ``path`` (float32); nothing is downloaded.

    Raises ValueError naming ``path`` if it is not a local directory (a hub name such as
    "google/byt5-small" is refused before any look-up) or holds a model that does not read
    ByT5's byte vocabulary.
    """
    directory = Path(path).expanduser()
    if not directory.is_dir():
        raise ValueError(
            f"GeneratorModel: pretrained {path!r} is not a local directory; nothing is downloaded. "
            "Point pretrained at a Hugging Face T5 directory (config.json and weights) that you "
            "obtained yourself, or one written by python -m "
            "models.end_to_end.tactic_models.generator.export"
        )
    try:
        config = AutoConfig.from_pretrained(directory, local_files_only=True)
    except Exception as e:  # transformers raises OSError, ValueError, KeyError, ...
        raise ValueError(
            f"GeneratorModel: cannot read the config in pretrained '{path}': {e}"
        ) from e
    model_type = getattr(config, "model_type", None)
    # An id the config leaves unset is ByT5's; one set otherwise means another vocabulary.
    found = {key: getattr(config, key, None) for key in _FIXED_T5}
    found = {key: value if value is not None else _FIXED_T5[key] for key, value in found.items()}
    if model_type != "t5" or found != _FIXED_T5:
        raise ValueError(
            f"GeneratorModel: pretrained '{path}' is not a ByT5 model (model_type {model_type!r}, "
            f"{found}; need model_type 't5' and {_FIXED_T5}); the generator reads bytes with "
            "ByT5's tokenizer"
        )
    for key, value in _FIXED_T5.items():
        setattr(config, key, value)
    tokenizer_config = directory / "tokenizer_config.json"
    if tokenizer_config.is_file():
        try:
            tokenizer_class = json.loads(tokenizer_config.read_text()).get("tokenizer_class")
        except (OSError, ValueError, AttributeError) as e:
            raise ValueError(f"GeneratorModel: cannot read '{tokenizer_config}': {e}") from e
        if tokenizer_class not in (None, "ByT5Tokenizer"):
            raise ValueError(
                f"GeneratorModel: pretrained '{path}' was trained with tokenizer "
                f"{tokenizer_class!r}, not ByT5Tokenizer; the generator reads bytes, so use a "
                "ByT5 checkpoint (e.g. byt5-small)"
            )
    try:
        return T5ForConditionalGeneration.from_pretrained(
            directory, config=config, local_files_only=True, dtype=torch.float32
        )
    except Exception as e:
        raise ValueError(
            f"GeneratorModel: cannot load the weights in pretrained '{path}': {e}"
        ) from e


class GeneratorModel(pl.LightningModule):
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
            self.t5 = load_pretrained_t5(pretrained)
        else:
            config = build_t5_config(t5)
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
        optimizer = torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        warmup = self.warmup_steps
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: min(1.0, (step + 1) / warmup) if warmup else 1.0
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Lets a loader refuse another model's checkpoint with a clear message.
        checkpoint["model_class"] = _MODEL_CLASS


_MODEL_CLASS = f"{GeneratorModel.__module__}.{GeneratorModel.__qualname__}"


def load_generator_checkpoint(path: str | Path, device: str = "cpu") -> GeneratorModel:
    """A trained ``GeneratorModel`` from a local Lightning checkpoint, in eval mode on ``device``.

    Raises ValueError naming ``path`` if the file is missing or holds another model.
    """
    checkpoint = read_checkpoint(path, _MODEL_CLASS, "generator tactic model", device)
    model = GeneratorModel(**checkpoint["hyper_parameters"])
    model.load_state_dict(checkpoint["state_dict"])
    return model.to(device).eval()


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

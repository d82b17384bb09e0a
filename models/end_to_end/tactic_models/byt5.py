"""What the generator and the retriever share: ByT5's byte vocabulary, the T5 configs built
on it, local loading and ReProver's optimiser.

The vocabulary: ids 0 (pad, also T5's decoder start), 1 (``</s>``), 2 (unknown), then the
UTF-8 bytes shifted by 3; 384 ids in all. It is algorithmic, so no tokenizer file is needed,
and a model is built from a plain config dict or loaded from a local directory only.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence
from transformers import AutoConfig, T5Config

from data.jsonable import jsonable

logger = logging.getLogger(__name__)

M = TypeVar("M")

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


def build_t5_config(t5: Mapping[str, Any] | None, what: str) -> T5Config:
    """A ``T5Config`` over the ByT5 vocabulary: ``DEFAULT_T5`` updated by ``t5``; ``what``
    names the caller in messages."""
    config = {**DEFAULT_T5, **jsonable(t5 or {}, "t5")}
    for key, value in _FIXED_T5.items():
        if config.setdefault(key, value) != value:
            raise ValueError(
                f"{what}: t5.{key} is {config[key]!r}, but the ByT5 byte tokenizer "
                f"needs {value}; remove t5.{key} from the config"
            )
    unknown = sorted(set(config) - _KNOWN_T5_KEYS)
    if unknown:
        # Not an error: a checkpoint written by another transformers version may carry keys
        # this one does not know. A typo in a hand-written config shows up here.
        logger.warning("%s: T5Config does not use t5 keys %s", what, unknown)
    return T5Config(**config)


def load_pretrained(path: str, model_class: type[M], what: str) -> M:
    """The ``model_class`` (a T5 class) in the local Hugging Face directory ``path``, in
    float32; nothing is downloaded. ``what`` names the caller in messages.

    Raises ValueError naming ``path`` if it is not a local directory (a hub name such as
    "google/byt5-small" is refused before any look-up) or holds a model that does not read
    ByT5's byte vocabulary.
    """
    directory = Path(path).expanduser()
    if not directory.is_dir():
        raise ValueError(
            f"{what}: pretrained {path!r} is not a local directory; nothing is downloaded. "
            "Point pretrained at a Hugging Face T5 directory (config.json and weights) that you "
            "obtained yourself (e.g. a downloaded google/byt5-small), or one written by python "
            "-m models.end_to_end.tactic_models.generator.export"
        )
    try:
        config = AutoConfig.from_pretrained(directory, local_files_only=True)
    except Exception as e:  # transformers raises OSError, ValueError, KeyError, ...
        raise ValueError(f"{what}: cannot read the config in pretrained '{path}': {e}") from e
    model_type = getattr(config, "model_type", None)
    # An id the config leaves unset is ByT5's; one set otherwise means another vocabulary.
    found = {key: getattr(config, key, None) for key in _FIXED_T5}
    found = {key: value if value is not None else _FIXED_T5[key] for key, value in found.items()}
    if model_type != "t5" or found != _FIXED_T5:
        raise ValueError(
            f"{what}: pretrained '{path}' is not a ByT5 model (model_type {model_type!r}, "
            f"{found}; need model_type 't5' and {_FIXED_T5}); the model reads bytes with "
            "ByT5's tokenizer"
        )
    for key, value in _FIXED_T5.items():
        setattr(config, key, value)
    tokenizer_config = directory / "tokenizer_config.json"
    if tokenizer_config.is_file():
        try:
            tokenizer_class = json.loads(tokenizer_config.read_text()).get("tokenizer_class")
        except (OSError, ValueError, AttributeError) as e:
            raise ValueError(f"{what}: cannot read '{tokenizer_config}': {e}") from e
        if tokenizer_class not in (None, "ByT5Tokenizer"):
            raise ValueError(
                f"{what}: pretrained '{path}' was trained with tokenizer "
                f"{tokenizer_class!r}, not ByT5Tokenizer; the model reads bytes, so use a "
                "ByT5 checkpoint (e.g. byt5-small)"
            )
    try:
        return model_class.from_pretrained(  # type: ignore[attr-defined,no-any-return]
            directory, config=config, local_files_only=True, dtype=torch.float32
        )
    except Exception as e:
        raise ValueError(f"{what}: cannot load the weights in pretrained '{path}': {e}") from e


def adamw_with_warmup(
    parameters: Iterable[torch.nn.Parameter], lr: float, weight_decay: float, warmup_steps: int
) -> dict[str, Any]:
    """ReProver's optimiser for its T5 models, as Lightning's ``configure_optimizers`` returns
    it: AdamW, the rate rising linearly over ``warmup_steps`` steps, then constant."""
    optimizer = torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay)

    def factor(step: int) -> float:
        return min(1.0, (step + 1) / warmup_steps) if warmup_steps else 1.0

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

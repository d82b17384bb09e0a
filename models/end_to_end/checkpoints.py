"""Reading the framework's own Lightning checkpoints: local files only, checked before use.

A training module records its class in the checkpoint (``model_class``), so a loader can
refuse another model's file with a message that says what it found, instead of failing on a
missing weight deep inside ``load_state_dict``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import torch


def read_checkpoint(path: str | Path, model_class: str, what: str, device: str) -> dict[str, Any]:
    """The checkpoint at ``path`` as a dict, if it is a ``model_class`` one; else ValueError.

    ``what`` names the model in messages (e.g. "HOList tactic model").
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{what}: no checkpoint file at '{path}'")
    try:
        checkpoint = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # torch raises many types for a file that is not a checkpoint
        raise ValueError(f"{what}: cannot read checkpoint '{path}': {e}") from e
    found = checkpoint.get("model_class") if isinstance(checkpoint, dict) else None
    if found != model_class:
        raise ValueError(
            f"{what}: checkpoint '{path}' is not a {model_class} checkpoint (it records model "
            f"class {found!r}); point ckpt_path at a checkpoint of its own training run"
        )
    return checkpoint


def class_name(cls: type) -> str:
    """The ``model_class`` a checkpoint of ``cls`` records."""
    return f"{cls.__module__}.{cls.__qualname__}"


class TaggedCheckpoint:
    """A LightningModule mixin: its checkpoints record its class (``model_class``)."""

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["model_class"] = class_name(type(self))


M = TypeVar("M", bound=torch.nn.Module)


def load_module(path: str | Path, cls: type[M], what: str, device: str) -> M:
    """A trained ``cls`` (a LightningModule whose hyperparameters are its constructor's
    arguments) from its local checkpoint at ``path``, in eval mode on ``device``; ValueError
    naming ``path`` if the file is missing or holds another model."""
    checkpoint = read_checkpoint(path, class_name(cls), what, device)
    model = cls(**checkpoint["hyper_parameters"])
    model.load_state_dict(checkpoint["state_dict"])
    return model.to(device).eval()

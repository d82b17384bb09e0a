"""The one interface every term encoder offers: s-expression texts in, one vector per text out.

HOList's tactic model, TacticZero and the premise selectors embed goals and theorems alike, so
they depend only on this interface and pick the encoder (sequence, graph, ...) from config.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from models.embeddings.vocabulary import Vocabulary


class TermEncoder(nn.Module, ABC):
    """Embeds HOL Light typed s-expressions as ``dim``-dimensional vectors."""

    def __init__(self, vocabulary: Vocabulary, dim: int) -> None:
        super().__init__()
        if dim <= 0:
            raise ValueError(f"{type(self).__name__}: dim must be positive, got {dim}")
        self.vocabulary = vocabulary
        self.dim = dim

    @property
    def device(self) -> torch.device:
        """Where the encoder's weights live; inputs are built there."""
        return next(self.parameters()).device

    @abstractmethod
    def embed(self, sexps: Sequence[str]) -> Tensor:
        """One row per text, shape ``[len(sexps), dim]``; never raises on malformed text."""

    def forward(self, sexps: Sequence[str]) -> Tensor:
        return self.embed(sexps)

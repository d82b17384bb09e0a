"""A Transformer over the token sequence of an s-expression (HOList's sequence encoder)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from models.embeddings.base import TermEncoder
from models.embeddings.vocabulary import Vocabulary

POOLINGS = ("mean", "cls")


class SexpTransformerEncoder(TermEncoder):
    """Token + learned position embeddings, a pre-norm Transformer, then mean or ``<cls>`` pooling.

    Texts are cut to ``max_len`` tokens. ``types=False`` drops the types of constants and
    variables, so about three times more of a term fits (see ``vocabulary.sexp_keys``). Texts are
    encoded in length-sorted chunks of ``chunk_size``, so a short goal never pays for padding up
    to the longest premise.
    """

    def __init__(
        self,
        vocabulary: Vocabulary,
        dim: int = 128,
        layers: int = 2,
        heads: int = 4,
        max_len: int = 256,
        ff_dim: int | None = None,
        dropout: float = 0.1,
        pooling: str = "mean",
        types: bool = False,
        chunk_size: int = 64,
    ) -> None:
        super().__init__(vocabulary, dim)
        if pooling not in POOLINGS:
            raise ValueError(
                f"SexpTransformerEncoder: pooling must be one of {POOLINGS}, got {pooling!r}"
            )
        if max_len < 2 or chunk_size < 1:
            raise ValueError(
                "SexpTransformerEncoder: need max_len >= 2 and chunk_size >= 1, "
                f"got {max_len} and {chunk_size}"
            )
        self.max_len, self.pooling, self.types, self.chunk_size = (
            max_len,
            pooling,
            types,
            chunk_size,
        )
        self.tokens = nn.Embedding(len(vocabulary), dim, padding_idx=vocabulary.pad_id)
        self.positions = nn.Embedding(max_len, dim)
        layer = nn.TransformerEncoderLayer(
            d_model=dim,
            nhead=heads,
            dim_feedforward=ff_dim or 2 * dim,
            dropout=dropout,
            batch_first=True,
            norm_first=True,
        )
        self.transformer = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)

    def token_ids(self, text: str) -> list[int]:
        """The ids the encoder reads for ``text``, ``<cls>`` first when pooling on it."""
        if self.pooling == "cls":
            return [
                self.vocabulary.cls_id,
                *self.vocabulary.tokenize(text, self.max_len - 1, self.types),
            ]
        return self.vocabulary.tokenize(text, self.max_len, self.types) or [self.vocabulary.unk_id]

    def embed(self, sexps: Sequence[str]) -> Tensor:
        if not sexps:
            return torch.zeros(0, self.dim, device=self.device)
        ids = [self.token_ids(s) for s in sexps]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        chunks = [
            self._encode([ids[i] for i in order[start : start + self.chunk_size]])
            for start in range(0, len(order), self.chunk_size)
        ]
        inverse = torch.empty(len(order), dtype=torch.long, device=self.device)
        inverse[torch.tensor(order, device=self.device)] = torch.arange(
            len(order), device=self.device
        )
        return torch.cat(chunks).index_select(0, inverse)

    def _encode(self, ids: list[list[int]]) -> Tensor:
        width = max(len(row) for row in ids)
        batch = torch.full((len(ids), width), self.vocabulary.pad_id, dtype=torch.long)
        for i, row in enumerate(ids):
            batch[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        batch = batch.to(self.device)
        pad = batch == self.vocabulary.pad_id
        positions = torch.arange(width, device=self.device)
        hidden = self.transformer(
            self.tokens(batch) + self.positions(positions), src_key_padding_mask=pad
        )
        hidden = self.norm(hidden)
        if self.pooling == "cls":
            return hidden[:, 0]
        keep = (~pad).unsqueeze(-1).to(hidden.dtype)
        return (hidden * keep).sum(1) / keep.sum(1).clamp(min=1.0)

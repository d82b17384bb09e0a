"""The inference side of dense retrieval: rank each goal's own premises by cosine similarity.

Tactic models hand it the premises the prover offers a goal (the theorems before the goal's
theorem) and get the best ``k`` back; it never looks beyond that list, as ReProver retrieves
only among accessible premises. Premise lists repeat across goals and calls, so premise
embeddings are cached until new weights arrive.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from data.jsonable import keyword_arguments
from data.proof_tree import Goal
from environments.base import Premise
from models.end_to_end.tactic_models.retrieval.model import (
    RetrieverModel,
    goal_text,
    load_retriever_checkpoint,
    premise_text,
)

_PREMISE_BATCH = 256  # premises encoded per forward pass when filling the cache


class PremiseRetriever:
    """Ranks premises for goals with a ``RetrieverModel``: a trained checkpoint (``ckpt_path``)
    or, without one, the untrained model that ``model`` configures, initialised with ``seed``
    (a ``seed`` inside ``model`` wins)."""

    def __init__(
        self,
        ckpt_path: str | None = None,
        model: Mapping[str, Any] | None = None,
        device: str = "cpu",
        seed: int = 0,
    ) -> None:
        self.device = device
        self.checkpoint: str | None = None
        # (premise name, text) -> row of _matrix; _text_of is each name's latest text, so the
        # entry of a premise whose statement changed can be dropped.
        self._rows: dict[tuple[str, str], int] = {}
        self._text_of: dict[str, str] = {}
        self._matrix: Tensor | None = None
        if ckpt_path is not None:
            self.reload(ckpt_path)
            return
        config = keyword_arguments(model, "retriever.model")
        config.setdefault("seed", seed)
        self._use(RetrieverModel(**config), None)

    def reload(self, checkpoint: str) -> None:
        """Load new weights (a local Lightning checkpoint of ``RetrieverModel``); drops the
        cache, whose embeddings came from the old weights."""
        self._use(load_retriever_checkpoint(checkpoint, self.device), checkpoint)

    def _use(self, model: RetrieverModel, checkpoint: str | None) -> None:
        self.model = model.to(self.device).eval()
        self.checkpoint = checkpoint
        self._rows, self._text_of, self._matrix = {}, {}, None

    @torch.inference_mode()
    def rank(
        self, goals: list[Goal], premises: list[Sequence[Premise]], k: int
    ) -> list[list[tuple[Premise, float]]]:
        """Per goal, its ``k`` best premises among ``premises[i]`` only (all of them if fewer),
        best first, each with its cosine score. A name given twice counts once (the first)."""
        if len(goals) != len(premises):
            raise ValueError(
                f"PremiseRetriever.rank: premises must hold one list per goal (premises[i] "
                f"belongs to goals[i]); got {len(goals)} goals and {len(premises)} premise lists"
            )
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ValueError(f"PremiseRetriever.rank: k must be an int >= 0, got {k!r}")
        if not goals or k == 0:
            return [[] for _ in goals]
        lists = [_distinct(ps) for ps in premises]
        if not any(lists):
            return [[] for _ in goals]
        rows = self._premise_rows(lists)
        texts = [goal_text(g) for g in goals]
        distinct_goals = list(dict.fromkeys(texts))
        embedded = self.model.embed(distinct_goals)
        goal_row = {text: i for i, text in enumerate(distinct_goals)}
        ranked: list[list[tuple[Premise, float]]] = []
        for text, ps, index in zip(texts, lists, rows, strict=True):
            if not ps:
                ranked.append([])
                continue
            assert self._matrix is not None  # filled by _premise_rows for any premise
            scores = self._matrix[index] @ embedded[goal_row[text]]
            # Stable, so equal scores keep the list's order (reproducible across batchings).
            order = torch.sort(scores, descending=True, stable=True).indices[:k].tolist()
            values = scores.tolist()
            ranked.append([(ps[i], float(values[i])) for i in order])
        return ranked

    def _premise_rows(self, lists: list[list[Premise]]) -> list[Tensor]:
        """Each list's rows in the embedding cache, encoding the premises not seen before."""
        keys = [[(p.name, premise_text(p)) for p in ps] for ps in lists]
        missing = list(dict.fromkeys(key for ks in keys for key in ks if key not in self._rows))
        if missing:
            chunks = [] if self._matrix is None else [self._matrix]
            start = 0 if self._matrix is None else len(self._matrix)
            for offset in range(0, len(missing), _PREMISE_BATCH):
                chunk = missing[offset : offset + _PREMISE_BATCH]
                chunks.append(self.model.embed([text for _, text in chunk]))
            self._matrix = torch.cat(chunks)
            for j, key in enumerate(missing):
                self._rows[key] = start + j
        rows = [
            torch.tensor([self._rows[key] for key in ks], dtype=torch.long, device=self.device)
            for ks in keys
        ]
        # A changed statement is a new key; forget the name's old one (its row stays in the
        # matrix until the next reload: statements change only when a database is reloaded).
        for name, text in missing:
            old = self._text_of.get(name)
            if old is not None and old != text:
                self._rows.pop((name, old), None)
            self._text_of[name] = text
        return rows


def _distinct(premises: Sequence[Premise]) -> list[Premise]:
    """The premises with each name once, the first kept: a name cited twice helps nobody."""
    seen: set[str] = set()
    out: list[Premise] = []
    for premise in premises:
        if premise.name not in seen:
            seen.add(premise.name)
            out.append(premise)
    return out


def build_retriever(config: Mapping[str, Any] | PremiseRetriever, device: str) -> PremiseRetriever:
    """The ``PremiseRetriever`` a tactic model's ``retriever`` config describes (``ckpt_path``,
    ``model``, ``device``, ``seed``), on ``device`` unless it names one; a built one as is (Hydra
    builds it when the config names a ``_target_``). Unknown keys are a ValueError naming them."""
    if isinstance(config, PremiseRetriever):
        return config
    if not isinstance(config, Mapping):
        raise ValueError(
            f"retriever: must be null or a mapping of PremiseRetriever options (ckpt_path, "
            f"model, device, seed), got {config!r}"
        )
    options = keyword_arguments(config, "retriever")
    known = set(inspect.signature(PremiseRetriever).parameters)
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(
            f"retriever: unknown key(s) {unknown}; PremiseRetriever takes {sorted(known)}"
        )
    if options.get("device") is None:
        options["device"] = device
    return PremiseRetriever(**options)

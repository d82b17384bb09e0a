"""The one interface every term encoder offers: s-expression texts in, one vector per text out.

HOList's tactic model, TacticZero and the premise selectors embed goals and theorems alike, so
they depend only on this interface and pick the encoder (sequence, graph, ...) from config.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from hydra.utils import get_class
from torch import Tensor, nn

from data.jsonable import keyword_arguments
from data.proof_tree import Goal
from models.embeddings.vocabulary import Vocabulary

# The s-expression of HOL Light's implication, used to fold a goal's hypotheses into one term.
_IMPLIES = "(c (fun (bool) (fun (bool) (bool))) ==>)"


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


def goal_sexp(goal: Goal) -> str:
    """The goal as one term, ``h1 ==> ... ==> w``, so its hypotheses are embedded too; the
    printed conclusion when the prover gave no s-expression."""
    if goal.conclusion_sexp is None:
        return goal.conclusion
    term = goal.conclusion_sexp
    for hypothesis in reversed(goal.hypothesis_sexps):
        term = f"(a (a {_IMPLIES} {hypothesis}) {term})"
    return term


def build_encoder(config: Mapping[str, Any], vocabulary: Vocabulary, owner: str) -> TermEncoder:
    """The ``TermEncoder`` that ``config['_target_']`` names, built with the other keys;
    a ValueError naming ``owner`` (the model being built) if it names none."""
    target = config.get("_target_")
    if not isinstance(target, str):
        raise ValueError(
            f"{owner}: encoder config needs a _target_ naming a TermEncoder, e.g. "
            f"'models.embeddings.gnn.TermGraphEncoder'; got {dict(config)}"
        )
    try:
        cls = get_class(target)
    except Exception as e:
        raise ValueError(f"{owner}: cannot import encoder _target_ '{target}': {e}") from e
    if not (isinstance(cls, type) and issubclass(cls, TermEncoder)):
        raise ValueError(f"{owner}: encoder _target_ '{target}' is not a TermEncoder")
    return cls(vocabulary=vocabulary, **keyword_arguments(config, "encoder"))  # type: ignore[no-any-return]

"""A mixture of tactic models: p(t | g) = sum_i w_i p_i(t | g).

The loop's first iteration mixes an untrained learned model with the ``fixed`` prior so that
something gets proved (and so there is data to learn from); later iterations keep the prior
as a safety net at a smaller weight (``trained_weights``, used once weights are loaded), or
drop it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from data.proof_tree import Goal
from environments.base import Suggestion
from models.end_to_end.tactic_models.base import Premises, TacticModel


class MixtureTacticModel(TacticModel):
    """Mixes component models' suggestion distributions with fixed weights: ``weights``
    until a checkpoint is loaded, then ``trained_weights`` (None: the same ``weights``)."""

    def __init__(
        self,
        components: Sequence[Any] | Mapping[str, Any],
        weights: Sequence[float] | Mapping[str, float] | None = None,
        ckpt_path: str | None = None,
        max_suggestions: int | None = None,
        trained_weights: Sequence[float] | Mapping[str, float] | None = None,
    ) -> None:
        from models.end_to_end.tactic_models.tac_models import build_tactic_model

        names: list[str] | None = None
        if isinstance(components, Mapping):  # named components: {learned: ..., prior: ...}
            names = list(components)
            components = [components[n] for n in names]
        if not components:
            raise ValueError("tac_model.components: a mixture needs at least one model")
        self.components = [
            c if isinstance(c, TacticModel) else build_tactic_model(c) for c in components
        ]
        self.log_weights = _log_weights(weights, names, len(self.components), "weights")
        self.trained_log_weights = (
            self.log_weights
            if trained_weights is None
            else _log_weights(trained_weights, names, len(self.components), "trained_weights")
        )
        self.max_suggestions = max_suggestions
        self.checkpoint = None
        if ckpt_path:
            self.reload(ckpt_path)

    def get_tactics(self, goals: list[Goal], premises: list[Premises]) -> list[list[Suggestion]]:
        nothing: list[list[Suggestion]] = [[] for _ in goals]
        per_model: list[list[list[Suggestion]]] = [
            model.get_tactics(goals, premises) if log_w > -math.inf else nothing
            for model, log_w in zip(self.components, self.log_weights, strict=True)
        ]
        mixed: list[list[Suggestion]] = []
        for i in range(len(goals)):
            scores: dict[str, float] = {}
            for log_w, suggestions in zip(self.log_weights, per_model, strict=True):
                for tactic, logprob in suggestions[i]:
                    term = log_w + logprob
                    previous = scores.get(tactic)
                    scores[tactic] = (
                        term if previous is None else float(np.logaddexp(previous, term))
                    )
            ranked = sorted(scores.items(), key=lambda item: -item[1])
            mixed.append(ranked[: self.max_suggestions] if self.max_suggestions else ranked)
        return mixed

    def reload(self, checkpoint: str) -> None:
        """Reload every component that has weights; the ``fixed`` prior stays as it is."""
        reloaded = False
        for model in self.components:
            try:
                model.reload(checkpoint)
            except NotImplementedError:
                continue
            reloaded = True
        if not reloaded:
            raise NotImplementedError("no component of this mixture has weights to reload")
        self.checkpoint = checkpoint
        self.log_weights = self.trained_log_weights


def _log_weights(
    weights: Sequence[float] | Mapping[str, float] | None,
    names: list[str] | None,
    count: int,
    key: str,
) -> list[float]:
    """Normalised log-weights, one per component; a ValueError naming ``tac_model.<key>``."""
    if isinstance(weights, Mapping):
        if names is None:
            raise ValueError(f"tac_model.{key}: named weights need named components")
        unknown = set(weights) - set(names)
        if unknown:
            raise ValueError(f"tac_model.{key}: no component named {sorted(unknown)}")
        weights = [float(weights.get(n, 1.0)) for n in names]
    weights = list(weights) if weights is not None else [1.0] * count
    if len(weights) != count or any(w < 0 for w in weights) or not sum(weights):
        raise ValueError(f"tac_model.{key}: one non-negative weight per component, not all zero")
    total = sum(weights)
    return [math.log(w / total) if w > 0 else -math.inf for w in weights]

"""A mixture of tactic models: p(t | g) = sum_i w_i p_i(t | g).

The loop's first iteration mixes an untrained learned model with the ``fixed`` prior so that
something gets proved (and so there is data to learn from); later iterations keep the prior
as a safety net at a smaller weight, or drop it.
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
    """Mixes component models' suggestion distributions with fixed weights."""

    def __init__(
        self,
        components: Sequence[Any] | Mapping[str, Any],
        weights: Sequence[float] | Mapping[str, float] | None = None,
        ckpt_path: str | None = None,
        max_suggestions: int | None = None,
    ) -> None:
        from models.end_to_end.tactic_models.tac_models import build_tactic_model

        if isinstance(components, Mapping):  # named components: {learned: ..., prior: ...}
            names = list(components)
            if isinstance(weights, Mapping):
                unknown = set(weights) - set(names)
                if unknown:
                    raise ValueError(f"tac_model.weights: no component named {sorted(unknown)}")
                weights = [float(weights.get(n, 1.0)) for n in names]
            components = [components[n] for n in names]
        if isinstance(weights, Mapping):
            raise ValueError("tac_model.weights: named weights need named components")
        if not components:
            raise ValueError("tac_model.components: a mixture needs at least one model")
        self.components = [
            c if isinstance(c, TacticModel) else build_tactic_model(c) for c in components
        ]
        weights = list(weights) if weights is not None else [1.0] * len(self.components)
        if len(weights) != len(self.components) or any(w < 0 for w in weights) or not sum(weights):
            raise ValueError(
                "tac_model.weights: one non-negative weight per component, not all zero"
            )
        total = sum(weights)
        self.log_weights = [math.log(w / total) if w > 0 else -math.inf for w in weights]
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

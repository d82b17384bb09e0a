"""The learned toy tactic model: an MLP that scores each candidate tactic of a goal, and the
prover-facing ``TacticModel`` (``module.py`` trains it, ``datamodule.py`` feeds it).

Each candidate (``candidates.py``) is described by the goal's and its own features
(``features.py``); the MLP gives it a score and a softmax over the goal's candidates gives the
distribution over tactics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict

import torch
from torch import Tensor, nn

from data.jsonable import jsonable
from data.proof_tree import Goal
from environments.base import Suggestion
from models.end_to_end.checkpoints import read_checkpoint
from models.end_to_end.tactic_models.base import Premises, TacticModel, check_batch
from models.end_to_end.tactic_models.toy.candidates import candidates, goal_sequent
from models.end_to_end.tactic_models.toy.features import FEATURE_DIM, features


class ToyBatch(TypedDict):
    """Goals padded to the batch's most candidates: ``features[b, k]`` is candidate ``k`` of
    goal ``b`` where ``mask[b, k]``; ``target[b]`` is the candidate the proof used."""

    features: Tensor
    mask: Tensor
    target: Tensor


def pad(rows: Sequence[Sequence[Sequence[float]]]) -> tuple[Tensor, Tensor]:
    """Per-goal feature rows as a ``[goals, candidates, FEATURE_DIM]`` tensor and its mask."""
    width = max((len(r) for r in rows), default=0)
    out = torch.zeros(len(rows), width, FEATURE_DIM)
    mask = torch.zeros(len(rows), width, dtype=torch.bool)
    for b, goal_rows in enumerate(rows):
        if goal_rows:
            out[b, : len(goal_rows)] = torch.tensor(goal_rows, dtype=torch.float)
            mask[b, : len(goal_rows)] = True
    return out, mask


class ToyTacticNet(nn.Module):
    """An MLP from a candidate's features to its score; log-softmax over each goal's candidates.

    Plain torch, so the TacticServers that run it never import Lightning (seconds per process);
    ``module.ToyTacticModule`` trains it.
    """

    def __init__(
        self,
        hidden_dim: int = 64,
        num_layers: int = 2,
        dropout: float = 0.0,
        feature_dim: int = FEATURE_DIM,
    ) -> None:
        super().__init__()
        if feature_dim != FEATURE_DIM:
            raise ValueError(
                f"ToyTacticNet: built for {feature_dim} features, but the toy features now have "
                f"{FEATURE_DIM}; retrain (the checkpoint predates a change to features.py)"
            )
        if hidden_dim < 1 or num_layers < 1:
            raise ValueError(
                f"ToyTacticNet: need hidden_dim >= 1 and num_layers >= 1, got {hidden_dim} "
                f"and {num_layers}"
            )
        layers: list[nn.Module] = []
        width = feature_dim
        for _ in range(num_layers):
            layers += [nn.Linear(width, hidden_dim), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden_dim
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)

    def forward(self, feats: Tensor, mask: Tensor) -> Tensor:
        """Log-probabilities ``[goals, candidates]``; padding gets -inf."""
        scores = self.mlp(feats).squeeze(-1).masked_fill(~mask, float("-inf"))
        return torch.log_softmax(scores, dim=-1)


NET_OPTIONS = ("hidden_dim", "num_layers", "dropout", "feature_dim")
"""The hyperparameters of a training checkpoint that build its ``ToyTacticNet``."""
MODULE_CLASS = "models.end_to_end.tactic_models.toy.module.ToyTacticModule"
"""What a checkpoint of the toy training run records as its model class."""
_PREFIX = "net."  # the network's attribute in the training module


def load_toy_checkpoint(path: str | Path, device: str = "cpu") -> ToyTacticNet:
    """The trained network of a local Lightning checkpoint of ``ToyTacticModule``, in eval mode
    on ``device``. Raises ValueError naming ``path`` if the file is missing or holds another
    model."""
    checkpoint = read_checkpoint(path, MODULE_CLASS, "toy tactic model", device)
    options = checkpoint["hyper_parameters"]
    net = ToyTacticNet(**{k: options[k] for k in NET_OPTIONS if k in options})
    state = checkpoint["state_dict"]
    net.load_state_dict({k[len(_PREFIX) :]: v for k, v in state.items() if k.startswith(_PREFIX)})
    return net.to(device).eval()


class ToyLearnedTacticModel(TacticModel):
    """The prover's view of ``ToyTacticNet``: every candidate of each goal, with the network's
    log-probability. ``ckpt_path`` None builds the network untrained from ``model`` (seeded, so
    every TacticServer holds the same one); a path loads a checkpoint, which carries its own
    config (``model`` is then ignored)."""

    def __init__(
        self,
        ckpt_path: str | None = None,
        model: Mapping[str, Any] | None = None,
        device: str | None = "cpu",
        seed: int | None = 0,
    ) -> None:
        self.device = device or "cpu"
        if ckpt_path is not None:
            self.reload(ckpt_path)
            return
        config = jsonable(model or {}, "tac_model.model")
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            self.net = ToyTacticNet(**config).to(self.device).eval()
        self.checkpoint = None

    def reload(self, checkpoint: str) -> None:
        """Load new weights: a local Lightning checkpoint of ``ToyTacticNet``."""
        self.net = load_toy_checkpoint(checkpoint, self.device)
        self.checkpoint = checkpoint

    @torch.inference_mode()
    def get_tactics(self, goals: list[Goal], premises: list[Premises]) -> list[list[Suggestion]]:
        check_batch(goals, premises)
        sequents = [goal_sequent(goal) for goal in goals]
        options = [candidates(s) if s is not None else [] for s in sequents]
        rows = [
            features(s, c) if s is not None and c else []
            for s, c in zip(sequents, options, strict=True)
        ]
        if not any(rows):
            return [[] for _ in goals]
        feats, mask = pad(rows)
        log_probs = self.net(feats.to(self.device), mask.to(self.device)).cpu().tolist()
        out: list[list[Suggestion]] = []
        for goal_options, goal_log_probs in zip(options, log_probs, strict=True):
            scored = [(c.tactic, lp) for c, lp in zip(goal_options, goal_log_probs, strict=False)]
            out.append(sorted(scored, key=lambda s: -s[1]))
        return out

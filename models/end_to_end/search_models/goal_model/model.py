"""The trained goal model (critic): a term encoder and an MLP to one logit, "is this goal
provable?", as a Lightning module (`GoalClassifier`), and the prover-facing `TrainedGoalModel`.

Trained with binary cross-entropy on the goal labels of the loop's traces
(`data.traces.examples.goal_examples`, through `GoalDataModule`); a goal's value is
``log sigmoid(logit)``, the log-probability that it is provable, at most 0. The encoder is any
``models.embeddings`` ``TermEncoder``, chosen by a nested ``_target_``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from data.jsonable import jsonable
from data.proof_tree import Goal
from models.embeddings.base import build_encoder, goal_sexp
from models.embeddings.vocabulary import Vocabulary
from models.end_to_end.checkpoints import TaggedCheckpoint, load_module
from models.end_to_end.search_models.goal_model.base import ConstantGoalModel, GoalModel

logger = logging.getLogger(__name__)

DEFAULT_ENCODER: dict[str, Any] = {"_target_": "models.embeddings.gnn.TermGraphEncoder", "dim": 128}


class GoalBatch(TypedDict):
    """What the data module's collate function hands ``training_step``: goal terms and their
    labels (1.0 provable, 0.0 not)."""

    goals: list[str]
    labels: Tensor


class GoalClassifier(TaggedCheckpoint, pl.LightningModule):
    """Goal encoder and MLP to one logit, trained with BCE weighted by ``pos_weight``.

    ``pos_weight`` None takes the training set's negatives per positive from the data
    module's ``class_counts`` when fitting starts (1.0 if a class is empty). ``vocabulary``
    None builds it from the theorem database (``database``, default the packaged one); the
    vocabulary goes into the hyperparameters, so a checkpoint rebuilds the same model.
    """

    def __init__(
        self,
        encoder: Mapping[str, Any] | None = None,
        vocabulary: Mapping[str, Any] | None = None,
        hidden_dim: int = 256,
        dropout: float = 0.1,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        pos_weight: float | None = None,
        num_variable_names: int = 32,
        database: str | None = None,
    ) -> None:
        super().__init__()
        if pos_weight is not None and not pos_weight > 0:  # also refuses NaN
            raise ValueError(f"GoalClassifier: pos_weight must be > 0 or null, got {pos_weight}")
        encoder_config = jsonable(encoder if encoder is not None else DEFAULT_ENCODER, "encoder")
        if vocabulary is None:
            vocab = Vocabulary.from_database(database, num_variable_names)
        else:
            vocab = Vocabulary.from_dict(jsonable(vocabulary, "vocabulary"))
        self.save_hyperparameters(
            {
                "encoder": encoder_config,
                "vocabulary": vocab.to_dict(),
                "hidden_dim": hidden_dim,
                "dropout": dropout,
                "lr": lr,
                "weight_decay": weight_decay,
                "pos_weight": pos_weight,
                "num_variable_names": num_variable_names,
                "database": database,
            }
        )
        self.vocabulary = vocab
        self.encoder = build_encoder(encoder_config, vocab, "GoalClassifier")
        self.head = nn.Sequential(
            nn.Linear(self.encoder.dim, hidden_dim),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim, 1),
        )
        self.lr, self.weight_decay = lr, weight_decay
        self.pos_weight = pos_weight

    def logits(self, goals: Sequence[str]) -> Tensor:
        """One logit per goal term (see `goal_sexp`): positive means provable."""
        return self.head(self.encoder.embed(goals)).squeeze(-1)

    def setup(self, stage: str) -> None:
        if stage == "fit" and self.pos_weight is None:
            self.pos_weight = self._pos_weight_from_data()

    def _pos_weight_from_data(self) -> float:
        counts = getattr(getattr(self.trainer, "datamodule", None), "class_counts", None)
        if not isinstance(counts, Mapping) or "train" not in counts:
            raise ValueError(
                "GoalClassifier: pos_weight is null, so it comes from the data module's "
                "class_counts, but the data module has none; train with GoalDataModule or set "
                "model.pos_weight"
            )
        positive, negative = counts["train"]["positive"], counts["train"]["negative"]
        weight = negative / positive if positive and negative else 1.0
        logger.info(
            "GoalClassifier: pos_weight %.3g (%d negatives, %d positives)",
            weight,
            negative,
            positive,
        )
        return weight

    def losses(self, batch: GoalBatch) -> dict[str, Tensor]:
        """The weighted BCE loss and the accuracy (at probability 0.5) of one batch."""
        logits = self.logits(batch["goals"])
        labels = batch["labels"].to(logits.device, logits.dtype)
        weight = torch.tensor(self.pos_weight or 1.0, device=logits.device)
        loss = F.binary_cross_entropy_with_logits(logits, labels, pos_weight=weight)
        accuracy = ((logits > 0) == (labels > 0.5)).float().mean()
        return {"loss": loss, "acc": accuracy}

    def training_step(self, batch: GoalBatch, batch_idx: int) -> Tensor:
        out = self.losses(batch)
        size = len(batch["goals"])
        self.log("train/loss", out["loss"], batch_size=size, prog_bar=True)
        self.log("train/acc", out["acc"], batch_size=size)
        return out["loss"]

    def validation_step(self, batch: GoalBatch, batch_idx: int) -> None:
        out = self.losses(batch)
        size = len(batch["goals"])
        self.log("val/loss", out["loss"], batch_size=size, prog_bar=True)
        self.log("val/acc", out["acc"], batch_size=size)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)


def load_goal_classifier(path: str | Path, device: str = "cpu") -> GoalClassifier:
    """A trained `GoalClassifier` from its local Lightning checkpoint, in eval mode on
    ``device``; ValueError naming ``path`` if the file is missing or holds another model."""
    return load_module(path, GoalClassifier, "goal model", device)


class TrainedGoalModel(GoalModel):
    """The prover's view of `GoalClassifier`: ``log sigmoid(logit)`` per goal, in chunks of
    ``batch_size``, without gradients, in eval mode (the same goals always get the same values).

    ``ckpt_path`` is a checkpoint of a goal model training run. Null is an error unless
    ``untrained_logprob`` is set: then every goal is worth that (as the constant model) until
    the loop's first training run hands over a checkpoint and `reload` loads it.
    """

    def __init__(
        self,
        ckpt_path: str | None,
        device: str = "cpu",
        batch_size: int = 64,
        untrained_logprob: float | None = None,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"goal_model.batch_size: must be an integer >= 1, got {batch_size!r}")
        self.device, self.batch_size = device, batch_size
        self.model: GoalClassifier | None = None
        self._untrained: ConstantGoalModel | None = None
        if ckpt_path is not None:
            self.reload(ckpt_path)
        elif untrained_logprob is None:
            raise ValueError(
                "goal_model.ckpt_path: is null; point it at a checkpoint of a goal model "
                "training run (python -m experiments.lightning_runner "
                "--config-name=end_to_end/train/goal_model/run ...), or set "
                "goal_model.untrained_logprob (e.g. -0.693) to value every goal alike until the "
                "loop's first training run hands one over"
            )
        else:
            self._untrained = ConstantGoalModel(untrained_logprob)

    def reload(self, checkpoint: str) -> None:
        """Load new weights (a checkpoint of `GoalClassifier`); a bad file leaves the model as
        it was."""
        self.model = load_goal_classifier(checkpoint, self.device)
        self.checkpoint = checkpoint

    def values(self, goals: list[Goal]) -> list[float]:
        if self.model is None:
            assert self._untrained is not None
            return self._untrained.values(goals)
        texts = [goal_sexp(g) for g in goals]
        unique = list(dict.fromkeys(texts))  # the same goal twice is encoded once
        found: dict[str, float] = {}
        with torch.no_grad():
            for start in range(0, len(unique), self.batch_size):
                chunk = unique[start : start + self.batch_size]
                logprobs = F.logsigmoid(self.model.logits(chunk)).clamp(max=0.0)
                found.update(zip(chunk, logprobs.tolist(), strict=True))
        values = [found[t] for t in texts]
        for goal, value in zip(goals, values, strict=True):
            if math.isnan(value):
                raise ValueError(
                    f"goal model {self.checkpoint}: NaN value for goal {goal} (are the weights "
                    "finite? retrain, or point ckpt_path at another checkpoint)"
                )
        return values

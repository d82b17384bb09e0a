"""Training the learned toy tactic model: ``ToyTacticNet`` as a Lightning module.

Cross-entropy on the tactic each proof step used, among its goal's candidates. The network's
options are the module's hyperparameters, so a checkpoint rebuilds the network on its own
(``model.load_toy_checkpoint``).
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor

from models.end_to_end.tactic_models.toy.features import FEATURE_DIM
from models.end_to_end.tactic_models.toy.model import MODULE_CLASS, ToyBatch, ToyTacticNet


class ToyTacticModule(pl.LightningModule):
    """``net`` (a ``ToyTacticNet``), trained with Adam on the proof steps' tactics."""

    def __init__(
        self,
        hidden_dim: int = 64,
        num_layers: int = 2,
        dropout: float = 0.1,
        lr: float = 3e-3,
        weight_decay: float = 1e-3,
        feature_dim: int = FEATURE_DIM,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = ToyTacticNet(hidden_dim, num_layers, dropout, feature_dim)
        self.lr, self.weight_decay = lr, weight_decay

    def losses(self, batch: ToyBatch) -> dict[str, Tensor]:
        """The batch's loss and how often the network ranks the proof's tactic first."""
        log_probs = self.net(batch["features"], batch["mask"])
        return {
            "loss": F.nll_loss(log_probs, batch["target"]),
            "acc": (log_probs.argmax(-1) == batch["target"]).float().mean(),
        }

    def training_step(self, batch: ToyBatch, batch_idx: int) -> Tensor:
        out = self.losses(batch)
        size = len(batch["target"])
        self.log("train/loss", out["loss"], batch_size=size, prog_bar=True)
        self.log("train/acc", out["acc"], batch_size=size)
        return out["loss"]

    def validation_step(self, batch: ToyBatch, batch_idx: int) -> None:
        out = self.losses(batch)
        size = len(batch["target"])
        self.log("val/loss", out["loss"], batch_size=size, prog_bar=True)
        self.log("val/acc", out["acc"], batch_size=size)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Lets the loader refuse another model's checkpoint with a clear message.
        checkpoint["model_class"] = MODULE_CLASS

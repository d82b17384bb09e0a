"""A toy training job for the runner's tests: linear regression on random data, reads nothing."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset


class ToyDataModule(pl.LightningDataModule):
    """``n`` noisy samples of y = 2 x0 - 3 x1 + 0.5; ``trace_files`` is accepted and ignored."""

    def __init__(
        self,
        trace_files: Any = None,
        n: int = 64,
        batch_size: int = 16,
        shuffle: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.trace_files = trace_files
        self.n = n
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed

    def setup(self, stage: str | None = None) -> None:
        g = torch.Generator().manual_seed(self.seed)
        x = torch.randn(self.n, 2, generator=g)
        y = x @ torch.tensor([2.0, -3.0]) + 0.5 + 0.01 * torch.randn(self.n, generator=g)
        self.data = TensorDataset(x, y.unsqueeze(1))

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.data, batch_size=self.batch_size, shuffle=self.shuffle)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.data, batch_size=self.batch_size)


class ToyRegression(pl.LightningModule):
    """One linear layer, trained with SGD on mean squared error."""

    def __init__(self, lr: float = 0.1) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.linear = torch.nn.Linear(2, 1)

    def _loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        return torch.nn.functional.mse_loss(self.linear(x), y)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> torch.Tensor:
        loss = self._loss(batch)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> None:
        self.log("val_loss", self._loss(batch))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.hparams["lr"])

"""One thread per test (CI has two cores and shares them), and one trained tiny checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from models.end_to_end.tactic_models.retrieval.model import RetrieverModel
from tests.models.end_to_end.tactic_models.retrieval.helpers import TINY, batch, trainer


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real Lightning checkpoint of the TINY retriever after one training step."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("retriever")
    model = RetrieverModel(**TINY)
    data = [batch({"ADD_SYM: m + n = n + m": ["ADD_0: m + 0 = m"]}, ["NOT_IN_EMPTY: ~(x IN {})"])]
    fit = trainer(root, max_steps=1)
    fit.fit(model, DataLoader(data, batch_size=None))
    path = root / "retriever.ckpt"
    fit.save_checkpoint(path)
    return path

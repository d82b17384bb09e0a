"""The HOList model's tests run torch on one thread (the traces come from the parent conftest)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)

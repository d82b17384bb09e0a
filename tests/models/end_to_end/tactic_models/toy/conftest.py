"""Real toy traces for the toy model tests, and one torch thread."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from data.toy.database import ToyTheorems
from data.traces.files import write_trace
from tests.environments.toy.proving import prove

TRAIN_STRIDE = 4  # every 4th train theorem: classics, instances and random tautologies alike


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """The toy model is tiny: on one thread it trains several times faster than on two that
    contend with other processes (as the loop's training run does, num_threads: 1)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def toy_traces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run directory's ``traces/``: iteration 0 on a quarter of the train split, all of valid."""
    root = tmp_path_factory.mktemp("toy-run")
    source = ToyTheorems.cached()
    for trace in prove(source.split("train")[::TRAIN_STRIDE] + source.split("valid"), 0.15):
        write_trace(trace, root)
    return root / "traces"

"""Proving toy theorems with the fixed toy model in this process, for tests that need traces."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator

from data.toy.database import ToyTheorem
from data.traces.schema import ProofTrace
from environments.toy.env import ToyEnv
from experiments.end_to_end.config import compose
from experiments.end_to_end.prover import AttemptInfo, Prover
from models.end_to_end.search_models.bestfs import BestFS
from models.end_to_end.tactic_models.tac_models import build_tactic_model

ENVIRONMENT = {"name": "toy", "config": {}}


def prove(records: Iterable[ToyTheorem], timeout: float) -> Iterator[ProofTrace]:
    """One best-first attempt per record with ``toy_fixed``, ``timeout`` seconds each; train
    theorems are attempted in the data role, the others in the eval role. Keep few of the
    traces: the collection after each attempt walks every one still alive."""
    model = build_tactic_model(compose(["env_config=toy", "tac_model=toy_fixed"]).tac_model)
    prover = Prover(BestFS(), model.get_tactics, 8, total_timeout=timeout, env_timeout=timeout)
    # The prover collects garbage after each attempt: with torch and Lightning loaded, a
    # quarter of a second, unless the objects alive now are left out of it.
    gc.freeze()
    try:
        for record in records:
            role = "data" if record.split == "train" else "eval"
            info = AttemptInfo(record.name, record.to_dict(), ENVIRONMENT, 0, {}, role)
            yield prover.prove(ToyEnv(record), info)
    finally:
        gc.unfreeze()

"""Shared fixtures: one real HOL Light zygote per test session, one warm server from it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")


@pytest.fixture(scope="session")
def hol_runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A runtime directory of this session's own, so tests never share a developer's zygote."""
    path = tmp_path_factory.mktemp("hol-light-runtime")
    previous = os.environ.get("ITP_HOL_LIGHT_RUNTIME_DIR")
    os.environ["ITP_HOL_LIGHT_RUNTIME_DIR"] = str(path)  # for subprocesses (the CLI tests)
    yield str(path)
    if previous is None:
        os.environ.pop("ITP_HOL_LIGHT_RUNTIME_DIR", None)
    else:
        os.environ["ITP_HOL_LIGHT_RUNTIME_DIR"] = previous


@pytest.fixture(scope="session")
def zygote(hol_runtime_dir: str):
    """The real HOL Light, loaded once for the whole session (one to three minutes)."""
    from pathlib import Path

    from environments.hol_light import driver
    from environments.hol_light.process import Zygote

    z = Zygote(Path(hol_runtime_dir))
    z.connect()
    driver._shared_zygote = z  # HolLightEnv and the CLI helpers in this process use it too
    yield z
    driver._shared_prover = None
    driver._shared_zygote = None
    z.shutdown()


@pytest.fixture(scope="session")
def prover(zygote):
    """A warm server forked from the session's zygote."""
    from environments.hol_light.driver import HolLight

    p = HolLight.spawn(zygote)
    yield p
    p.close()


@pytest.fixture(scope="session")
def database():
    from data.hol_light.database import TheoremDatabase

    return TheoremDatabase.load()


# A real two-iteration run on HOL Light (no training), shared by the report and visualiser
# tests. EQ_SYM is among the four valid theorems chosen with seed 0 and the `fixed` model
# proves it, so the run has a proved attempt in each iteration.
REAL_RUN_OVERRIDES = [
    "tac_model=fixed",
    "num_iterations=2",
    "num_data_theorems=0",
    "train_after_eval=[]",
    "update_checkpoints=[]",
    "num_theorems=4",
    "total_timeout=8",
    "env_timeout=6",
    "num_sampled_tactics=4",
    "env_config.environment.timeout=2",
    "num_cpus=2",
]


@pytest.fixture(scope="session")
def real_run(zygote, tmp_path_factory: pytest.TempPathFactory):
    """The run directory of a finished real run (HOL Light, Ray, traces, summary, WandB)."""
    from pathlib import Path

    from experiments.end_to_end import end_to_end_experiment as experiment
    from experiments.end_to_end.config import compose

    run_dir = Path(tmp_path_factory.mktemp("real-run")) / "run"
    experiment.run(compose(REAL_RUN_OVERRIDES, str(run_dir)))
    return run_dir

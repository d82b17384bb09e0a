"""Prover scaling on HOL Light: theorems per minute with 1 and with 2 ProverWorkers.

Both runs attempt the same theorems with the default fixed tactic model and BestFS under
the same budgets, on one Ray instance and one HOL Light zygote; the speedup is the ratio of
their rates.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path
from typing import Any

import ray

from environments.hol_light.driver import shared_zygote
from experiments.end_to_end.components import plain_config
from experiments.end_to_end.config import compose
from experiments.end_to_end.end_to_end_experiment import actor_configs, select_theorems
from experiments.end_to_end.evaluation import ProverPool


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--theorems", type=int, default=16)
    parser.add_argument("--total-timeout", type=float, default=10.0)


def _rate(cfg: Any, provers: int, tasks: list[Any]) -> float:
    with tempfile.TemporaryDirectory(prefix="itp-scaling-") as run_dir:
        worker, resources = actor_configs(cfg, Path(run_dir))
        resources = dataclasses.replace(resources, logical_gpus=1, provers_per_gpu=provers)
        pool = ProverPool(plain_config(cfg.tac_model), worker, resources)
        pool.run(tasks[:2], 0, lambda task, summary: None)  # warm: servers forked, code hot
        started = time.perf_counter()
        pool.run(tasks, 1, lambda task, summary: None)
        elapsed = time.perf_counter() - started
        pool.shutdown()
    return len(tasks) / elapsed * 60


def run(args: argparse.Namespace) -> dict[str, Any]:
    cfg = compose(
        [
            f"num_theorems={args.theorems}",
            f"total_timeout={args.total_timeout}",
            "split=train",
            "tac_model=fixed",
            "num_data_theorems=0",
        ]
    )
    tasks = select_theorems(cfg)
    shared_zygote()  # load HOL Light once, before either timing
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        one = _rate(cfg, 1, tasks)
        two = _rate(cfg, 2, tasks)
    finally:
        ray.shutdown()
    return {
        "benchmark": "scaling",
        "theorems": len(tasks),
        "theorems_per_min": {"1": one, "2": two},
        "speedup": two / one,
        "target_speedup": 1.7,
    }

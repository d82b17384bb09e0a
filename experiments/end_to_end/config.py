"""Checks of the experiment config, run before Ray starts so mistakes cost seconds."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, open_dict

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "end_to_end"

REQUIRED = (
    "exp_config",
    "logging_config",
    "env_config",
    "tac_model",
    "search_model",
    "shuffle",
    "num_iterations",
    "resume_iteration",
    "total_timeout",
    "env_timeout",
    "with_gpus",
    "log_level",
    "num_gpus",
    "logical_gpus",
    "num_cpus",
    "gpu_per_prover",
    "cpu_per_prover",
    "provers_per_gpu",
    "num_sampled_tactics",
    "train_after_eval",
    "update_checkpoints",
    "num_theorems",
    "theorems",
    "theorem_file",
    "split",
    "seed",
    "ray_address",
    "tactic_server",
    "max_expansions",
    "root_tactic_timeout",
    "goals_per_step",
)


class ConfigError(ValueError):
    """A config value that cannot work; the message names the field."""


def _number(cfg: DictConfig, key: str, *, minimum: float, strict: bool = False) -> float:
    value = cfg[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if value < minimum or (strict and value == minimum):
        relation = ">" if strict else ">="
        raise ConfigError(f"{key}: must be {relation} {minimum}, got {value}")
    return float(value)


def validate(cfg: DictConfig) -> None:
    """Raise ConfigError naming the first field that is missing or out of range."""
    for key in REQUIRED:
        if key not in cfg:
            raise ConfigError(f"{key}: missing from the config")
    for key in ("total_timeout", "env_timeout"):
        _number(cfg, key, minimum=0, strict=True)
    for key in (
        "num_sampled_tactics",
        "num_iterations",
        "logical_gpus",
        "provers_per_gpu",
        "goals_per_step",
    ):
        _number(cfg, key, minimum=1)
    for key in ("num_gpus", "gpu_per_prover", "cpu_per_prover", "resume_iteration"):
        _number(cfg, key, minimum=0)
    if cfg.num_cpus is not None:
        _number(cfg, "num_cpus", minimum=1)
    if cfg.max_expansions is not None:
        _number(cfg, "max_expansions", minimum=1)
    if cfg.root_tactic_timeout is not None:
        _number(cfg, "root_tactic_timeout", minimum=0, strict=True)
    if cfg.num_theorems is not None:
        _number(cfg, "num_theorems", minimum=1)
    if cfg.resume_iteration >= cfg.num_iterations:
        raise ConfigError(
            f"resume_iteration: {cfg.resume_iteration} is past num_iterations "
            f"({cfg.num_iterations})"
        )
    for key in ("split", "data_split"):
        if cfg[key] not in ("train", "valid", "test"):
            raise ConfigError(f"{key}: must be train, valid or test, got {cfg[key]!r}")
    _number(cfg, "num_data_theorems", minimum=0)
    if cfg.with_gpus and cfg.num_gpus <= 0:
        raise ConfigError("num_gpus: with_gpus is true but num_gpus is 0")
    if cfg.cpu_per_prover == 0 and cfg.gpu_per_prover == 0:
        raise ConfigError("cpu_per_prover: a prover needs some CPU or GPU share")
    server = cfg.tactic_server
    if server.max_batch_size < 1:
        raise ConfigError("tactic_server.max_batch_size: must be >= 1")
    if server.max_wait_ms < 0:
        raise ConfigError("tactic_server.max_wait_ms: must be >= 0")
    if server.max_restarts < 0:
        raise ConfigError("tactic_server.max_restarts: must be >= 0")
    if cfg.theorems is not None and not (
        isinstance(cfg.theorems, ListConfig) and all(isinstance(n, str) for n in cfg.theorems)
    ):
        raise ConfigError(f"theorems: expected a list of theorem names, got {cfg.theorems!r}")
    if cfg.theorems is not None and cfg.theorem_file is not None:
        raise ConfigError(
            "theorem_file: give the theorems inline (theorems) or in a file, not both"
        )
    for key in ("env_config", "tac_model", "search_model"):
        if not isinstance(cfg[key], DictConfig):
            raise ConfigError(f"{key}: expected a config group, got {cfg[key]!r}")
    for key in ("environment", "theorems"):
        if key not in cfg.env_config or "_target_" not in cfg.env_config[key]:
            raise ConfigError(f"env_config.{key}: needs a _target_")
    _check_resources(cfg)
    _check_devices(cfg)
    if not isinstance(cfg.train_after_eval, ListConfig):
        raise ConfigError("train_after_eval: expected a list of commands")
    if not isinstance(cfg.update_checkpoints, ListConfig) or not all(
        isinstance(pair, ListConfig) and 2 <= len(pair) <= 3 for pair in cfg.update_checkpoints
    ):
        raise ConfigError("update_checkpoints: expected a list of [config key, hand-off key] pairs")


def _check_resources(cfg: DictConfig) -> None:
    """Actors a local Ray instance could never place would wait forever: refuse them now.

    A joined cluster (`ray_address`) has resources this machine cannot see, so it is not checked.
    """
    share = gpu_per_server(cfg)
    if share > 1 and not share.is_integer():
        raise ConfigError(
            f"num_gpus: {cfg.num_gpus} GPUs over {cfg.logical_gpus} logical GPUs gives each "
            f"TacticServer {share:g}; Ray allows fractions only below 1 (use a multiple)"
        )
    if cfg.ray_address:
        return
    provers = cfg.logical_gpus * cfg.provers_per_gpu
    cpus = cfg.num_cpus if cfg.num_cpus is not None else os.cpu_count() or 1
    if provers * cfg.cpu_per_prover > cpus:
        raise ConfigError(
            f"provers_per_gpu: {cfg.logical_gpus} x {cfg.provers_per_gpu} ProverWorkers x "
            f"cpu_per_prover {cfg.cpu_per_prover} need {provers * cfg.cpu_per_prover:g} CPUs, "
            f"but Ray has {cpus} (num_cpus); the rest would never start"
        )
    gpus = provers * cfg.gpu_per_prover + share * cfg.logical_gpus
    if gpus > cfg.num_gpus + 1e-9:
        raise ConfigError(
            f"gpu_per_prover: the actors need {gpus:g} GPUs but num_gpus is {cfg.num_gpus}"
        )


def _check_devices(cfg: DictConfig) -> None:
    """A model pinned to CUDA cannot run on TacticServers that have no GPU."""
    if cfg.with_gpus:
        return
    devices = _devices(cfg.tac_model, "tac_model")
    if isinstance(cfg.search_model.get("goal_model"), DictConfig):
        devices += _devices(cfg.search_model.goal_model, "search_model.goal_model")
    for path, value in devices:
        if value is not None and str(value).startswith("cuda"):
            raise ConfigError(
                f"{path}: {value} needs a GPU but with_gpus is false (set with_gpus=true and "
                f"num_gpus, or leave {path} null to run where the server runs)"
            )


def _devices(node: Any, path: str) -> list[tuple[str, Any]]:
    """Every ``device`` key under a config node, with its dotted path."""
    found = []
    if isinstance(node, DictConfig):
        for key in node:
            key = str(key)
            child = node[key]
            if key == "device":
                found.append((f"{path}.device", child))
            else:
                found += _devices(child, f"{path}.{key}")
    elif isinstance(node, ListConfig):
        for i, child in enumerate(node):
            found += _devices(child, f"{path}[{i}]")
    return found


def gpu_per_server(cfg: DictConfig) -> float:
    """Each logical GPU's share of the real GPUs (0 on CPU); its model servers split it."""
    if not cfg.with_gpus:
        return 0.0
    share: Any = cfg.num_gpus / cfg.logical_gpus
    return float(share)


def compose(
    overrides: list[str], run_dir: str | None = None, config_name: str = "hol_light"
) -> DictConfig:
    """The experiment config without the command line (tests, benchmarks, notebooks)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.hydra_config import HydraConfig

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        cfg = hydra_compose(config_name=config_name, overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)  # resolves ${hydra:...} in the run's fields
    with open_dict(cfg):
        if run_dir is not None:
            cfg.exp_config.directory = run_dir
        del cfg["hydra"]
    return cfg

"""What the report reads from a run directory: one `AttemptRecord` per trace, and the configs.

Everything comes from the traces themselves (roles included), so a run killed half way or one
without ``summary.json`` still has a report; the per-iteration numbers are ``summary.py``'s own,
so they equal ``summary.json``. Reading writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from data.traces.attempts import AttemptRecord
from data.traces.files import TRACES_DIR
from data.traces.loader import TraceLoader
from experiments.end_to_end import summary

# (label, dotted key into configs/<k>.yaml) of the settings the report shows.
CONFIG_KEYS = (
    ("experiment", "exp_config.name"),
    ("tac_model", "tac_model._target_"),
    ("tac_model checkpoint", "tac_model.ckpt_path"),
    ("search_model", "search_model._target_"),
    ("total_timeout (s)", "total_timeout"),
    ("env_timeout (s)", "env_timeout"),
    ("tactic timeout (s)", "env_config.environment.timeout"),
    ("num_sampled_tactics", "num_sampled_tactics"),
    ("evaluated", "num_theorems"),
    ("evaluated split", "split"),
    ("data theorems", "num_data_theorems"),
    ("data split", "data_split"),
)
PROBLEM = "problem"  # the config row that says why a config could not be read


def per_iteration_metrics(attempts: Sequence[AttemptRecord]) -> list[dict[str, Any]]:
    """``summary.iteration_metrics`` of each iteration present, in order (eval; ``data`` inside)."""
    return [
        summary.iteration_metrics(k, [a for a in attempts if a.iteration == k])
        for k in sorted({a.iteration for a in attempts})
    ]


@dataclass
class RunData:
    """Everything read from a run directory: attempts, files that did not load, configs."""

    run_dir: Path
    attempts: list[AttemptRecord]
    skipped: list[tuple[Path, str]]
    configs: dict[int, dict[str, str]]

    @property
    def iterations(self) -> list[int]:
        return sorted({a.iteration for a in self.attempts})

    def metrics(self) -> list[dict[str, Any]]:
        return per_iteration_metrics(self.attempts)


def collect_attempts(
    run_dir: Path, *, progress: bool = True
) -> tuple[list[AttemptRecord], list[tuple[Path, str]]]:
    """One record per trace that loads, and ``(path, reason)`` for each file that does not."""
    traces_dir = run_dir / TRACES_DIR
    if not traces_dir.is_dir():
        return [], []
    loader = TraceLoader(traces_dir, progress="reading traces" if progress else None)
    attempts = [AttemptRecord.of(trace, path) for path, trace in loader.with_paths()]
    return attempts, loader.skipped


def read_configs(run_dir: Path) -> dict[int, dict[str, str]]:
    """The settings of CONFIG_KEYS per iteration, from ``configs/<k>.yaml`` (where present)."""
    configs: dict[int, dict[str, str]] = {}
    config_dir = run_dir / "configs"
    if not config_dir.is_dir():
        return configs
    for path in sorted(config_dir.glob("*.yaml")):
        if path.stem.isascii() and path.stem.isdigit():
            configs[int(path.stem)] = _settings(path)
    return configs


def _settings(path: Path) -> dict[str, str]:
    """One config's settings by label ("-" where unset), or only why it cannot be read."""
    try:
        cfg = OmegaConf.load(path)  # a YAML file that is not a mapping or a list is an OSError
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        return {PROBLEM: f"{path.name}: unreadable ({e})"}
    if not isinstance(cfg, DictConfig):
        return {PROBLEM: f"{path.name}: not a mapping"}
    settings = {}
    for label, key in CONFIG_KEYS:
        try:
            value = OmegaConf.select(cfg, key)
        except OmegaConfBaseException as e:  # an interpolation that does not resolve, a list
            value = f"unreadable ({str(e).splitlines()[0]})"
        settings[label] = "-" if value is None else str(value)
    return settings


def read_run(run_dir: Path, *, progress: bool = True) -> RunData:
    """All the report needs from a run directory; reads it, writes nothing."""
    attempts, skipped = collect_attempts(run_dir, progress=progress)
    return RunData(run_dir, attempts, skipped, read_configs(run_dir))

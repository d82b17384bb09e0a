"""The loop's second half: train on the traces, then point the config at the new checkpoints.

After evaluating iteration k the loop runs each ``train_after_eval`` command as a subprocess
(``run_training_commands``), reads the hand-off JSON each one writes (never its log), and sets
the ``update_checkpoints`` keys of the config for iteration k+1 (``apply_checkpoint_updates``).
``training_done`` lets a resumed run skip training that already finished. See docs/training.md.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)

TRAINING_DIR = "training"
HANDOFF = "handoff.json"
LOG = "train.log"
REPO_ROOT = Path(__file__).resolve().parents[2]

_MISSING = object()


class TrainingError(RuntimeError):
    """A training command that failed or handed nothing usable back; the message says which."""


def output_dir(run_dir: Path, iteration: int, index: int) -> Path:
    """Where command ``index`` of ``iteration`` writes its checkpoints, log and hand-off."""
    return Path(run_dir) / TRAINING_DIR / str(iteration) / str(index)


def handoff_path(run_dir: Path, iteration: int, index: int) -> Path:
    return output_dir(run_dir, iteration, index) / HANDOFF


def command_argv(
    command: str | Sequence[str], run_dir: Path, iteration: int, index: int
) -> list[str]:
    """The argv of one command: placeholders filled, hand-off and output overrides appended.

    ``++handoff=`` and ``++output_dir=`` overrides are appended unless an argument is a
    ``handoff=`` override or holds ``{handoff}``; a leading ``python``/``python3`` becomes this
    interpreter, so the child sees the same virtual environment as the loop.
    """
    argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
    if not argv:
        raise TrainingError(f"train_after_eval[{index}]: empty command")
    out = output_dir(run_dir, iteration, index)
    values = {
        "{run_dir}": str(Path(run_dir)),
        "{traces}": str(Path(run_dir) / "traces"),
        "{iteration}": str(iteration),
        "{handoff}": str(out / HANDOFF),
        "{output_dir}": str(out),
    }
    mentions_handoff = any(_is_override(a, "handoff") or "{handoff}" in a for a in argv)
    filled = []
    for arg in argv:
        for placeholder, value in values.items():
            arg = arg.replace(placeholder, value)
        filled.append(arg)
    if not mentions_handoff:
        # `++`: set the key whether or not the run config declares it.
        filled.append(f"++handoff={out / HANDOFF}")
        if not any(_is_override(a, "output_dir") for a in filled):
            filled.append(f"++output_dir={out}")
    if filled[0] in ("python", "python3"):
        filled[0] = sys.executable
    return filled


def _is_override(arg: str, key: str) -> bool:
    """Whether ``arg`` is a Hydra override of ``key`` (``key=``, ``+key=`` or ``++key=``)."""
    return arg.lstrip("+").startswith(f"{key}=")


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("WANDB_MODE", "offline")
    env.setdefault("PYTHONUNBUFFERED", "1")  # the log fills as training goes, not at exit
    # `python -m experiments.lightning_runner` resolves from any working directory.
    paths = [str(REPO_ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


def read_handoff(path: Path) -> dict[str, Any]:
    """The parsed hand-off at ``path``; TrainingError if missing, malformed or dangling."""
    if not path.is_file():
        raise TrainingError(f"hand-off {path}: no such file")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise TrainingError(f"hand-off {path}: not valid JSON ({e})") from e
    if not isinstance(data, dict):
        raise TrainingError(f"hand-off {path}: expected a JSON object, got {type(data).__name__}")
    checkpoint = data.get("checkpoint")
    if not isinstance(checkpoint, str) or not checkpoint:
        raise TrainingError(f"hand-off {path}: no 'checkpoint' path")
    if not Path(checkpoint).is_file():
        raise TrainingError(f"hand-off {path}: its checkpoint {checkpoint} does not exist")
    return data


def run_training_commands(
    commands: Sequence[str] | Sequence[Sequence[str]], run_dir: Path, iteration: int
) -> list[dict[str, Any]]:
    """Run each command in turn (no shell), output to its train.log; return the hand-offs."""
    handoffs = []
    for index, command in enumerate(commands):
        argv = command_argv(command, run_dir, iteration, index)
        out = output_dir(run_dir, iteration, index)
        out.mkdir(parents=True, exist_ok=True)
        handoff = out / HANDOFF
        handoff.unlink(missing_ok=True)  # a stale hand-off must not pass for this run's
        log_path = out / LOG
        shown = shlex.join(argv)
        log.info(
            "iteration %d: training command %d: %s (log: %s)", iteration, index, shown, log_path
        )
        started = time.monotonic()
        with log_path.open("a", buffering=1) as log_file:
            log_file.write(f"==> {time.strftime('%Y-%m-%d %H:%M:%S')} {shown}\n")
            try:
                code = subprocess.call(
                    argv, stdout=log_file, stderr=subprocess.STDOUT, env=_child_env()
                )
            except OSError as e:
                raise TrainingError(f"training command {shown}: cannot start ({e})") from e
        if code != 0:
            raise TrainingError(
                f"training command {shown} exited with code {code}; see its log {log_path}"
            )
        if not handoff.is_file():
            raise TrainingError(
                f"training command {shown} exited 0 but wrote no hand-off {handoff} (a training "
                f"command must write one; see docs/training.md and its log {log_path})"
            )
        handoffs.append(read_handoff(handoff))
        log.info(
            "iteration %d: training command %d done in %.0f s: checkpoint %s",
            iteration,
            index,
            time.monotonic() - started,
            handoffs[-1]["checkpoint"],
        )
    return handoffs


def training_done(run_dir: Path, iteration: int, n_commands: int) -> list[dict[str, Any]] | None:
    """The hand-offs of ``iteration`` if all its commands finished, else None (train again)."""
    handoffs = []
    for index in range(n_commands):
        path = handoff_path(run_dir, iteration, index)
        if not path.exists():
            return None
        try:
            handoffs.append(read_handoff(path))
        except TrainingError as e:
            log.warning("%s: training of iteration %d runs again", e, iteration)
            return None
    return handoffs


def apply_checkpoint_updates(
    cfg: DictConfig, update_checkpoints: Sequence[Any], handoffs: Sequence[dict[str, Any]]
) -> DictConfig:
    """A copy of ``cfg`` with each ``update_checkpoints`` pair set from its hand-off.

    A pair is ``[config_key, handoff_key]`` (``["tac_model.ckpt_path", "checkpoint"]``: dotted
    keys on both sides), or the seed's short form ``[group, field]`` (``["tac_model",
    "ckpt_path"]``: ``group.field`` set from ``checkpoint``), used when ``handoff_key`` is not in
    the hand-off. A third element picks the hand-off by command index. Otherwise one hand-off
    feeds every pair, and several are matched to the pairs by position (pair i <- command i).
    """
    out = copy.deepcopy(cfg)
    pairs = [[p] if isinstance(p, str) else list(p) for p in update_checkpoints]
    if not pairs:
        return out
    if not handoffs:
        raise ValueError("update_checkpoints: no hand-off to take checkpoints from")
    for i, pair in enumerate(pairs):
        if len(pair) not in (2, 3) or not all(isinstance(p, str) for p in pair[:2]):
            raise ValueError(
                f"update_checkpoints[{i}]: expected [config_key, handoff_key] or "
                f"[config_key, handoff_key, command_index], got {pair!r}"
            )
        if len(pair) == 3:
            index = int(pair[2])
        elif len(handoffs) == 1:
            index = 0
        elif len(pairs) == len(handoffs):
            index = i
        else:
            raise ValueError(
                f"update_checkpoints[{i}]: {len(handoffs)} hand-offs for {len(pairs)} pairs; "
                "give each pair its command index as a third element"
            )
        if not 0 <= index < len(handoffs):
            raise ValueError(f"update_checkpoints[{i}]: no training command {index}")
        handoff = handoffs[index]
        key, source = pair[0], pair[1]
        value = OmegaConf.select(OmegaConf.create(handoff), source, default=_MISSING)
        why = ""
        if value is _MISSING:  # the seed's [group, field]: group.field <- checkpoint
            key, value = f"{key}.{source}", handoff["checkpoint"]
            why = f" (and the hand-off has no key {source!r})"
        parent_key, _, leaf = key.rpartition(".")
        parent = OmegaConf.select(out, parent_key) if parent_key else out
        if not isinstance(parent, DictConfig) or leaf not in parent.keys():  # noqa: SIM118 (keys() has "???" ones)
            raise ValueError(
                f"update_checkpoints[{i}]: the config has no key {key!r}{why}; "
                f"add {key} to the config or fix the pair"
            )
        if isinstance(OmegaConf.select(out, key, throw_on_missing=False), DictConfig):
            raise ValueError(
                f"update_checkpoints[{i}]: {key!r} is a config group; name one of its fields, "
                f"e.g. {key}.ckpt_path"
            )
        OmegaConf.update(out, key, value, merge=False)
        log.info("%s <- %s (hand-off of training command %d)", key, value, index)
    return out


def train_after_eval(cfg: DictConfig, run_dir: Path, iteration: int) -> DictConfig:
    """Train after evaluating ``iteration`` (unless done before) and return the next config."""
    commands = list(cfg.train_after_eval)
    if not commands:
        return copy.deepcopy(cfg)
    handoffs = training_done(run_dir, iteration, len(commands))
    if handoffs is None:
        handoffs = run_training_commands(commands, run_dir, iteration)
    else:
        log.info("iteration %d: training already done, reusing its hand-offs", iteration)
    return apply_checkpoint_updates(cfg, list(cfg.update_checkpoints), handoffs)

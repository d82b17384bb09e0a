"""Train one model on the loop's traces and hand its checkpoint back (docs/training.md).

    python -m experiments.lightning_runner --config-name=end_to_end/train/<model>/run \
        data_module.trace_files=<run_dir>/traces handoff=<path> [output_dir=<dir>] [k=v ...]

Instantiates ``data_module``, ``model`` and ``trainer`` from the config (Hydra ``_target_``),
fits with a ``WandbLogger`` (offline by default) and a ``ModelCheckpoint`` in
``<output_dir>/checkpoints``, resumes from that directory's ``last.ckpt`` when it exists, and
writes the hand-off JSON (checkpoint, metrics, model class, config) atomically at ``handoff``:
the loop reads that file, never the log. See docs/training.md.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any, cast

import hydra
import pytorch_lightning as pl
import torch
from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import Callback, ModelCheckpoint
from pytorch_lightning.loggers import WandbLogger

from data.files import write_atomic

log = logging.getLogger(__name__)

CHECKPOINTS_DIR = "checkpoints"
LAST = "last.ckpt"

# The runner's own keys and their defaults. Registered with Hydra as `lightning_runner` so a run
# config can start with `defaults: [/lightning_runner, _self_]` (then every key is overridable
# without `+`); `run` merges them under any config that does not.
DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "num_threads": 1,  # torch.set_num_threads; null keeps torch's default
    "handoff": "???",  # where the hand-off JSON goes (the loop passes it)
    "output_dir": None,  # checkpoints, WandB, config.yaml; null: the hand-off's directory
    "logging": {"offline": True, "project": "end_to_end_training", "name": None, "id": None},
    "checkpoint": {"monitor": None, "mode": "min", "save_top_k": 1, "filename": None},
    "trainer": {
        "_target_": "pytorch_lightning.Trainer",
        "max_epochs": 1,
        "accelerator": "auto",
        "devices": 1,
        "enable_progress_bar": False,
        "log_every_n_steps": 10,
    },
    "callbacks": {},  # name -> callback config with `_target_`, added to the trainer's
}

ConfigStore.instance().store(name="lightning_runner", node=DEFAULTS, package="_global_")

# Hydra writes nothing of its own: logs go to stdout (the loop's train.log), the resolved config
# into the output directory and the hand-off. Passed as overrides so every run config gets them.
HYDRA_OVERRIDES = ("hydra.run.dir=.", "hydra.output_subdir=null", "hydra/job_logging=stdout")


class RunnerError(ValueError):
    """A training run that cannot start or finish; the message names the cause."""


class _RequireTrainingData(Callback):
    """Stop before the first step when the data module has nothing to train on."""

    def __init__(self, trace_files: Any) -> None:
        self.trace_files = trace_files

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.num_training_batches == 0:
            raise RunnerError(_no_examples(self.trace_files, "the training dataloader is empty"))


def _no_examples(trace_files: Any, why: str) -> str:
    return (
        f"no training examples in {trace_files}: {why} (are there traces with proofs there? "
        "check data_module.trace_files)"
    )


def _finish_wandb(exit_code: int) -> None:
    """Close the WandB run (if one started) so its files are complete before the hand-off."""
    import wandb

    if wandb.run is not None:
        wandb.finish(exit_code=exit_code)


def _with_defaults(cfg: DictConfig) -> DictConfig:
    merged = OmegaConf.merge(OmegaConf.create(DEFAULTS), cfg)
    return cast(DictConfig, merged)


def _check(cfg: DictConfig) -> None:
    if OmegaConf.is_missing(cfg, "handoff") or not cfg.handoff:
        raise RunnerError("handoff: missing; pass handoff=<path of the hand-off JSON to write>")
    for key in ("data_module", "model", "trainer"):
        node = cfg.get(key)
        if not isinstance(node, DictConfig) or "_target_" not in node:
            raise RunnerError(
                f"{key}: missing or without a _target_; name a run config with "
                "--config-name=end_to_end/train/<model>/run"
            )


def paths(cfg: DictConfig) -> tuple[Path, Path]:
    """The hand-off file and the output directory, both absolute."""
    handoff = Path(str(cfg.handoff)).expanduser().resolve()
    output_dir = Path(str(cfg.output_dir)).expanduser().resolve() if cfg.output_dir else None
    return handoff, output_dir or handoff.parent


def _scalar_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    out = {}
    for name, value in metrics.items():
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            out[name] = float(value.item())
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name] = float(value)
    return out


def run(cfg: DictConfig) -> dict[str, Any]:
    """Fit the configured model (resuming from its own last checkpoint); return the hand-off."""
    cfg = _with_defaults(cfg)
    _check(cfg)
    handoff_path, output_dir = paths(cfg)
    OmegaConf.update(cfg, "handoff", str(handoff_path))
    OmegaConf.update(cfg, "output_dir", str(output_dir))
    resolved = cast(dict[str, Any], OmegaConf.to_container(cfg, resolve=True))
    checkpoint_dir = output_dir / CHECKPOINTS_DIR
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(output_dir / "config.yaml", OmegaConf.to_yaml(resolved))

    pl.seed_everything(cfg.seed, workers=True)
    if cfg.num_threads is not None:
        torch.set_num_threads(int(cfg.num_threads))
    trace_files = cfg.data_module.get("trace_files")
    datamodule = hydra.utils.instantiate(cfg.data_module)
    model = hydra.utils.instantiate(cfg.model)
    if not isinstance(model, pl.LightningModule):
        raise RunnerError(f"model: {cfg.model._target_} is not a LightningModule")

    ckpt_cfg = cfg.checkpoint
    monitor = ckpt_cfg.monitor or None
    checkpoint = ModelCheckpoint(
        dirpath=checkpoint_dir,
        filename=ckpt_cfg.filename,
        monitor=monitor,
        mode=ckpt_cfg.mode,
        save_top_k=ckpt_cfg.save_top_k,
        save_last=True,
    )
    logger = WandbLogger(
        project=cfg.logging.project,
        name=cfg.logging.name,
        id=cfg.logging.id,
        save_dir=str(output_dir),
        offline=bool(cfg.logging.offline),
        config=resolved,
    )
    callbacks = [checkpoint, _RequireTrainingData(trace_files)]
    callbacks += [hydra.utils.instantiate(c) for c in cfg.callbacks.values()]
    trainer_kwargs: dict[str, Any] = {"logger": logger, "callbacks": callbacks}
    if "default_root_dir" not in cfg.trainer:
        trainer_kwargs["default_root_dir"] = str(output_dir)
    trainer: pl.Trainer = hydra.utils.instantiate(cfg.trainer, **trainer_kwargs)

    last = checkpoint_dir / LAST
    resume = last if last.exists() else None
    if resume is not None:
        log.info("resuming from %s", resume)
    try:
        trainer.fit(model, datamodule=datamodule, ckpt_path=str(resume) if resume else None)
    except ValueError as e:
        _finish_wandb(exit_code=1)
        if "num_samples=0" in str(e):  # torch's RandomSampler over an empty dataset
            raise RunnerError(_no_examples(trace_files, f"the training set is empty ({e})")) from e
        raise
    except BaseException:
        _finish_wandb(exit_code=1)
        raise
    _finish_wandb(exit_code=0)

    produced = checkpoint.best_model_path if monitor else checkpoint.last_model_path
    if not produced and last.exists():
        produced = str(last)  # a resumed run that had nothing left to do
    if not produced or not Path(produced).exists():
        if trainer.global_step == 0:
            raise RunnerError(_no_examples(trace_files, "the trainer took no step"))
        raise RunnerError(f"the trainer wrote no checkpoint into {checkpoint_dir}")

    handoff = {
        "checkpoint": str(Path(produced).resolve()),
        "metrics": _scalar_metrics(dict(trainer.callback_metrics)),
        "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
        "config": resolved,
        "finished_unix": time.time(),
    }
    write_atomic(handoff_path, json.dumps(handoff, indent=2, sort_keys=True) + "\n")
    log.info("hand-off %s: checkpoint %s", handoff_path, handoff["checkpoint"])
    return handoff


@hydra.main(version_base=None, config_path="../configs", config_name=None)
def _hydra_main(cfg: DictConfig) -> None:
    name = HydraConfig.get().job.config_name or ""
    group = name.split("/")[0] if "/" in name else None
    if group is not None and "model" not in cfg and group in cfg:
        raise SystemExit(
            f"lightning_runner: the run config {name!r} landed under {group!r}; make its "
            "first line `# @package _global_`"
        )
    try:
        handoff = run(cfg)
    except RunnerError as e:
        raise SystemExit(f"lightning_runner: {e}") from None
    print(f"checkpoint: {handoff['checkpoint']}")


def main() -> None:
    """The command line: Hydra's, with HYDRA_OVERRIDES unless the caller sets those keys."""
    given = {a.split("=", 1)[0].lstrip("+~") for a in sys.argv[1:]}
    sys.argv += [o for o in HYDRA_OVERRIDES if o.split("=", 1)[0] not in given]
    _hydra_main()


if __name__ == "__main__":
    main()

"""The Lightning runner on a toy job: hand-off, resume, WandB files, errors that name the cause."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf, open_dict

from experiments import lightning_runner as runner

REPO = Path(__file__).resolve().parents[2]
TEST_CONFIGS = REPO / "tests" / "configs"
TOY = "train/toy/run"


@pytest.fixture(autouse=True)
def _keep_torch_threads() -> Iterator[None]:
    """run() sets torch's thread count for its process; give the test session its own back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def run_cli(*overrides: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    argv = [
        sys.executable,
        "-m",
        "experiments.lightning_runner",
        f"--config-path={TEST_CONFIGS}",
        f"--config-name={TOY}",
        *overrides,
    ]
    env = {**os.environ, "WANDB_MODE": "offline", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def toy_config(*overrides: str) -> DictConfig:
    with initialize_config_dir(config_dir=str(TEST_CONFIGS), version_base=None):
        return compose(config_name=TOY, overrides=list(overrides))


def checkpoint_state(path: str | Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


def test_cli_trains_writes_the_hand_off_and_resumes(tmp_path: Path) -> None:
    handoff = tmp_path / "out" / "handoff.json"
    first = run_cli(f"handoff={handoff}", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    data = json.loads(handoff.read_text())
    assert set(data) == {"checkpoint", "metrics", "model_class", "config", "finished_unix"}
    checkpoint = Path(data["checkpoint"])
    assert checkpoint.is_absolute() and checkpoint.is_file()
    assert checkpoint.parent == handoff.parent / "checkpoints"  # output_dir: the hand-off's dir
    assert checkpoint.name == "last.ckpt"  # nothing monitored: the last checkpoint
    assert {"train_loss", "val_loss"} <= set(data["metrics"])
    assert all(math.isfinite(v) for v in data["metrics"].values())
    assert data["model_class"] == "tests.experiments.toy_training.ToyRegression"
    assert data["config"]["handoff"] == str(handoff)
    assert data["config"]["trainer"]["max_epochs"] == 1
    assert checkpoint_state(checkpoint)["epoch"] == 0
    assert list((handoff.parent / "wandb").glob("offline-run-*")), "an offline WandB run"
    assert (handoff.parent / "config.yaml").is_file()
    assert [p.name for p in handoff.parent.iterdir() if p.name.endswith(".tmp")] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no Hydra outputs/ in cwd

    second = run_cli(f"handoff={handoff}", "trainer.max_epochs=2")
    output = second.stdout + second.stderr
    assert second.returncode == 0, output
    assert f"Restored all states from the checkpoint at {checkpoint}" in output
    resumed = json.loads(handoff.read_text())
    assert resumed["finished_unix"] > data["finished_unix"]
    state = checkpoint_state(resumed["checkpoint"])
    assert state["epoch"] == 1 and state["global_step"] == 8  # one more epoch of 4 steps
    assert len(list((handoff.parent / "wandb").glob("offline-run-*"))) == 2


def test_cli_without_handoff_says_so(tmp_path: Path) -> None:
    result = run_cli()
    assert result.returncode == 1
    assert "lightning_runner: handoff: missing" in result.stderr


def test_run_monitored_hands_off_the_best_checkpoint_in_output_dir(tmp_path: Path) -> None:
    handoff = tmp_path / "h" / "handoff.json"
    cfg = toy_config(
        f"handoff={handoff}",
        f"output_dir={tmp_path / 'elsewhere'}",
        "checkpoint.monitor=val_loss",
        "trainer.max_epochs=3",
    )
    data = runner.run(cfg)
    assert json.loads(handoff.read_text()) == json.loads(json.dumps(data))
    best = Path(data["checkpoint"])
    assert best.parent == tmp_path / "elsewhere" / "checkpoints"
    assert best.name != "last.ckpt" and best.is_file()
    assert (best.parent / "last.ckpt").is_file()
    # The toy loss falls every epoch, so the best checkpoint is the last epoch's.
    assert checkpoint_state(best)["epoch"] == 2


@pytest.mark.parametrize("shuffle", [True, False])
def test_no_training_examples_is_named(tmp_path: Path, shuffle: bool) -> None:
    cfg = toy_config(
        f"handoff={tmp_path / 'handoff.json'}",
        "data_module.n=0",
        f"data_module.shuffle={shuffle}",
        "data_module.trace_files=/runs/x/traces",
    )
    with pytest.raises(runner.RunnerError, match="no training examples in /runs/x/traces: "):
        runner.run(cfg)
    assert not (tmp_path / "handoff.json").exists()


def test_missing_handoff_and_model_are_named(tmp_path: Path) -> None:
    with pytest.raises(runner.RunnerError, match="handoff: missing"):
        runner.run(toy_config())
    cfg = toy_config(f"handoff={tmp_path / 'h.json'}")
    with open_dict(cfg):
        del cfg["model"]
    with pytest.raises(runner.RunnerError, match="model: missing"):
        runner.run(cfg)


def test_a_config_without_the_runner_defaults_gets_them(tmp_path: Path) -> None:
    cfg = OmegaConf.create(
        {
            "handoff": str(tmp_path / "handoff.json"),
            "data_module": {"_target_": "tests.experiments.toy_training.ToyDataModule", "n": 8},
            "model": {"_target_": "tests.experiments.toy_training.ToyRegression"},
            "trainer": {"accelerator": "cpu", "enable_model_summary": False},
        }
    )
    data = runner.run(cfg)
    assert data["config"]["seed"] == 0 and data["config"]["logging"]["offline"] is True
    assert data["config"]["trainer"]["_target_"] == "pytorch_lightning.Trainer"
    assert data["config"]["output_dir"] == str(tmp_path)
    assert Path(data["checkpoint"]) == tmp_path / "checkpoints" / "last.ckpt"
    assert torch.get_num_threads() == 1

"""The goal model's training command, as the loop runs it: the hand-off names a checkpoint that
`TrainedGoalModel` loads."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from models.end_to_end.search_models.goal_model.model import GoalClassifier, TrainedGoalModel
from tests.models.end_to_end.search_models.goal_model.conftest import toy_goal

REPO = Path(__file__).resolve().parents[5]


@pytest.mark.slow  # a Python process of its own: ~20 s, most of it imports
def test_the_runner_trains_it_and_hands_off_the_checkpoint(goal_run: Path, tmp_path: Path) -> None:
    handoff = tmp_path / "training" / "handoff.json"
    argv = [
        sys.executable,
        "-m",
        "experiments.lightning_runner",
        "--config-name=end_to_end/train/goal_model/run",
        f"data_module.trace_files={goal_run / 'traces'}",
        f"handoff={handoff}",
        "data_module.val_fraction=0.25",
        "model.encoder.dim=16",
        "model.encoder.layers=1",
        "model.hidden_dim=16",
        "trainer.max_epochs=2",
        "trainer.accelerator=cpu",
    ]
    env = {**os.environ, "WANDB_MODE": "offline", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(handoff.read_text())
    checkpoint = Path(data["checkpoint"])
    assert checkpoint.is_file() and checkpoint.parent == handoff.parent / "checkpoints"
    assert data["model_class"] == f"{GoalClassifier.__module__}.{GoalClassifier.__qualname__}"
    assert {"train/loss", "val/loss", "val/acc"} <= set(data["metrics"])
    assert all(math.isfinite(v) for v in data["metrics"].values())
    assert data["config"]["data_module"]["min_effort"] == 4
    assert "GoalDataModule: train:" in result.stdout + result.stderr  # the class counts
    model = TrainedGoalModel(ckpt_path=str(checkpoint))
    values = model.values([toy_goal(random.Random(0), "fresh", True)])
    assert len(values) == 1 and values[0] <= 0.0

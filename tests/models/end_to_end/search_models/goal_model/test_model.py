"""The goal model: it learns a separable toy set, and the prover's `TrainedGoalModel` loads its
checkpoints, values goals in batches (<= 0, deterministic) and reloads."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from torch.utils.data import DataLoader

from data.proof_tree import Goal
from experiments import lightning_runner
from models.embeddings.base import goal_sexp
from models.end_to_end.search_models.goal_model.datamodule import GoalDataModule
from models.end_to_end.search_models.goal_model.goal_models import build_goal_model
from models.end_to_end.search_models.goal_model.model import GoalClassifier, TrainedGoalModel
from tests.models.end_to_end.search_models.goal_model.conftest import tiny_model, toy_goal

CONFIGS = Path(__file__).resolve().parents[5] / "configs"
TRAINED = CONFIGS / "end_to_end" / "search_model" / "goal_model" / "trained.yaml"


def _trainer(root: Path, epochs: int) -> pl.Trainer:
    return pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(root),
    )


def _mean_loss(module: GoalClassifier, data: GoalDataModule) -> float:
    """The training set's loss, in eval mode; the module is left in training mode."""
    module.eval()
    with torch.no_grad():
        losses = [float(module.losses(b)["loss"]) for b in data._loader(data.train_examples, False)]
    module.train()
    return sum(losses) / len(losses)


def test_learns_a_separable_toy_set(goal_run: Path, tmp_path: Path) -> None:
    data = GoalDataModule(goal_run / "traces", batch_size=16, val_fraction=0.25, min_effort=10)
    data.setup("fit")
    pl.seed_everything(0)
    module = GoalClassifier(**tiny_model(), lr=0.01)
    before = _mean_loss(module, data)
    trainer = _trainer(tmp_path, epochs=20)
    trainer.fit(module, datamodule=data)
    counts = data.class_counts["train"]
    assert module.pos_weight == pytest.approx(counts["negative"] / counts["positive"])
    after = _mean_loss(module, data)
    assert after < 0.5 * before, (before, after)
    accuracy = trainer.validate(module, datamodule=data, verbose=False)[0]["val/acc"]
    labels = [e.label for e in data.val_examples]
    majority = max(sum(labels), len(labels) - sum(labels)) / len(labels)
    assert accuracy > majority, (accuracy, majority)


def test_pos_weight_needs_class_counts_or_a_value(tmp_path: Path) -> None:
    batches: list[dict[str, Any]] = [
        {"goals": ["(c (bool) T)", "(c (bool) F)"], "labels": torch.tensor([1.0, 0.0])}
    ]
    loader: DataLoader[Any] = DataLoader(batches, batch_size=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="model.pos_weight"):
        _trainer(tmp_path, 1).fit(GoalClassifier(**tiny_model()), loader)
    fixed = GoalClassifier(**tiny_model(), pos_weight=3.0)
    _trainer(tmp_path, 1).fit(fixed, loader)
    assert fixed.pos_weight == 3.0
    with pytest.raises(ValueError, match="pos_weight must be > 0"):
        GoalClassifier(**tiny_model(), pos_weight=0.0)
    with pytest.raises(ValueError, match="not a TermEncoder"):
        GoalClassifier(**{**tiny_model(), "encoder": {"_target_": "torch.nn.Linear"}})


@pytest.fixture(autouse=True)
def _keep_torch_threads() -> Iterator[None]:
    """run() sets torch's thread count for its process; give the test session its own back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def train(run_dir: Path, out: Path) -> str:
    """A one-epoch goal model training run through the runner; its hand-off's checkpoint."""
    with initialize_config_dir(config_dir=str(CONFIGS), version_base=None):
        cfg = compose(
            "end_to_end/train/goal_model/run",
            overrides=[
                f"data_module.trace_files={run_dir / 'traces'}",
                f"handoff={out / 'handoff.json'}",
                "data_module.min_effort=10",
                "model.encoder.dim=16",
                "model.encoder.layers=1",
                "model.hidden_dim=16",
                "model.num_variable_names=8",
                "trainer.max_epochs=1",
                "trainer.accelerator=cpu",
            ],
        )
    handoff = lightning_runner.run(cfg)
    assert handoff["model_class"] == f"{GoalClassifier.__module__}.GoalClassifier"
    assert "train/loss" in handoff["metrics"]  # the CLI itself runs in the HTPS loop's test
    assert all(math.isfinite(v) for v in handoff["metrics"].values())
    checkpoint: str = handoff["checkpoint"]
    return checkpoint


@pytest.fixture(scope="module")
def checkpoints(goal_run: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """Two checkpoints: one from the runner, one saved by a plain Lightning trainer."""
    threads = torch.get_num_threads()
    first = train(goal_run, tmp_path_factory.mktemp("first"))
    torch.set_num_threads(threads)
    root = tmp_path_factory.mktemp("second")
    trainer = _trainer(root, epochs=1)
    pl.seed_everything(1)
    trainer.fit(GoalClassifier(**tiny_model()), datamodule=GoalDataModule(goal_run / "traces"))
    second = root / "second.ckpt"
    trainer.save_checkpoint(second)
    return first, str(second)


def _goals(n: int) -> list[Goal]:
    rng = random.Random(7)
    hypothesis = Goal("h", ("p",), "(v (bool) q)", ("(v (bool) p)",))
    return [toy_goal(rng, f"new{i}", i % 2 == 0) for i in range(n)] + [
        hypothesis,
        Goal("x = x"),  # no s-expression: the printed text is encoded
    ]


def test_trained_model_values_goals_batched_and_deterministically(
    checkpoints: tuple[str, str],
) -> None:
    first, _ = checkpoints
    model = TrainedGoalModel(ckpt_path=first, batch_size=4)
    assert model.checkpoint == first and model.model is not None
    assert not model.model.training
    goals = _goals(9)
    values = model.values(goals)
    assert len(values) == len(goals)
    assert all(isinstance(v, float) and not math.isnan(v) and v <= 0.0 for v in values)
    assert len(set(values)) > 1
    one_by_one = [model.values([g])[0] for g in goals]
    assert values == pytest.approx(one_by_one, abs=1e-5)
    assert model.values(goals) == values  # deterministic
    assert TrainedGoalModel(ckpt_path=first, batch_size=64).values(goals) == pytest.approx(
        values, abs=1e-5
    )
    assert model.values([goals[0], goals[0]]) == [values[0], values[0]]
    assert model.values([]) == []
    assert goal_sexp(goals[-2]).startswith("(a (a (c (fun (bool) (fun (bool) (bool))) ==>)")


def test_values_are_clamped_to_zero(checkpoints: tuple[str, str]) -> None:
    model = TrainedGoalModel(ckpt_path=checkpoints[0])
    assert model.model is not None
    last = model.model.head[-1]
    assert isinstance(last, torch.nn.Linear)
    with torch.no_grad():
        last.bias.fill_(1e4)  # sigmoid rounds to 1: log sigmoid must be exactly 0, never above
    assert model.values(_goals(3)) == [0.0] * 5


def test_reload_switches_weights_and_bad_paths_fail_fast(
    checkpoints: tuple[str, str], tmp_path: Path
) -> None:
    first, second = checkpoints
    model = TrainedGoalModel(ckpt_path=first)
    goals = _goals(5)
    before = model.values(goals)
    model.reload(second)
    assert model.checkpoint == second
    after = model.values(goals)
    assert after != before
    assert after == TrainedGoalModel(ckpt_path=second).values(goals)
    missing = tmp_path / "nope.ckpt"
    with pytest.raises(ValueError, match=r"no checkpoint file at .*nope\.ckpt"):
        TrainedGoalModel(ckpt_path=str(missing))
    with pytest.raises(ValueError, match="nope.ckpt"):
        model.reload(str(missing))
    other = tmp_path / "other.ckpt"
    torch.save({"model_class": "some.OtherModel", "state_dict": {}}, other)
    with pytest.raises(ValueError, match="records model class 'some.OtherModel'"):
        model.reload(str(other))
    assert model.checkpoint == second and model.values(goals) == after  # left as it was


def test_the_trained_config_builds_it(checkpoints: tuple[str, str]) -> None:
    loaded = OmegaConf.to_container(OmegaConf.load(TRAINED))
    assert isinstance(loaded, dict)
    cfg: dict[str, Any] = {str(k): v for k, v in loaded.items()}
    assert cfg["ckpt_path"] is None and cfg["device"] is None
    with pytest.raises(ValueError, match="goal_model.ckpt_path: is null"):
        build_goal_model(cfg)
    model = build_goal_model({**cfg, "ckpt_path": checkpoints[0]})
    assert isinstance(model, TrainedGoalModel) and model.device == "cpu"
    assert model.checkpoint == checkpoints[0]
    # Before the loop's first training run: a constant value, then reload() loads weights.
    untrained = build_goal_model({**cfg, "untrained_logprob": math.log(0.5)})
    assert isinstance(untrained, TrainedGoalModel) and untrained.checkpoint is None
    assert untrained.values(_goals(1)) == [math.log(0.5)] * 3
    untrained.reload(checkpoints[0])
    assert untrained.values(_goals(1)) == model.values(_goals(1))
    with pytest.raises(ValueError, match="batch_size"):
        build_goal_model({**cfg, "ckpt_path": checkpoints[0], "batch_size": 0})

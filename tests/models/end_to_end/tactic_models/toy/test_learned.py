"""The learned toy model: seeded untrained builds, its data module on real toy traces, training
that makes the proofs' tactics likelier on held-out theorems, and checkpoint round trips."""

from __future__ import annotations

import gzip
import math
import shutil
import statistics
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir

from data.proof_tree import Goal
from data.traces.loader import TraceLoader
from data.traces.schema import InternalNodeRecord
from experiments import lightning_runner
from experiments.end_to_end.config import CONFIG_DIR
from experiments.end_to_end.config import compose as compose_run
from models.end_to_end.tactic_models.base import TacticModel
from models.end_to_end.tactic_models.mixture import MixtureTacticModel
from models.end_to_end.tactic_models.tac_models import build_tactic_model
from models.end_to_end.tactic_models.toy.datamodule import ToyDataModule
from models.end_to_end.tactic_models.toy.fixed import ToyFixedTacticModel
from models.end_to_end.tactic_models.toy.model import (
    MODULE_CLASS,
    ToyLearnedTacticModel,
    ToyTacticNet,
)
from models.end_to_end.tactic_models.toy.module import ToyTacticModule


def toy_model(name: str, *overrides: str) -> TacticModel:
    """The tactic model of ``configs/end_to_end/tac_model/<name>.yaml``, as the loop builds it."""
    return build_tactic_model(
        compose_run(["env_config=toy", f"tac_model={name}", *overrides]).tac_model
    )


def learned(*overrides: str) -> ToyLearnedTacticModel:
    model = toy_model("toy_learned", *(f"tac_model.{o}" for o in overrides))
    assert isinstance(model, ToyLearnedTacticModel)
    return model


@pytest.fixture(scope="module")
def held_out_steps(toy_traces: Path) -> list[tuple[Goal, str]]:
    """(goal, tactic) of every proof step of the valid split: theorems training never sees."""
    return [
        (step.goal, step.tactic)
        for trace in TraceLoader(toy_traces)
        if trace.proved and trace.theorem["split"] == "valid"
        for step in trace.proof_steps()
    ]


def mean_logprob(model: TacticModel, steps: list[tuple[Goal, str]]) -> float:
    """How likely the model finds the tactic each proof used, on average (log-probability)."""
    goals = [goal for goal, _ in steps]
    suggestions = model.get_tactics(goals, [[]] * len(goals))
    return statistics.fmean(
        dict(found)[tactic] for found, (_, tactic) in zip(suggestions, steps, strict=True)
    )


def fit(data: ToyDataModule, max_epochs: int = 30) -> ToyTacticModule:
    pl.seed_everything(0)
    module = ToyTacticModule()
    trainer = pl.Trainer(
        max_epochs=max_epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, datamodule=data)
    return module


def test_the_untrained_model_is_seeded_and_normalised() -> None:
    goals = [Goal("p ==> q", ("p /\\ q", "~r")), Goal("F", ("p", "~p")), Goal("F")]
    a, b, other = learned(), learned(), learned("seed=1")
    out = a.get_tactics(goals, [[], [], []])
    assert out == b.get_tactics(goals, [[], [], []])
    assert out != other.get_tactics(goals, [[], [], []])
    assert out[2] == [] and a.checkpoint is None
    prior = toy_model("toy_fixed")
    assert isinstance(prior, ToyFixedTacticModel)
    for suggestions, fixed in zip(out, prior.get_tactics(goals, [[], [], []]), strict=True):
        assert {t for t, _ in suggestions} == {t for t, _ in fixed}  # the same candidates
        logprobs = [lp for _, lp in suggestions]
        assert logprobs == sorted(logprobs, reverse=True)
        if logprobs:
            assert math.isclose(math.fsum(math.exp(lp) for lp in logprobs), 1.0, rel_tol=1e-5)


def test_the_data_module_reads_the_train_split_and_holds_out_whole_theorems(
    toy_traces: Path, tmp_path: Path
) -> None:
    traces = tmp_path / "traces"
    shutil.copytree(toy_traces, traces)
    (traces / "0" / "broken.json.gz").write_bytes(gzip.compress(b"{not json"))
    data = ToyDataModule(str(traces), val_fraction=0.2, seed=0)
    data.setup("fit")
    assert [p.name for p, _ in data.skipped_files] == ["broken.json.gz"]
    # One example per proved goal of a train-split attempt, proved theorem or not.
    proved_goals = {
        (t.theorem_id, node.goal.to_goal().key)
        for t in TraceLoader(toy_traces)
        if t.theorem["split"] == "train"
        for node in t.nodes
        if isinstance(node, InternalNodeRecord) and node.status == "proved"
    }
    theorems = {theorem for theorem, _ in proved_goals}
    assert any(not t.proved for t in TraceLoader(toy_traces) if t.theorem_id in theorems)
    train_theorems = {e.theorem for e in data.train_examples}
    val_theorems = {e.theorem for e in data.val_examples}
    assert train_theorems | val_theorems == theorems  # no valid-split theorem leaks in
    assert not train_theorems & val_theorems and val_theorems == data.val_theorems
    assert len(val_theorems) == round(0.2 * len(theorems))
    assert len(data.train_examples) + len(data.val_examples) == len(proved_goals)
    assert data.skipped_steps == 0
    batch = data.collate(data.train_examples[:4])
    assert batch["features"].shape[:2] == batch["mask"].shape
    assert all(batch["mask"][i, t] for i, t in enumerate(batch["target"].tolist()))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no training examples"):
        ToyDataModule(str(tmp_path / "empty")).train_dataloader()


def test_training_makes_the_proofs_tactics_likelier_on_held_out_theorems(
    toy_traces: Path, held_out_steps: list[tuple[Goal, str]]
) -> None:
    steps = held_out_steps
    assert len(steps) >= 50
    untrained = learned()
    before = mean_logprob(untrained, steps)
    module = fit(ToyDataModule(str(toy_traces), seed=0))
    trained = learned()
    trained.net = module.net.eval()
    after = mean_logprob(trained, steps)
    suggestions = untrained.get_tactics([g for g, _ in steps], [[]] * len(steps))
    uniform = statistics.fmean(-math.log(len(s)) for s in suggestions)
    prior = mean_logprob(toy_model("toy_fixed"), steps)
    # Untrained, the model is close to uniform over the candidates; trained, it is far better,
    # and about as good as the prior whose searches found these proofs.
    assert abs(before - uniform) < 0.5
    assert after > before + 0.5 and after > prior - 0.2, (before, after, prior)


def test_a_training_run_hands_off_a_checkpoint_the_model_loads(
    toy_traces: Path, held_out_steps: list[tuple[Goal, str]], tmp_path: Path
) -> None:
    with initialize_config_dir(config_dir=str(CONFIG_DIR.parent), version_base=None):
        cfg = compose(
            config_name="end_to_end/train/toy/run",
            overrides=[
                f"data_module.trace_files={toy_traces}",
                f"handoff={tmp_path / 'handoff.json'}",
                "trainer.max_epochs=3",
            ],
        )
    handoff = lightning_runner.run(cfg)
    assert (
        handoff["model_class"]
        == MODULE_CLASS
        == (f"{ToyTacticModule.__module__}.{ToyTacticModule.__qualname__}")
    )
    checkpoint = handoff["checkpoint"]
    goals = [g for g, _ in held_out_steps[:20]]
    untrained = learned()
    before = untrained.get_tactics(goals, [[]] * len(goals))
    loaded = learned(f"ckpt_path={checkpoint}")
    assert loaded.checkpoint == checkpoint
    untrained.reload(checkpoint)
    assert untrained.checkpoint == checkpoint
    after = untrained.get_tactics(goals, [[]] * len(goals))
    assert after == loaded.get_tactics(goals, [[]] * len(goals)) and after != before
    # The mixture reloads its learned component and keeps the fixed prior.
    mixture = build_tactic_model(compose_run(["env_config=toy"]).tac_model)  # the default
    assert isinstance(mixture, MixtureTacticModel)
    mixture.reload(checkpoint)
    assert mixture.checkpoint == checkpoint
    assert mixture.components[0].checkpoint == checkpoint  # type: ignore[attr-defined]


def test_other_checkpoints_are_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no checkpoint file"):
        learned(f"ckpt_path={tmp_path / 'missing.ckpt'}")
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read checkpoint"):
        learned(f"ckpt_path={garbage}")
    other = tmp_path / "other.ckpt"
    torch.save({"model_class": "some.OtherModel", "state_dict": {}}, other)
    with pytest.raises(ValueError, match="records model class 'some.OtherModel'"):
        learned(f"ckpt_path={other}")
    with pytest.raises(ValueError, match="retrain"):
        ToyTacticNet(feature_dim=3)

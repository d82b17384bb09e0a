"""The HOList tactic model: valid, normalised suggestions; training from traces; reload."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader

import experiments.lightning_runner  # noqa: F401  (registers the run config's /lightning_runner)
from data.hol_light.database import TheoremDatabase
from environments.base import Premise
from environments.hol_light.tactics import (
    TACTIC_SIGNATURES,
    Arg,
    ArgKind,
    Tactic,
    ThmArg,
    ThmListArg,
    parse_tactic,
)
from models.end_to_end.tactic_models.base import Premises
from models.end_to_end.tactic_models.holist_model.model import HOListModel, HOListTacticModel
from models.end_to_end.tactic_models.tac_models import build_tactic_model
from tests.models.end_to_end.tactic_models.holist_model.helpers import TINY_MODEL, goal

CONFIGS = Path(__file__).resolve().parents[5] / "configs"
TINY_TRANSFORMER: dict[str, Any] = {
    **TINY_MODEL,
    "encoder": {
        "_target_": "models.embeddings.sexp_transformer.SexpTransformerEncoder",
        "dim": 16,
        "layers": 1,
        "heads": 2,
        "max_len": 64,
    },
}


def premises_of(name: str, last: int | None = None) -> list[Premise]:
    db = TheoremDatabase.cached()
    records = db.premises_for(db[name])
    return [Premise(r.name, r.statement, r.sexp) for r in records[-last if last else 0 :]]


def args_of(tactic: str) -> tuple[Arg, ...]:
    expr = parse_tactic(tactic)
    assert isinstance(expr, Tactic)
    return expr.args


def check_suggestions(suggestions: list[tuple[str, float]], premises: Sequence[Premise]) -> None:
    """Sorted, normalised, in the grammar, citing only the goal's own premises."""
    logprobs = [lp for _, lp in suggestions]
    assert logprobs == sorted(logprobs, reverse=True)
    assert all(lp <= 0.0 for lp in logprobs)
    assert math.fsum(math.exp(lp) for lp in logprobs) <= 1.0 + 1e-6
    own = {p.name for p in premises}
    for tactic, _ in suggestions:
        expr = parse_tactic(tactic, theorem_names=own)  # raises on a foreign premise
        assert isinstance(expr, Tactic)
        assert set(TACTIC_SIGNATURES[expr.name]) <= {ArgKind.THEOREM, ArgKind.THEOREM_LIST}


@pytest.mark.parametrize("config", [TINY_MODEL, TINY_TRANSFORMER], ids=["gnn", "transformer"])
def test_untrained_model_suggests_valid_normalised_tactics(config: dict[str, Any]) -> None:
    model = HOListTacticModel(model=config, num_tactics=8, num_premises=3)
    assert model.checkpoint is None
    bad = [Premise("let", "T", "(c (bool) T)"), Premise("Mod.thm", "T", "(c (bool) T)")]
    goals = [goal("ADD_SYM"), goal("REAL_ADD_SYM"), goal("ADD_0")]
    premises: list[Premises] = [
        premises_of("ADD_SYM", 60),
        premises_of("REAL_ADD_SYM", 40) + bad,
        [],
    ]
    out = model.get_tactics(goals, premises)
    assert len(out) == 3
    for suggestions, ps in zip(out, premises, strict=True):
        assert len(suggestions) == 8
        check_suggestions(suggestions, ps)
    cited = [
        len(a.names) if isinstance(a, ThmListArg) else 1 for t, _ in out[0] for a in args_of(t)
    ]
    assert cited and all(1 <= n <= 3 for n in cited)
    # Without premises: no one-theorem tactics, and theorem lists are empty.
    for tactic, _ in out[2]:
        args = args_of(tactic)
        assert not any(isinstance(a, ThmArg) for a in args)
        assert all(a.names == () for a in args if isinstance(a, ThmListArg))
    # The same in a batch or alone, and the same for a model built with the same seed.
    alone = model.get_tactics([goals[1]], [premises[1]])[0]
    assert [t for t, _ in alone] == [t for t, _ in out[1]]
    assert [lp for _, lp in alone] == pytest.approx([lp for _, lp in out[1]], abs=1e-5)
    again = HOListTacticModel(model=config, num_tactics=8, num_premises=3)
    assert again.get_tactics(goals, premises) == out
    assert model.get_tactics([], []) == []


def test_premise_embeddings_are_cached_by_name() -> None:
    model = HOListTacticModel(model=TINY_MODEL)
    calls: list[int] = []
    encoder = model.model.premise_encoder
    original = encoder.embed

    def counting(sexps: Sequence[str]) -> torch.Tensor:
        calls.append(len(sexps))
        return original(sexps)

    encoder.embed = counting  # type: ignore[method-assign]
    premises = premises_of("ADD_SYM", 50)
    first = model.get_tactics([goal("ADD_SYM")], [premises])
    assert calls == [50]
    assert model.get_tactics([goal("ADD_SYM")], [premises]) == first
    assert calls == [50]  # warm: nothing re-encoded
    changed = [*premises[:-1], Premise(premises[-1].name, "T", "(c (bool) T)")]
    model.get_tactics([goal("ADD_SYM")], [changed])
    assert calls == [50, 1]  # a new statement under a known name is re-encoded


def _compose_run(run_dir: Path, *overrides: str) -> Any:
    with initialize_config_dir(config_dir=str(CONFIGS), version_base=None):
        return compose(
            "end_to_end/train/holist/run",
            overrides=[
                f"data_module.trace_files={run_dir / 'traces'}",
                "data_module.batch_size=2",
                "data_module.val_fraction=0.0",
                "model.encoder.dim=16",
                "model.encoder.layers=1",
                "model.hidden_dim=32",
                "model.num_variable_names=8",
                "model.lr=0.05",
                "trainer.max_epochs=1",
                *overrides,
            ],
        )


def _trainer(cfg: Any, root: Path) -> pl.Trainer:
    trainer: pl.Trainer = instantiate(
        cfg.trainer,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        default_root_dir=str(root),
    )
    return trainer


def test_trains_from_traces_and_reloads(run_dir: Path, tmp_path: Path) -> None:
    cfg = _compose_run(run_dir)
    assert {"seed", "data_module", "model", "trainer"} <= set(cfg)
    assert cfg.trainer.accelerator == "auto" and cfg.trainer.log_every_n_steps == 1
    data = instantiate(cfg.data_module)
    module = instantiate(cfg.model)
    trainer = _trainer(cfg, tmp_path)
    trainer.fit(module, datamodule=data)
    assert trainer.global_step == 3  # 5 examples, batches of 2, one epoch
    for name in ("train/loss", "train/tactic_loss", "train/premise_loss"):
        assert math.isfinite(float(trainer.callback_metrics[name]))
    metrics = trainer.validate(
        module,
        datamodule=instantiate(_compose_run(run_dir, "data_module.val_fraction=1.0").data_module),
    )
    assert {"val/loss", "val/tactic_acc"} <= set(metrics[0])
    path = tmp_path / "holist.ckpt"
    trainer.save_checkpoint(path)

    container = OmegaConf.to_container(cfg.model, resolve=True)
    assert isinstance(container, dict)
    model_config = {str(k): v for k, v in container.items() if not str(k).startswith("_")}
    tactic_model = HOListTacticModel(model=model_config)
    goals = [goal("ADD_SYM")]
    premises: list[Premises] = [premises_of("ADD_SYM", 100)]
    before = tactic_model.get_tactics(goals, premises)
    tactic_model.reload(str(path))
    after = tactic_model.get_tactics(goals, premises)
    assert tactic_model.checkpoint == str(path)
    assert after != before
    check_suggestions(after[0], premises[0])
    trained = module.state_dict()
    loaded = tactic_model.model.state_dict()
    assert loaded.keys() == trained.keys()
    assert all(torch.equal(loaded[k], trained[k]) for k in trained)
    assert tactic_model.model.vocabulary == module.vocabulary
    from_path = HOListTacticModel(ckpt_path=str(path))
    assert from_path.get_tactics(goals, premises) == after


class _Other(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.layer = torch.nn.Linear(2, 1)

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        return self.layer(batch).pow(2).mean()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_reload_refuses_missing_and_foreign_checkpoints(tmp_path: Path) -> None:
    model = HOListTacticModel(model=TINY_MODEL)
    missing = tmp_path / "nope.ckpt"
    with pytest.raises(ValueError, match="nope.ckpt"):
        model.reload(str(missing))
    trainer = pl.Trainer(
        max_steps=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        default_root_dir=str(tmp_path),
    )
    trainer.fit(_Other(), DataLoader(torch.randn(4, 2), batch_size=2))  # type: ignore[arg-type]
    other = tmp_path / "other.ckpt"
    trainer.save_checkpoint(other)
    with pytest.raises(ValueError, match=r"other\.ckpt.* is not a .*HOListModel checkpoint"):
        model.reload(str(other))
    with pytest.raises(ValueError, match="other.ckpt"):
        HOListTacticModel(ckpt_path=str(other))
    assert model.checkpoint is None  # the failed reloads left the model as it was
    check_suggestions(
        model.get_tactics([goal("ADD_0")], [premises_of("ADD_0", 20)])[0], premises_of("ADD_0", 20)
    )


def test_holist_config_builds_the_tactic_model() -> None:
    cfg = OmegaConf.load(CONFIGS / "end_to_end" / "tac_model" / "holist.yaml")
    assert isinstance(cfg, DictConfig)
    cfg.model.encoder.dim = 16
    cfg.model.hidden_dim = 32
    model = build_tactic_model(cfg)
    assert isinstance(model, HOListTacticModel) and model.checkpoint is None
    assert isinstance(model.model, HOListModel)
    assert type(model.model.goal_encoder).__name__ == "TermGraphEncoder"
    assert model.model.goal_encoder is not model.model.premise_encoder
    assert model.model.hparams["encoder"]["dim"] == 16
    premises = premises_of("ADD_SYM", 30)
    check_suggestions(model.get_tactics([goal("ADD_SYM")], [premises])[0], premises)
    shared = HOListModel(**{**TINY_MODEL, "share_encoders": True})
    assert shared.goal_encoder is shared.premise_encoder
    with pytest.raises(ValueError, match="not a TermEncoder"):
        HOListModel(encoder={"_target_": "torch.nn.Linear"})

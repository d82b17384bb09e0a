"""RetrieverModel: unit-norm, padding-free embeddings; the MSE loss over the label matrix;
checkpoints that rebuild offline and refuse other models' files."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from models.end_to_end.tactic_models.retrieval.model import (
    RetrieverModel,
    load_retriever_checkpoint,
)
from models.end_to_end.tactic_models.retrieval.retriever import PremiseRetriever
from tests.models.end_to_end.tactic_models.retrieval.helpers import TINY, batch, trainer

SHORT = "ADD_0: !m. m + 0 = m"
LONG = "SUBSET_UNION: " + " /\\ ".join(f"s{i} SUBSET (s{i} UNION t{i})" for i in range(20))


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails the test loudly."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args[1:]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


def test_embeddings_are_unit_norm_and_ignore_padding() -> None:
    model = RetrieverModel(**TINY).eval()
    with torch.no_grad():
        alone = model.embed([SHORT])
        together = model.embed([SHORT, LONG])
    assert together.shape == (2, model.dim)
    assert torch.linalg.vector_norm(together, dim=-1) == pytest.approx([1.0, 1.0], abs=1e-5)
    # SHORT is padded by over 100 bytes in the batch; mean pooling must not see them.
    assert len(LONG) > len(SHORT) + 100
    torch.testing.assert_close(together[0], alone[0], atol=1e-5, rtol=0)
    assert not torch.allclose(together[0], together[1], atol=1e-3)
    assert model.embed([]).shape == (0, model.dim)


def test_texts_are_cut_to_max_bytes() -> None:
    texts = ["x" * 20 + "ADD_0", "x" * 20 + "NOT_IN_EMPTY"]
    with torch.no_grad():
        cut = RetrieverModel(**{**TINY, "max_bytes": 16}).eval().embed(texts)
        whole = RetrieverModel(**TINY).eval().embed(texts)
    torch.testing.assert_close(cut[0], cut[1])
    assert not torch.allclose(whole[0], whole[1], atol=1e-3)


def test_loss_is_the_mse_against_the_label_matrix_with_shared_positives() -> None:
    # ADD_0 is a positive of both goals: the label matrix says so in both rows, not only
    # on a diagonal.
    data = batch(
        {"n + 0 = n": ["ADD_0: m + 0 = m"], "0 + n = n": ["ADD_0: m + 0 = m", "ADD_SYM: a = b"]},
        negatives=["NOT_IN_EMPTY: ~(x IN {})"],
    )
    assert data["labels"].tolist() == [[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]]
    model = RetrieverModel(**TINY).eval()
    with torch.no_grad():
        out = model.losses(data)  # type: ignore[arg-type]
        similarity = model.embed(data["goals"]) @ model.embed(data["premises"]).T
    expected = ((similarity - data["labels"]) ** 2).mean()
    assert float(out["loss"]) == pytest.approx(float(expected), rel=1e-5)
    # Reading ADD_0 as the first goal's positive only would give another loss.
    diagonal = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    assert float(F.mse_loss(similarity, diagonal)) != pytest.approx(float(out["loss"]), rel=1e-3)
    with pytest.raises(ValueError, match=r"labels have shape \(2, 2\)"):
        model.losses({**data, "labels": torch.zeros(2, 2)})  # type: ignore[typeddict-item]


def test_recall_counts_goals_whose_best_batch_premise_is_a_positive() -> None:
    model = RetrieverModel(**TINY).eval()
    goals, premises = ["n + 0 = n", "0 + n = n", "T"], ["ADD_0", "ADD_SYM", "NOT_IN_EMPTY"]
    with torch.no_grad():
        best = (model.embed(goals) @ model.embed(premises).T).argmax(dim=1).tolist()
    labels = torch.zeros(3, 3)
    labels[0, best[0]] = 1.0  # a hit
    labels[1, (best[1] + 1) % 3] = 1.0  # a miss; goal 2 has no positive and does not count
    with torch.no_grad():
        out = model.losses({"goals": goals, "premises": premises, "labels": labels})
    assert float(out["recall@1"]) == pytest.approx(0.5)


def test_learning_rate_warms_up_linearly_then_stays() -> None:
    model = RetrieverModel(**TINY, lr=1e-3, warmup_steps=4)
    config = model.configure_optimizers()
    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]["scheduler"]
    assert config["lr_scheduler"]["interval"] == "step"
    assert isinstance(optimizer, torch.optim.AdamW)
    seen = []
    for _ in range(6):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert seen == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3])


def test_train_save_and_load_offline(tmp_path: Path, offline: None) -> None:
    model = RetrieverModel(**TINY)
    data = [batch({"n + 0 = n": ["ADD_0: m + 0 = m"]}, ["NOT_IN_EMPTY: ~(x IN {})"])]
    fit = trainer(tmp_path, max_steps=1)
    fit.fit(model, DataLoader(data, batch_size=None), DataLoader(data, batch_size=None))
    assert {"train/loss", "val/loss", "val/recall@1"} <= set(fit.callback_metrics)
    path = tmp_path / "retriever.ckpt"
    fit.save_checkpoint(path)
    saved = torch.load(path, weights_only=True)
    assert saved["model_class"].endswith("retrieval.model.RetrieverModel")
    hparams = json.loads(json.dumps(saved["hyper_parameters"]))  # plain JSON data
    assert hparams["pretrained"] is None
    assert hparams["t5"]["d_model"] == 32 and hparams["t5"]["num_layers"] == 1
    loaded = load_retriever_checkpoint(path)
    assert not loaded.training
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded.embed([SHORT, LONG]), model.embed([SHORT, LONG]))
    retriever = PremiseRetriever(ckpt_path=str(path))
    assert retriever.checkpoint == str(path)


def test_a_local_pretrained_directory_loads_offline_and_checkpoints_without_it(
    tmp_path: Path, offline: None
) -> None:
    source = RetrieverModel(**TINY, seed=3).eval()
    directory = tmp_path / "byt5-tiny"
    source.encoder.save_pretrained(directory)
    model = RetrieverModel(pretrained=str(directory), max_bytes=128).eval()
    with torch.no_grad():
        torch.testing.assert_close(model.embed([SHORT]), source.embed([SHORT]))
    hparams = json.loads(json.dumps(dict(model.hparams)))
    assert hparams["pretrained"] is None
    shutil.rmtree(directory)  # a checkpoint rebuilds from its own config
    rebuilt = RetrieverModel(**hparams)
    rebuilt.load_state_dict(model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(rebuilt.eval().embed([SHORT]), source.embed([SHORT]))


@pytest.mark.parametrize("name", ["google/byt5-small", "no/such/dir"])
def test_hub_names_are_refused_without_asking_the_network(name: str, offline: None) -> None:
    with pytest.raises(ValueError, match=f"pretrained '{name}' is not a local directory"):
        RetrieverModel(pretrained=name)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"t5": {}, "pretrained": "x"}, "not both"),
        ({"t5": {"vocab_size": 100}}, "t5.vocab_size is 100"),
        ({"lr": 0.0}, "lr must be > 0"),
        ({"warmup_steps": -1}, "warmup_steps must be an int >= 0"),
        ({"max_bytes": 0}, "max_bytes must be an int >= 1"),
    ],
)
def test_bad_settings_are_refused_naming_the_key(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RetrieverModel(**kwargs)


def test_other_models_checkpoints_and_missing_files_are_refused(tmp_path: Path) -> None:
    other = tmp_path / "holist.ckpt"
    torch.save(
        {
            "model_class": "models.end_to_end.tactic_models.holist_model.model.HOListModel",
            "hyper_parameters": {},
            "state_dict": {},
        },
        other,
    )
    with pytest.raises(ValueError, match=r"holist\.ckpt.* is not a .*RetrieverModel checkpoint"):
        load_retriever_checkpoint(other)
    with pytest.raises(ValueError, match="holist.ckpt"):
        PremiseRetriever(ckpt_path=str(other))
    with pytest.raises(ValueError, match="no checkpoint file at .*nope.ckpt"):
        load_retriever_checkpoint(tmp_path / "nope.ckpt")

"""The generator: exact scores, batching, checkpoints, export, config, retrieval, no network."""

from __future__ import annotations

import json
import math
import os
import socket
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytorch_lightning as pl
import torch
from omegaconf import OmegaConf
from transformers import ByT5Tokenizer, T5Config, T5ForConditionalGeneration

from data.proof_tree import Goal
from environments.base import Premise
from models.end_to_end.tactic_models.base import Premises
from models.end_to_end.tactic_models.byt5 import byte_ids, text_of
from models.end_to_end.tactic_models.generator.export import main as export_main
from models.end_to_end.tactic_models.generator.inputs import format_input
from models.end_to_end.tactic_models.generator.model import (
    GeneratorModel,
    export_pretrained,
    load_generator_checkpoint,
)
from models.end_to_end.tactic_models.generator.tactic_model import GeneratorTacticModel
from models.end_to_end.tactic_models.tac_models import build_tactic_model
from tests.models.end_to_end.tactic_models.generator.helpers import (
    CONFIG,
    TINY,
    TINY_T5,
    fit,
    teacher_forced_logprob,
)

GOALS = [
    Goal("a + b = b + a"),
    Goal("p ==> q \\/ p", ("r",)),
    Goal("x = y", ("EQ_SYM x", "y = x")),
]
PREMISES: list[Premises] = [
    [Premise("ADD_SYM", "!m n. m + n = n + m"), Premise("ADD_0", "!n. n + 0 = n")],
    [],
    [Premise("EQ_SYM", "!x y. x = y ==> y = x")],
]
HOLIST_CLASS = "models.end_to_end.tactic_models.holist_model.model.HOListModel"
RETRIEVER_MODULE = "models.end_to_end.tactic_models.retrieval.retriever"


@dataclass
class Trained:
    model: GeneratorModel
    trainer: pl.Trainer
    ckpt: Path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """A tiny generator trained briefly on a few goals: its beams end in </s> but are still
    uncertain, so suggestions are many and scores far from 0."""
    sources, targets = [], []
    for i in range(32):
        a, b = "abcdxyz"[i % 7], "mnpq"[i % 4]
        sources += [f"{a} + {b} = {b} + {a}", f"{a} ==> {b} \\/ {a}", f"{a} = {b}\nEQ_SYM {a}"]
        targets += ["ARITH_TAC", "DISCH_TAC", "REWRITE_TAC[EQ_SYM]"]
    model = GeneratorModel(**TINY)
    trainer = fit(model, sources, targets, steps=40)
    ckpt = tmp_path_factory.mktemp("generator") / "generator.ckpt"
    trainer.save_checkpoint(ckpt)
    return Trained(model.eval(), trainer, ckpt)


def tactic_model_of(model: GeneratorModel, **kwargs: Any) -> GeneratorTacticModel:
    """A tactic model over an in-memory ``GeneratorModel``."""
    tactic_model = GeneratorTacticModel(model=TINY, **kwargs)
    tactic_model.model = model.eval()
    return tactic_model


def check_suggestions(suggestions: list[tuple[str, float]], k: int) -> None:
    """Distinct non-empty strings, best first, at most k, each <= 0, normalised."""
    tactics = [t for t, _ in suggestions]
    logprobs = [lp for _, lp in suggestions]
    assert len(set(tactics)) == len(tactics) <= k
    assert all(tactics)
    assert logprobs == sorted(logprobs, reverse=True)
    assert all(lp <= 0.0 for lp in logprobs)
    if logprobs:
        assert torch.logsumexp(torch.tensor(logprobs, dtype=torch.float64), 0) <= 1e-6


# --- Scores, batching, the interface -----------------------------------------------------------


@pytest.mark.parametrize("decoding", ["beam", "sample"])
def test_every_score_is_the_teacher_forced_logprob_of_its_string(
    trained: Trained, decoding: str
) -> None:
    tactic_model = tactic_model_of(
        trained.model, decoding=decoding, num_sampled_tactics=6, num_retrieved=2
    )
    out = tactic_model.get_tactics(GOALS, PREMISES)
    assert len(out) == len(GOALS)
    assert sum(len(s) for s in out) >= 2 * len(GOALS)
    for goal, premises, suggestions in zip(GOALS, PREMISES, out, strict=True):
        check_suggestions(suggestions, 6)
        source = format_input(goal, premises[:2], trained.model.max_input_bytes)
        for tactic, logprob in suggestions:
            expected = teacher_forced_logprob(trained.model.t5, source, tactic)
            assert logprob == pytest.approx(expected, abs=1e-4), (decoding, tactic)


def test_a_batch_gives_the_suggestions_of_its_goals_one_by_one(trained: Trained) -> None:
    tactic_model = tactic_model_of(trained.model, num_sampled_tactics=5, num_retrieved=2)
    batch = tactic_model.get_tactics(GOALS, PREMISES)
    for goal, premises, together in zip(GOALS, PREMISES, batch, strict=True):
        (alone,) = tactic_model.get_tactics([goal], [premises])
        assert [t for t, _ in alone] == [t for t, _ in together]
        assert [lp for _, lp in alone] == pytest.approx([lp for _, lp in together], abs=1e-4)


def test_one_generate_call_serves_the_whole_batch(
    trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    generate = trained.model.t5.generate

    def counting(**kwargs: Any) -> Any:
        calls.append(len(kwargs["encoder_outputs"].last_hidden_state))
        return generate(**kwargs)

    monkeypatch.setattr(trained.model.t5, "generate", counting)
    tactic_model_of(trained.model, num_sampled_tactics=4).get_tactics(GOALS, [[]] * 3)
    assert calls == [3]


def test_empty_batch_and_mismatched_premises(trained: Trained) -> None:
    tactic_model = tactic_model_of(trained.model)
    assert tactic_model.get_tactics([], []) == []
    with pytest.raises(ValueError, match="premises must hold one list per goal"):
        tactic_model.get_tactics(GOALS, [[]])


def test_sampling_is_seeded_and_leaves_the_global_rng_alone(trained: Trained) -> None:
    first = tactic_model_of(trained.model, decoding="sample", seed=3)
    second = tactic_model_of(trained.model, decoding="sample", seed=3)
    state = torch.get_rng_state()
    out = first.get_tactics(GOALS, [[]] * 3)
    assert torch.equal(state, torch.get_rng_state())
    assert out == second.get_tactics(GOALS, [[]] * 3)
    for suggestions in out:
        check_suggestions(suggestions, 8)


def test_a_sequence_cut_off_by_the_length_limit_is_dropped(trained: Trained) -> None:
    """ARITH_TAC (9 bytes) fits in 9 bytes and </s>; with room for 8 the decoder still writes
    its 9 bytes but no </s>, and that cut-off string must not come back as a tactic."""
    goal = [Goal("a + m = m + a")]
    fits = tactic_model_of(trained.model, max_output_bytes=9).get_tactics(goal, [[]])[0]
    assert "ARITH_TAC" in [t for t, _ in fits]
    cut = tactic_model_of(trained.model, max_output_bytes=8).get_tactics(goal, [[]])[0]
    check_suggestions(cut, 8)
    assert all(len(t.encode()) <= 8 for t, _ in cut)


def test_an_untrained_model_suggests_only_complete_tactics() -> None:
    tactic_model = GeneratorTacticModel(model={**TINY, "max_output_bytes": 8}, decoding="sample")
    for suggestions in tactic_model.get_tactics(GOALS, PREMISES):
        check_suggestions(suggestions, 8)


def test_the_byte_codec_is_byt5s_and_special_text_stays_bytes() -> None:
    texts = ["REWRITE_TAC[ADD_SYM]", "∀x. x = x", ""]
    ids, mask = byte_ids(texts)
    expected = ByT5Tokenizer()(texts, padding="longest", return_tensors="pt")
    assert torch.equal(ids, expected["input_ids"])
    assert torch.equal(mask, expected["attention_mask"])
    special, _ = byte_ids(["a</s>"])
    assert special[0].tolist() == [ord(c) + 3 for c in "a</s>"] + [1]
    tokenizer = ByT5Tokenizer()
    for row in ([103, 104, 1, 0], [3 + 0xE2, 3 + 0x88, 3 + 0x80, 2, 300, 120], [3 + 0xE2, 120]):
        assert text_of(row) == tokenizer.decode(row, skip_special_tokens=True)
    truncated, _ = byte_ids(["abcdef"], max_bytes=2)
    assert truncated[0].tolist() == [ord("a") + 3, ord("b") + 3, 1]


# --- Training module ----------------------------------------------------------------------------


def test_weights_are_seeded_without_touching_the_global_rng() -> None:
    state = torch.get_rng_state()
    a, b, c = (GeneratorModel(t5=TINY_T5, seed=s) for s in (0, 0, 1))
    assert torch.equal(state, torch.get_rng_state())
    pairs = zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    assert all(torch.equal(x, y) for x, y in pairs)
    assert not torch.equal(a.t5.shared.weight, c.t5.shared.weight)


def test_training_step_logs_the_number_of_examples_and_learns(trained: Trained) -> None:
    model = GeneratorModel(**TINY)
    logged: list[tuple[str, dict[str, Any]]] = []
    model.log = lambda name, value, **kwargs: logged.append((name, kwargs))  # type: ignore[method-assign]
    batch = {"sources": ["a", "b", "c"], "targets": ["X", "Y", "Z"]}
    loss = model.training_step(batch, 0)  # type: ignore[arg-type]
    model.validation_step(batch, 0)  # type: ignore[arg-type]
    assert [(n, kw["batch_size"]) for n, kw in logged] == [("train/loss", 3), ("val/loss", 3)]
    assert loss.requires_grad and float(loss.detach()) > 0


def test_labels_end_in_eos_and_pad_to_ignore_index() -> None:
    model = GeneratorModel(**TINY)
    labels = model.encode_targets(["AB", "A" * 40])
    assert labels[0].tolist()[:3] == [ord("A") + 3, ord("B") + 3, 1]
    assert set(labels[0].tolist()[3:]) == {-100}
    assert labels.shape[1] == TINY["max_output_bytes"] + 1  # truncated, </s> kept


def test_warmup_is_linear_then_constant() -> None:
    model = GeneratorModel(t5=TINY_T5, lr=0.1, warmup_steps=4)
    config = model.configure_optimizers()
    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]["scheduler"]
    assert config["lr_scheduler"]["interval"] == "step"
    rates = []
    for _ in range(6):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates == pytest.approx([0.025, 0.05, 0.075, 0.1, 0.1, 0.1])


def test_hyperparameters_are_plain_data_with_the_full_t5_config(trained: Trained) -> None:
    hparams = dict(trained.model.hparams)
    assert json.loads(json.dumps(hparams)) == hparams
    assert hparams["pretrained"] is None
    assert hparams["t5"]["d_model"] == TINY_T5["d_model"]
    assert hparams["t5"]["vocab_size"] == 384
    assert T5Config(**hparams["t5"]).to_dict() == trained.model.t5.config.to_dict()


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="t5.vocab_size"):
        GeneratorModel(t5={"vocab_size": 32128})
    with pytest.raises(ValueError, match="not both"):
        GeneratorModel(t5=TINY_T5, pretrained=str(tmp_path))
    with pytest.raises(ValueError, match="tac_model.decoding must be 'beam' or 'sample'"):
        GeneratorTacticModel(model=TINY, decoding="greedy")
    with pytest.raises(ValueError, match="tac_model.num_sampled_tactics"):
        GeneratorTacticModel(model=TINY, num_sampled_tactics=0)
    with pytest.raises(ValueError, match="tac_model.retriever is set but"):
        GeneratorTacticModel(model=TINY, retriever={"ckpt_path": None})
    with pytest.raises(ValueError, match="tac_model.max_output_bytes"):
        GeneratorTacticModel(model=TINY, max_output_bytes=0)
    with pytest.raises(ValueError, match="tac_model.model: .*d_model"):
        GeneratorTacticModel(model={"d_model": 8})


# --- Checkpoints and export ---------------------------------------------------------------------


def test_checkpoint_and_reload_give_the_trained_models_suggestions(trained: Trained) -> None:
    expected = tactic_model_of(trained.model).get_tactics(GOALS, PREMISES)
    loaded = GeneratorTacticModel(ckpt_path=str(trained.ckpt), model={"no": "ignored"})
    assert loaded.checkpoint == str(trained.ckpt)
    assert loaded.get_tactics(GOALS, PREMISES) == expected
    fresh = GeneratorTacticModel(model=TINY)
    assert fresh.checkpoint is None
    assert fresh.get_tactics(GOALS, PREMISES) != expected
    fresh.reload(str(trained.ckpt))
    assert fresh.checkpoint == str(trained.ckpt)
    assert not fresh.model.training
    assert fresh.get_tactics(GOALS, PREMISES) == expected


def test_another_models_checkpoint_or_a_random_file_is_refused(tmp_path: Path) -> None:
    holist = tmp_path / "holist.ckpt"
    torch.save({"model_class": HOLIST_CLASS, "state_dict": {}, "hyper_parameters": {}}, holist)
    with pytest.raises(ValueError, match=f"'{holist}' is not a .*GeneratorModel.*HOListModel"):
        GeneratorTacticModel(ckpt_path=str(holist))
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(os.urandom(256))
    with pytest.raises(ValueError, match=f"cannot read checkpoint '{junk}'"):
        load_generator_checkpoint(junk)
    with pytest.raises(ValueError, match="no checkpoint file at"):
        GeneratorTacticModel(model=TINY).reload(str(tmp_path / "missing.ckpt"))


def test_export_loads_as_pretrained_with_the_same_logits(trained: Trained, tmp_path: Path) -> None:
    out = export_pretrained(trained.model, tmp_path / "hf")
    inputs, mask = trained.model.encode_sources(["a + b = b + a", "x"])
    labels = trained.model.encode_targets(["ARITH_TAC", "REWRITE_TAC[X]"])
    with torch.inference_mode():
        expected = trained.model.t5(input_ids=inputs, attention_mask=mask, labels=labels).logits
        again = GeneratorModel(pretrained=str(out)).eval()
        assert again.hparams["pretrained"] is None  # the checkpoint will not need the directory
        got = again.t5(input_ids=inputs, attention_mask=mask, labels=labels).logits
        plain = T5ForConditionalGeneration.from_pretrained(out, local_files_only=True).eval()
        got_plain = plain(input_ids=inputs, attention_mask=mask, labels=labels).logits
    assert torch.allclose(got, expected, atol=1e-6)
    assert torch.allclose(got_plain, expected, atol=1e-6)
    assert json.loads((out / "tokenizer_config.json").read_text())["tokenizer_class"] == (
        "ByT5Tokenizer"
    )


def test_export_command(
    trained: Trained, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "exported"
    assert export_main([str(trained.ckpt), str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    assert (out / "config.json").is_file()
    assert export_main([str(trained.ckpt), str(out)]) == 2
    refused = capsys.readouterr().err
    assert "not empty" in refused and "--force" in refused
    assert export_main([str(trained.ckpt), str(out), "--force"]) == 0
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint")
    assert export_main([str(junk), str(tmp_path / "other")]) == 2
    assert str(junk) in capsys.readouterr().err
    assert not (tmp_path / "other").exists()


def test_a_pretrained_directory_must_hold_a_byt5_model(tmp_path: Path, trained: Trained) -> None:
    other = tmp_path / "t5-small"
    T5Config(vocab_size=32128, d_model=16, d_ff=16, d_kv=4, num_heads=2).save_pretrained(other)
    with pytest.raises(ValueError, match=f"pretrained '{other}' is not a ByT5 model"):
        GeneratorModel(pretrained=str(other))
    mismatched = export_pretrained(trained.model, tmp_path / "mismatched")
    config = json.loads((mismatched / "tokenizer_config.json").read_text())
    config["tokenizer_class"] = "T5Tokenizer"
    (mismatched / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=f"pretrained '{mismatched}' .*'T5Tokenizer'"):
        GeneratorModel(pretrained=str(mismatched))


# --- Config and network -------------------------------------------------------------------------


def tiny_config() -> Any:
    cfg = OmegaConf.load(CONFIG)
    cfg.model.t5 = TINY_T5
    cfg.model.max_output_bytes = 16
    return cfg


def test_the_config_builds_a_generator_with_its_documented_defaults() -> None:
    raw = OmegaConf.load(CONFIG)
    assert raw.num_sampled_tactics == 8 and raw.decoding == "beam" and raw.num_retrieved == 0
    assert raw.retriever is None and raw.device is None and raw.seed == 0
    model = build_tactic_model(tiny_config())
    assert isinstance(model, GeneratorTacticModel)
    assert model.device == "cpu" and model.checkpoint is None
    assert model.model.t5.config.d_model == TINY_T5["d_model"]
    defaults = GeneratorModel(**OmegaConf.to_container(raw.model))  # type: ignore[arg-type]
    assert defaults.t5.config.num_layers == raw.model.t5.num_layers


def test_nothing_touches_the_network(
    monkeypatch: pytest.MonkeyPatch, trained: Trained, tmp_path: Path
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"network access: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    model = build_tactic_model(tiny_config())
    model.get_tactics(GOALS, PREMISES)
    ckpt = tmp_path / "again.ckpt"
    trained.trainer.save_checkpoint(ckpt)
    loaded = GeneratorTacticModel(ckpt_path=str(ckpt))
    out = export_pretrained(loaded.model, tmp_path / "hf")
    GeneratorModel(pretrained=str(out))
    T5ForConditionalGeneration.from_pretrained(out, local_files_only=True)
    with pytest.raises(ValueError, match="'google/byt5-small' is not a local directory; nothing"):
        GeneratorModel(pretrained="google/byt5-small")
    with pytest.raises(ValueError, match="google/byt5-small"):
        GeneratorTacticModel(model={"pretrained": "google/byt5-small"})


# --- Retrieval ----------------------------------------------------------------------------------


def spy_sources(tactic_model: GeneratorTacticModel, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    encode = tactic_model.model.encode_sources

    def spying(sources: list[str], max_bytes: int | None = None) -> Any:
        seen.extend(sources)
        return encode(sources, max_bytes)

    monkeypatch.setattr(tactic_model.model, "encode_sources", spying)
    return seen


def test_without_a_retriever_the_first_premises_are_read(
    trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    tactic_model = tactic_model_of(trained.model, num_retrieved=1, max_input_bytes=200)
    seen = spy_sources(tactic_model, monkeypatch)
    tactic_model.get_tactics(GOALS, PREMISES)
    assert seen == [format_input(g, ps[:1], 200) for g, ps in zip(GOALS, PREMISES, strict=True)]
    assert seen[0].startswith("ADD_SYM: ") and "ADD_0" not in seen[0]
    no_premises = tactic_model_of(trained.model)
    seen_none = spy_sources(no_premises, monkeypatch)
    no_premises.get_tactics(GOALS, PREMISES)
    assert seen_none == [format_input(g) for g in GOALS]


def test_a_retriever_ranks_the_premises_read(
    trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, ...]] = []

    class PremiseRetriever:
        def __init__(self, **kwargs: Any) -> None:
            calls.append(("init", kwargs))

        def rank(
            self, goals: list[Goal], premises: list[list[Premise]], k: int
        ) -> list[list[tuple[Premise, float]]]:
            calls.append(("rank", len(goals), k))
            return [[(p, -float(i)) for i, p in enumerate(reversed(ps))][:k] for ps in premises]

    def build_retriever(config: dict[str, Any], device: str) -> PremiseRetriever:
        return PremiseRetriever(**{**config, "device": config.get("device") or device})

    module = types.ModuleType(RETRIEVER_MODULE)
    module.build_retriever = build_retriever  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, RETRIEVER_MODULE, module)
    tactic_model = tactic_model_of(
        trained.model, num_retrieved=1, retriever={"ckpt_path": "r.ckpt", "device": None}
    )
    assert calls == [("init", {"ckpt_path": "r.ckpt", "device": "cpu"})]
    seen = spy_sources(tactic_model, monkeypatch)
    tactic_model.get_tactics(GOALS, PREMISES)
    assert calls[1:] == [("rank", 3, 1)]  # one call for the whole batch
    assert seen[0] == format_input(GOALS[0], [PREMISES[0][1]], tactic_model.max_input_bytes)


def test_scores_stay_normalised_with_many_samples(trained: Trained) -> None:
    out = tactic_model_of(trained.model, decoding="sample", num_sampled_tactics=16).get_tactics(
        GOALS, PREMISES
    )
    for suggestions in out:
        check_suggestions(suggestions, 16)
        assert math.fsum(math.exp(lp) for _, lp in suggestions) <= 1.0 + 1e-6

"""The mixture tactic model: weighted sum of component distributions."""

from __future__ import annotations

import math

import pytest

from data.proof_tree import Goal
from environments.base import Premise, Suggestion
from models.end_to_end.tactic_models.base import Premises, TacticModel
from models.end_to_end.tactic_models.mixture import MixtureTacticModel


class Constant(TacticModel):
    def __init__(self, suggestions: list[Suggestion], reloadable: bool = False) -> None:
        self.suggestions = suggestions
        self.reloadable = reloadable
        self.checkpoint = None

    def get_tactics(self, goals: list[Goal], premises: list[Premises]) -> list[list[Suggestion]]:
        return [list(self.suggestions) for _ in goals]

    def reload(self, checkpoint: str) -> None:
        if not self.reloadable:
            raise NotImplementedError
        self.checkpoint = checkpoint


def test_mixture_sums_probabilities_of_shared_tactics() -> None:
    a = Constant([("ARITH_TAC", math.log(0.8)), ("GEN_TAC", math.log(0.2))])
    b = Constant([("GEN_TAC", math.log(1.0))])
    model = MixtureTacticModel([a, b], weights=[3.0, 1.0])
    (suggestions,) = model.get_tactics([Goal("T")], [[Premise("TRUTH", "T")]])
    probs = {t: math.exp(lp) for t, lp in suggestions}
    assert probs["ARITH_TAC"] == pytest.approx(0.75 * 0.8)
    assert probs["GEN_TAC"] == pytest.approx(0.75 * 0.2 + 0.25)
    assert [t for t, _ in suggestions] == ["ARITH_TAC", "GEN_TAC"]
    assert sum(probs.values()) == pytest.approx(1.0)


def test_reload_reaches_only_components_with_weights() -> None:
    learned = Constant([("ARITH_TAC", 0.0)], reloadable=True)
    model = MixtureTacticModel([Constant([("GEN_TAC", 0.0)]), learned])
    model.reload("/tmp/x.ckpt")
    assert learned.checkpoint == "/tmp/x.ckpt" and model.checkpoint == "/tmp/x.ckpt"
    with pytest.raises(NotImplementedError):
        MixtureTacticModel([Constant([])]).reload("/tmp/x.ckpt")


def test_bad_weights_are_a_clear_error() -> None:
    with pytest.raises(ValueError, match="tac_model.weights"):
        MixtureTacticModel([Constant([])], weights=[0.0])


def test_named_components_and_weights() -> None:
    model = MixtureTacticModel(
        {"learned": Constant([("ARITH_TAC", 0.0)]), "prior": Constant([("GEN_TAC", 0.0)])},
        weights={"learned": 1.0, "prior": 3.0},
    )
    (suggestions,) = model.get_tactics([Goal("T")], [[]])
    assert suggestions[0][0] == "GEN_TAC"
    assert math.exp(suggestions[0][1]) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="no component named"):
        MixtureTacticModel({"a": Constant([])}, weights={"b": 1.0})


def test_trained_weights_take_over_once_weights_are_loaded() -> None:
    def build() -> MixtureTacticModel:
        return MixtureTacticModel(
            {
                "learned": Constant([("ARITH_TAC", 0.0)], reloadable=True),
                "prior": Constant([("GEN_TAC", 0.0)]),
            },
            weights={"learned": 1.0, "prior": 3.0},
            trained_weights={"learned": 4.0, "prior": 1.0},
        )

    def probs(model: MixtureTacticModel) -> dict[str, float]:
        (suggestions,) = model.get_tactics([Goal("T")], [[]])
        return {t: math.exp(lp) for t, lp in suggestions}

    model = build()
    assert probs(model)["ARITH_TAC"] == pytest.approx(0.25)  # untrained: the prior leads
    model.reload("/tmp/x.ckpt")
    assert probs(model)["ARITH_TAC"] == pytest.approx(0.8)
    with pytest.raises(ValueError, match="tac_model.trained_weights"):
        MixtureTacticModel([Constant([])], trained_weights=[-1.0])

"""The fixed toy model: normalised, grammatical suggestions, and no applicable tactic left out."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from data.proof_tree import Goal
from data.toy.database import ToyTheorems
from data.traces.loader import TraceLoader
from environments.base import Failure
from environments.toy.env import ToyEnv
from environments.toy.tactics import NULLARY, parse_tactic
from experiments.end_to_end.config import compose
from models.end_to_end.tactic_models.tac_models import build_tactic_model
from models.end_to_end.tactic_models.toy.fixed import ToyFixedTacticModel


def fixed() -> ToyFixedTacticModel:
    model = build_tactic_model(compose(["env_config=toy", "tac_model=toy_fixed"]).tac_model)
    assert isinstance(model, ToyFixedTacticModel)
    return model


@pytest.fixture(scope="module")
def goals(toy_traces: Path) -> list[Goal]:
    """The first 400 goals the fixed model's searches met (roots, subgoals, dead ends)."""
    found = {}
    for trace in TraceLoader(toy_traces):
        for node in trace.nodes:
            if node.type == "internal":
                goal = node.goal.to_goal()
                found[goal.key] = goal
    return list(found.values())[:400]


def test_suggestions_are_normalised_sorted_and_grammatical(goals: list[Goal]) -> None:
    model = fixed()
    for goal, suggestions in zip(goals, model.get_tactics(goals, [[]] * len(goals)), strict=True):
        if not suggestions:
            continue  # a dead end such as |- F: no rule fits (the next test checks that)
        logprobs = [lp for _, lp in suggestions]
        assert logprobs == sorted(logprobs, reverse=True)
        assert math.isclose(math.fsum(math.exp(lp) for lp in logprobs), 1.0)
        for tactic, _ in suggestions:
            parse_tactic(tactic, len(goal.hypotheses))


def test_the_candidates_are_exactly_the_tactics_the_rules_accept(goals: list[Goal]) -> None:
    """Shape is all a rule checks, so the candidates leave nothing out and add nothing."""
    env = ToyEnv(ToyTheorems.cached()["peirce"])
    for goal, suggestions in zip(goals, fixed().get_tactics(goals, [[]] * len(goals)), strict=True):
        every = [*NULLARY, *(f"elim {i}" for i in range(len(goal.hypotheses)))]
        applicable = {t for t in every if not isinstance(env.apply(goal, t, env.timeout), Failure)}
        assert {t for t, _ in suggestions} == applicable, goal


def test_the_priors_order_the_tries() -> None:
    (suggestions,) = fixed().get_tactics([Goal("p /\\ q", ("p /\\ q", "r"))], [[]])
    assert [t for t, _ in suggestions] == ["assumption", "split", "elim 0", "classical", "exfalso"]
    (suggestions,) = fixed().get_tactics([Goal("T")], [[]])
    assert suggestions[0][0] == "trivial"


def test_an_unreadable_goal_gets_no_suggestions() -> None:
    assert fixed().get_tactics([Goal("p ==>"), Goal("p", ("q", "p"))], [[], []]) == [[], []]


def test_bad_configs_and_batches_are_refused() -> None:
    priors = fixed().log_priors
    with pytest.raises(ValueError, match=r"missing \['elim'\]"):
        ToyFixedTacticModel({k: v for k, v in priors.items() if k != "elim"})
    with pytest.raises(ValueError, match=r"unknown \['auto'\]"):
        ToyFixedTacticModel({**priors, "auto": 0.0})
    with pytest.raises(ValueError, match="finite"):
        ToyFixedTacticModel({**priors, "intro": math.inf})
    with pytest.raises(ValueError, match="one list per goal"):
        fixed().get_tactics([Goal("p")], [])

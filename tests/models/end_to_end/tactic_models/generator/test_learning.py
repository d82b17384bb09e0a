"""The generator learns: tactics that depend on the goal text, and theorem names it can only
copy from the premises in front of the goal (so the retrieval augmentation is read)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import pytest
import torch

from data.proof_tree import Goal
from environments.base import Premise
from models.end_to_end.tactic_models.base import Premises
from models.end_to_end.tactic_models.generator.inputs import format_input
from models.end_to_end.tactic_models.generator.model import GeneratorModel
from models.end_to_end.tactic_models.generator.premises import PremiseRanking
from models.end_to_end.tactic_models.generator.tactic_model import GeneratorTacticModel
from tests.models.end_to_end.tactic_models.generator.helpers import TINY, fit

NAMES = ["ADD_SYM", "MUL_SYM", "LE_REFL", "EQ_SYM", "NOT_CLAUSES", "CONJ_ASSOC", "SUB_0", "ADD_AC"]
STEPS = 300


def full_loss(model: GeneratorModel, sources: Sequence[str], targets: Sequence[str]) -> float:
    model.eval()
    with torch.inference_mode():
        return float(model.loss({"sources": list(sources), "targets": list(targets)}))


def top1_accuracy(
    ckpt: Path, goals: list[Goal], premises: list[Premises], targets: list[str], retrieved: int
) -> float:
    """Exact match of the best beam, from the trained checkpoint as the prover loads it."""
    tactic_model = GeneratorTacticModel(
        ckpt_path=str(ckpt), num_sampled_tactics=4, num_retrieved=retrieved
    )
    out = tactic_model.get_tactics(goals, premises)
    hits = sum(bool(s) and s[0][0] == t for s, t in zip(out, targets, strict=True))
    return hits / len(goals)


def train(
    sources: list[str], targets: list[str], tmp_path: Path, name: str
) -> tuple[float, float, Path]:
    """Initial and final loss over all examples, and the checkpoint, of a tiny model."""
    model = GeneratorModel(**TINY)
    initial = full_loss(model, sources, targets)
    trainer = fit(model, sources, targets, steps=STEPS)
    final = full_loss(model, sources, targets)
    ckpt = tmp_path / f"{name}.ckpt"
    trainer.save_checkpoint(ckpt)
    return initial, final, ckpt


def synthetic_goals() -> tuple[list[Goal], list[str]]:
    """64 goals whose tactic follows from their text: ``+`` -> ARITH_TAC, ``==>`` ->
    DISCH_TAC, else REWRITE_TAC[the theorem named in the goal's hypothesis]."""
    rng = random.Random(0)
    goals, tactics = [], []
    for i in range(64):
        a, b = rng.sample("abcmnpqxyz", 2)
        if i % 3 == 0:
            goals.append(Goal(f"{a} + {b} = {b} + {a}"))
            tactics.append("ARITH_TAC")
        elif i % 3 == 1:
            goals.append(Goal(f"{a} ==> {b} \\/ {a}"))
            tactics.append("DISCH_TAC")
        else:
            name = rng.choice(NAMES)
            goals.append(Goal(f"{a} = {b}", (f"{name} {a}",)))
            tactics.append(f"REWRITE_TAC[{name}]")
    return goals, tactics


@pytest.mark.slow
def test_a_tiny_generator_learns_tactics_that_depend_on_the_goal(tmp_path: Path) -> None:
    goals, tactics = synthetic_goals()
    assert len(set(tactics)) > 4  # the names vary, so the copy has to be learned
    sources = [format_input(g) for g in goals]
    initial, final, ckpt = train(sources, tactics, tmp_path, "function")
    assert final < 0.1 * initial
    assert top1_accuracy(ckpt, goals, [[]] * len(goals), tactics, retrieved=0) >= 0.9


def copy_task() -> tuple[list[Goal], list[Premises], list[str]]:
    """Each of 8 goal texts with each of 8 theorem names: the right tactic cites the name of
    the premise whose statement is the goal, ranked first; a distractor premise (another
    name, another statement) comes second. The goal text alone says nothing of the name."""
    texts = ["f x = g x", "a + b = c", "p /\\ q", "x <= y", "~(m = n)", "h (h z) = z", "u * v = w"]
    texts.append("!k. P k")
    rng = random.Random(0)
    goals, premises, targets = [], [], []
    for t, text in enumerate(texts):
        for j, name in enumerate(NAMES):
            other = NAMES[(j + 1 + rng.randrange(len(NAMES) - 1)) % len(NAMES)]
            goals.append(Goal(text))
            premises.append([Premise(name, text), Premise(other, texts[(t + 3) % len(texts)])])
            targets.append(f"REWRITE_TAC[{name}]")
    return goals, premises, targets


@pytest.mark.slow
def test_the_generator_copies_a_theorem_name_found_only_in_the_premises(tmp_path: Path) -> None:
    goals, premises, targets = copy_task()
    assert all(name not in g.conclusion for g in goals for name in NAMES)
    # Trained on the premises as the tactic model will read them: ranked the one way.
    ranked = PremiseRanking().rank(goals, premises, 2)
    assert all(ps[0] in row for row, ps in zip(ranked, premises, strict=True))
    with_premises = [format_input(g, row) for g, row in zip(goals, ranked, strict=True)]
    initial, final, ckpt = train(with_premises, targets, tmp_path, "with")
    assert final < 0.1 * initial
    assert top1_accuracy(ckpt, goals, premises, targets, retrieved=2) >= 0.9

    # The same model and data without the premises can only guess: each goal text comes with
    # all 8 names, so at most 1 in 8 is right whatever it learns.
    _, _, blind = train([format_input(g) for g in goals], targets, tmp_path, "without")
    assert top1_accuracy(blind, goals, premises, targets, retrieved=0) <= 0.4

"""The generator's input text: conclusion first, premises best-next-to-the-goal, in budget."""

from __future__ import annotations

import random

import pytest

from data.proof_tree import Goal
from environments.base import Premise
from models.end_to_end.tactic_models.generator.inputs import (
    format_goal,
    format_input,
    format_premise,
)

GOAL = Goal("x + 0 = x", ("0 <= x", "~(x = 1)"), "(sexp conclusion)", ("(h1)", "(h2)"))
PREMISES = [Premise(f"THM_{i}", f"!n. n + {i} = {i} + n") for i in range(6)]


def test_format_goal_puts_the_conclusion_first_then_one_hypothesis_per_line() -> None:
    lines = format_goal(GOAL).split("\n")
    assert lines == ["x + 0 = x", "0 <= x", "~(x = 1)"]
    assert "sexp" not in format_goal(GOAL)  # the printed forms, not the s-expressions
    assert format_goal(Goal("T")) == "T"


def test_without_premises_the_input_is_the_goal() -> None:
    assert format_input(GOAL) == format_goal(GOAL)
    assert format_input(GOAL, PREMISES, max_bytes=0) == format_goal(GOAL)  # never truncated


def test_premises_are_prepended_so_the_best_one_is_next_to_the_goal() -> None:
    text = format_input(GOAL, PREMISES[:3], max_bytes=10_000)
    state = format_goal(GOAL)
    assert text.endswith(format_premise(PREMISES[0]) + state)
    assert text == "".join(format_premise(p) for p in reversed(PREMISES[:3])) + state
    assert format_premise(PREMISES[0]) == "THM_0: !n. n + 0 = 0 + n\n\n"


@pytest.mark.parametrize("max_bytes", [40, 64, 90, 130, 200])
def test_the_byte_budget_is_respected_and_the_goal_kept_whole(max_bytes: int) -> None:
    text = format_input(GOAL, PREMISES, max_bytes=max_bytes)
    state = format_goal(GOAL)
    assert text.endswith(state)
    premise_bytes = len(text.encode()) - len(state.encode())
    assert premise_bytes <= max(0, max_bytes - len(state.encode()))
    # Greedy in rank order: the kept premises are a prefix of the list (all of equal size).
    size = len(format_premise(PREMISES[0]).encode())
    kept = max(0, (max_bytes - len(state.encode())) // size)
    assert premise_bytes == min(kept, len(PREMISES)) * size


def test_a_premise_too_long_for_the_budget_is_skipped_not_the_end() -> None:
    long = Premise("LONG", "x" * 500)
    premises = [PREMISES[0], long, PREMISES[1]]
    text = format_input(GOAL, premises, max_bytes=200)
    assert "LONG" not in text
    assert text == format_premise(PREMISES[1]) + format_premise(PREMISES[0]) + format_goal(GOAL)


def test_multibyte_text_is_counted_in_bytes() -> None:
    goal = Goal("∀x. x = x")  # "∀" is 3 bytes in UTF-8
    premise = Premise("P", "∀y. y")
    state_bytes = len(format_goal(goal).encode())
    premise_bytes = len(format_premise(premise).encode())
    assert premise_bytes > len(format_premise(premise))
    assert format_input(goal, [premise], max_bytes=state_bytes + premise_bytes).startswith("P: ")
    assert format_input(goal, [premise], max_bytes=state_bytes + premise_bytes - 1) == (
        format_goal(goal)
    )


def test_p_drop_zero_is_deterministic_and_p_drop_needs_an_rng() -> None:
    first = format_input(GOAL, PREMISES, max_bytes=10_000, p_drop=0.0)
    assert all(first == format_input(GOAL, PREMISES, max_bytes=10_000) for _ in range(5))
    with pytest.raises(ValueError, match="rng"):
        format_input(GOAL, PREMISES, p_drop=0.5)
    with pytest.raises(ValueError, match="p_drop"):
        format_input(GOAL, PREMISES, p_drop=1.5, rng=random.Random(0))


def test_p_drop_drops_some_premises_reproducibly_and_keeps_the_order() -> None:
    many = [Premise(f"T{i}", "x") for i in range(200)]
    texts = [format_input(GOAL, many, 100_000, 0.5, random.Random(seed)) for seed in range(3)]
    assert texts[0] == format_input(GOAL, many, 100_000, 0.5, random.Random(0))
    assert len(set(texts)) == 3
    for text in texts:
        kept = [line.split(":")[0] for line in text.split("\n\n")[:-1]]
        assert 50 < len(kept) < 150  # about half of 200
        assert kept == sorted(kept, key=lambda name: -int(name[1:]))  # best still last

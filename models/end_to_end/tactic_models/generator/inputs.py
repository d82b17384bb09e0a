"""The text the generator reads, built by the same functions in training and at inference.

A goal is printed conclusion first, so a right-truncating tokenizer never cuts the conclusion;
retrieved premises go in front of it, best last, so the best premise sits next to the goal
(ReProver's ``format_augmented_state``), as ``NAME: statement`` so the decoder can copy NAME.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from data.proof_tree import Goal
from environments.base import Premise


def format_goal(goal: Goal) -> str:
    """The printed conclusion on the first line, then each hypothesis on a line of its own."""
    return "\n".join((goal.conclusion, *goal.hypotheses))


def format_premise(premise: Premise) -> str:
    """One premise as the model reads it: its name (to copy into a tactic) and statement."""
    return f"{premise.name}: {premise.statement}\n\n"


def format_input(
    goal: Goal,
    premises: Sequence[Premise] = (),
    max_bytes: int = 1024,
    p_drop: float = 0.0,
    rng: random.Random | None = None,
) -> str:
    """The goal preceded by as many of ``premises`` (best first) as fit in ``max_bytes``.

    A premise that would overflow the budget left by the goal is skipped, not the end of the
    list, so a shorter, worse one may still fit; kept premises are prepended, so the output
    reads ``premise_k ... premise_1 goal`` with the best one adjacent to the goal. The goal
    itself is never cut here (the tokenizer truncates). ``p_drop`` drops each premise at random
    with that probability, drawn from ``rng``: a training-time augmentation (ReProver uses 0.5),
    so it needs an explicit ``rng`` to stay reproducible.
    """
    if not 0.0 <= p_drop < 1.0:
        raise ValueError(f"format_input: p_drop must be in [0, 1), got {p_drop}")
    if p_drop > 0.0 and rng is None:
        raise ValueError(
            "format_input: p_drop > 0 needs an rng (a random.Random seeded by the data module), "
            "so that training inputs are reproducible"
        )
    state = format_goal(goal)
    budget = max_bytes - len(state.encode("utf-8"))
    kept: list[str] = []
    used = 0
    for premise in premises:
        if p_drop > 0.0 and rng is not None and rng.random() < p_drop:
            continue
        text = format_premise(premise)
        size = len(text.encode("utf-8"))
        if used + size > budget:
            continue
        kept.append(text)
        used += size
    return "".join(reversed(kept)) + state

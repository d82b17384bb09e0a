"""Every search on 200 random trees: only expandable goals, nothing only when the root is
decided, no exception, termination (the contract the prover relies on)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import pytest

from data.proof_tree import ErrorKind, Goal, InternalNode, ProofTree, Status
from experiments.bench.search import build_search
from models.end_to_end.search_models.base import is_expandable

POOL = 40  # goals the random prover draws from: they repeat (diamonds, cycles), trees stay small
VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("bestfs", {}),
    ("bfs", {}),
    ("htps", {}),
    ("htps", {"simulations_per_batch": 3, "exploration": 0.0}),
    ("updown", {}),
    ("updown", {"commit_fringe": True, "retain_initial": True}),
    ("fringe", {}),
    ("fringe", {"selection": "sample", "goal_choice": "random"}),
    ("fringe", {"goal_choice": "best"}),
]


def random_values(rng: random.Random) -> Callable[[list[Goal]], list[float]]:
    """A goal model: a fixed random log-value per goal, now and then -inf (a sure failure)."""
    table = {
        f"g{i}": (-math.inf if rng.random() < 0.05 else -5 * rng.random()) for i in range(POOL)
    }
    table["root"] = -1.0
    return lambda goals: [table[g.conclusion] for g in goals]


def expand(tree: ProofTree, node: InternalNode, rng: random.Random) -> list:
    """0-4 tactics with random outcomes: errors, proofs, one or two goals from the pool."""
    edges = []
    for i in range(rng.randint(0, 4)):
        logprob = -3 * rng.random()
        roll = rng.random()
        if roll < 0.3:
            edges.append(tree.add_edge(node, f"t{i}", logprob, error=(ErrorKind.TACTIC_ERROR, "")))
        elif roll < 0.37:
            edges.append(tree.add_edge(node, f"t{i}", logprob, subgoals=[]))
        else:
            goals = [Goal(f"g{rng.randrange(POOL)}") for _ in range(rng.randint(1, 2))]
            edges.append(tree.add_edge(node, f"t{i}", logprob, subgoals=goals))
    return edges


@pytest.mark.parametrize(("name", "overrides"), VARIANTS, ids=lambda v: str(v))
def test_every_search_keeps_the_contract_on_200_random_trees(
    name: str, overrides: dict[str, Any]
) -> None:
    outcomes: dict[str, int] = {}
    for seed in range(200):
        rng = random.Random(seed)
        tree = ProofTree(Goal("root"))
        search = build_search(name, overrides)
        search.bind(random_values(rng) if search.uses_goal_model else None)
        search.reset(tree.root)
        handed_out: set[int] = set()
        for _ in range(4 * POOL):  # each goal is expanded at most once: this is plenty
            selected = search.get_goals(rng.randint(1, 3))
            if not selected:
                break
            nodes = [node for node, _ in selected]
            assert len({n.id for n in nodes}) == len(nodes), f"seed {seed}: a goal twice"
            for node, score in selected:
                assert isinstance(node, InternalNode) and is_expandable(node), f"seed {seed}"
                assert node.id not in handed_out, f"seed {seed}: n{node.id} handed out again"
                assert isinstance(score, float) and not math.isnan(score), f"seed {seed}"
            for node in nodes:
                handed_out.add(node.id)
                if tree.root.status == Status.OPEN and node.status == Status.OPEN:
                    for edge in expand(tree, node, rng):
                        search.process_response(edge)
                    tree.mark_explored(node)
                search.expansion_done(node)
        else:
            pytest.fail(f"seed {seed}: {name} did not terminate")
        # Nothing left to hand out exactly when the root is decided: an open root always has
        # an expandable goal below it along open edges.
        assert tree.root.status != Status.OPEN, f"seed {seed}: stopped with the root open"
        outcomes[tree.root.status.value] = outcomes.get(tree.root.status.value, 0) + 1
    assert set(outcomes) == {"proved", "failed"}, outcomes  # both outcomes were exercised

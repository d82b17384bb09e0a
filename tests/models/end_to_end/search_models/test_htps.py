"""HTPS: known answers (the paper's Fig. 5, PUCT), virtual counts, diamonds, terminal leaves,
log-space values, critic batching, the trace, parameters, and seeded random runs to the end."""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from data.proof_tree import Edge, ErrorKind, Goal, InternalNode, ProofTree, Status
from data.traces.files import load_trace, write_trace
from data.traces.schema import InternalNodeRecord, ProofTrace, Timings
from environments.base import Premise, Suggestion
from experiments.end_to_end.prover import AttemptInfo, Prover, gc_paused
from models.end_to_end.search_models.base import is_expandable
from models.end_to_end.search_models.htps import HTPS
from tests.data.traces.sample import ENVIRONMENT, PROOF_TABLE, THEOREM, FakeEnv
from tests.models.end_to_end.search_models.test_search_models import fake_environment

CONFIG = Path(__file__).resolve().parents[4] / "configs/end_to_end/search_model/htps.yaml"
LOG = math.log


class Critic:
    """A fake goal model: a probability per goal conclusion (``default`` for the rest), as
    log-probabilities; records every call."""

    def __init__(self, values: dict[str, float] | None = None, default: float = 0.5) -> None:
        self.values = {k: LOG(v) for k, v in (values or {}).items()}
        self.default = LOG(default)
        self.calls: list[list[str]] = []

    def __call__(self, goals: list[Goal]) -> list[float]:
        self.calls.append([g.conclusion for g in goals])
        return [self.values.get(g.conclusion, self.default) for g in goals]


def start(
    values: dict[str, float] | None = None, default: float = 0.5, **params: float
) -> tuple[ProofTree, HTPS, Critic]:
    tree = ProofTree(Goal("root"))
    search = HTPS(**params)  # type: ignore[arg-type]
    critic = Critic(values, default)
    search.bind(critic)
    search.reset(tree.root)
    return tree, search, critic


def goals(search: HTPS, n: int = 1) -> list[InternalNode]:
    return [node for node, _ in search.get_goals(n)]


def expand(
    tree: ProofTree,
    search: HTPS,
    node: InternalNode,
    results: Sequence[tuple[float, list[str] | None]],
) -> list[Edge]:
    """What the prover does with a goal: one edge per (probability, subgoals; None: an
    error, []: closes it), process_response each, mark_explored, expansion_done."""
    edges = []
    for i, (p, subgoals) in enumerate(results):
        logprob = LOG(p)
        if subgoals is None:
            edge = tree.add_edge(node, f"t{i}", logprob, error=(ErrorKind.TACTIC_ERROR, "no"))
        else:
            edge = tree.add_edge(node, f"t{i}", logprob, subgoals=[Goal(g) for g in subgoals])
        search.process_response(edge)
        edges.append(edge)
    tree.mark_explored(node)
    search.expansion_done(node)
    return edges


def stats(search: HTPS, edge: Edge) -> dict[str, float]:
    found = search.tactic_stats(edge)
    assert found is not None
    return found


def node(tree: ProofTree, conclusion: str) -> InternalNode:
    found = tree.find(Goal(conclusion))
    assert found is not None
    return found


def events(search: HTPS, kind: str) -> list[dict]:
    return [t for t in search.search_trace if t["event"] == kind]


# Known answers.


def test_figure_5_of_the_paper() -> None:
    """Lample et al. 2022, Fig. 5: N(g,t1)=1, W(g,t1)=0.5 before; g2 solved, critics of g3 and
    g4 0.1 and 0.4; after the backup W(g0,t0)=0.1, W(g1,t0)=0.4, N(g,t1)=2, W(g,t1)=0.54."""
    tree, search, _ = start({"g0": 1.0, "g1": 0.5, "g3": 0.1, "g4": 0.4})
    g = tree.root
    assert goals(search) == [g]
    _, t1 = expand(tree, search, g, [(0.1, ["x"]), (0.9, ["g0", "g1"])])
    g0, g1 = node(tree, "g0"), node(tree, "g1")
    assert goals(search, 4) == [g0, g1]  # PUCT: unvisited tactics tie at fpu, t1 has the prior
    (g0_t0,) = expand(tree, search, g0, [(1.0, ["g2", "g3"])])
    (g1_t0,) = expand(tree, search, g1, [(1.0, ["g4"])])
    before = stats(search, t1)  # the simulation through t1 is backed up: 1.0 * 0.5
    assert before["n"] == 1 and math.exp(before["logw"]) == pytest.approx(0.5, abs=1e-12)

    g2, g3, g4 = (node(tree, c) for c in ("g2", "g3", "g4"))
    assert goals(search, 4) == [g2, g3, g4]  # t1 again: 0.5 + 0.9/2 beats 0.5 + 0.1
    expand(tree, search, g2, [(1.0, [])])  # solved
    expand(tree, search, g3, [(1.0, ["g3a"])])  # expanded: its value stays its critic, 0.1
    expand(tree, search, g4, [(1.0, ["g4a"])])

    assert math.exp(stats(search, g0_t0)["logw"]) == pytest.approx(0.1, abs=1e-9)
    assert math.exp(stats(search, g1_t0)["logw"]) == pytest.approx(0.4, abs=1e-9)
    after = stats(search, t1)
    assert after["n"] == 2
    assert math.exp(after["logw"]) == pytest.approx(0.54, abs=1e-9)
    assert events(search, "backup")[-1]["value"] == pytest.approx(LOG(0.04), abs=1e-9)
    assert t1.scores["htps_n"] == 2 and g.scores["htps_n"] == 2
    assert search.virtual_count() == 0


@pytest.mark.parametrize("value_a, picked", [(0.1, "b"), (0.9, "a1")])
def test_puct_prefers_the_prior_until_the_values_say_otherwise(value_a: float, picked: str) -> None:
    tree, search, _ = start({"a": value_a})
    goals(search)
    a_edge, b_edge = expand(tree, search, tree.root, [(0.8, ["a"]), (0.2, ["b"])])
    assert goals(search) == [node(tree, "a")]  # both at fpu: the higher prior
    assert a_edge.scores["htps_prior"] == pytest.approx(0.8)
    assert b_edge.scores["htps_prior"] == pytest.approx(0.2)
    expand(tree, search, node(tree, "a"), [(1.0, ["a1"])])
    # Now Q(a) = value_a, N(a) = 1: a scores value_a + 0.8 * 1/2, b scores 0.5 + 0.2 * 1.
    q = tree.root.scores["htps_q"]
    assert q == pytest.approx(value_a if value_a + 0.4 > 0.7 else 0.5)
    assert goals(search) == [node(tree, picked)]


def test_priors_are_a_softmax_over_live_tactics_with_same_subgoals_merged() -> None:
    tree, search, _ = start()
    goals(search)
    edges = expand(
        tree,
        search,
        tree.root,
        [(0.6, None), (0.05, ["a"]), (0.3, ["a"]), (0.1, ["b", "c"]), (0.01, ["c", "b"])],
    )
    goals(search)  # the root's statistics are made when a simulation first passes it
    priors = [e.scores.get("htps_prior") for e in edges]
    # The error is dropped; a's two edges are one tactic (logprob 0.3), so are b-c's (0.1).
    assert priors[0] is None and priors[1] is None and priors[4] is None
    assert priors[2] == pytest.approx(0.75) and priors[3] == pytest.approx(0.25)
    assert sum(p for p in priors if p is not None) == pytest.approx(1.0, abs=1e-12)
    assert stats(search, edges[1]) == stats(search, edges[2])  # merged: one set of statistics


# Virtual counts and batches.


def test_two_simulations_in_one_batch_take_different_tactics_when_values_tie() -> None:
    tree, search, _ = start(simulations_per_batch=2)
    assert goals(search, 4) == [tree.root]  # the second simulation found nothing new
    assert search.virtual_count() == 0 and search.simulations_in_flight == 1
    expand(tree, search, tree.root, [(0.5, ["a"]), (0.5, ["b"])])
    a, b = node(tree, "a"), node(tree, "b")
    assert goals(search, 4) == [a, b]
    assert search.virtual_count() == 2 and search.simulations_in_flight == 2
    expand(tree, search, a, [(1.0, ["a1"])])
    assert search.virtual_count() == 1  # a's simulation is backed up, b's still waits
    expand(tree, search, b, [(1.0, ["b1"])])
    assert search.virtual_count() == 0 and search.simulations_in_flight == 0
    assert len(events(search, "backup")) == 3
    sims = {t["node"]: t["sim"] for t in events(search, "select")}
    assert sims[a.id] != sims[b.id]


def test_one_simulation_per_batch_hands_out_one_hypertree() -> None:
    tree, search, _ = start()
    goals(search)
    expand(tree, search, tree.root, [(0.5, ["a"]), (0.5, ["b"])])
    assert goals(search, 4) == [node(tree, "a")]


@pytest.mark.parametrize("k, expected", [(2, ["a"]), (3, ["a", "b"])])
def test_a_batch_avoids_tactics_whose_leaves_are_all_in_flight(k: int, expected: list[str]) -> None:
    # With c=10 the second simulation stays on a's tactic (C = N + VN = 1 puts the exploration
    # term at 10 * 0.99 * sqrt(1) / 2, above b's 0.5 + 10 * 0.01). It finds only `a`, already
    # in flight, so it is dropped and the third is steered to b.
    tree, search, _ = start(exploration=10.0, simulations_per_batch=k)
    goals(search)
    expand(tree, search, tree.root, [(0.99, ["a"]), (0.01, ["b"])])
    assert [n.goal.conclusion for n in goals(search, 4)] == expected
    assert search.virtual_count() == len(expected)  # the duplicate simulation left nothing


def test_get_goals_hands_a_hypertree_out_over_several_calls() -> None:
    tree, search, _ = start()
    goals(search)
    expand(tree, search, tree.root, [(1.0, ["a", "b", "c"])])
    first = goals(search, 2)
    assert [n.goal.conclusion for n in first] == ["a", "b"]
    assert [n.goal.conclusion for n in goals(search, 2)] == ["c"]  # the same simulation
    assert len({t["sim"] for t in events(search, "select")[1:]}) == 1
    for leaf in first:
        expand(tree, search, leaf, [(1.0, [leaf.goal.conclusion + "1"])])
    assert search.simulations_in_flight == 1  # c is not done yet
    expand(tree, search, node(tree, "c"), [(1.0, ["c1"])])
    assert search.simulations_in_flight == 0 and search.virtual_count() == 0


# Diamonds.


def test_a_goal_shared_by_two_and_siblings_is_handed_out_once_and_backed_up_twice() -> None:
    tree, search, _ = start({"s": 0.3})
    goals(search)
    (root_edge,) = expand(tree, search, tree.root, [(1.0, ["a", "b"])])
    a, b = node(tree, "a"), node(tree, "b")
    assert goals(search, 4) == [a, b]
    (a_edge,) = expand(tree, search, a, [(1.0, ["s"])])
    (b_edge,) = expand(tree, search, b, [(1.0, ["s"])])
    s = node(tree, "s")
    assert goals(search, 4) == [s]  # once, though it occurs under a and under b
    assert s.visit_count == 1
    (s_edge,) = expand(tree, search, s, [(1.0, ["s1"])])
    for edge in (a_edge, b_edge):
        assert stats(search, edge)["n"] == 1
        assert stats(search, edge)["logw"] == pytest.approx(LOG(0.3))
    root_stats = stats(search, root_edge)  # 0.5 * 0.5, then 0.3 * 0.3
    assert root_stats["n"] == 2 and math.exp(root_stats["logw"]) == pytest.approx(0.34)
    assert search.virtual_count() == 0

    # Next, s is an expanded goal occurring twice: its tactic counts both occurrences.
    assert goals(search, 4) == [node(tree, "s1")]
    assert search.virtual_count() == 5  # the root's, a's and b's tactics once, s's twice
    expand(tree, search, node(tree, "s1"), [(1.0, ["s2"])])
    assert stats(search, s_edge)["n"] == 2
    assert math.exp(stats(search, s_edge)["logw"]) == pytest.approx(1.0)  # 0.5 + 0.5
    assert events(search, "backup")[-1]["value"] == pytest.approx(2 * LOG(0.5))
    assert search.virtual_count() == 0


def test_a_nested_diamond_is_backed_up_once_per_occurrence() -> None:
    # root -> [a, b]; a -> [c]; b -> [c, d]; d -> [c]: c occurs three times, its subgoals too.
    tree, search, _ = start({"c1": 0.2, "d": 0.7})
    goals(search)
    expand(tree, search, tree.root, [(1.0, ["a", "b"])])
    a, b = node(tree, "a"), node(tree, "b")
    assert goals(search, 4) == [a, b]
    expand(tree, search, a, [(1.0, ["c"])])
    expand(tree, search, b, [(1.0, ["c", "d"])])
    c, d = node(tree, "c"), node(tree, "d")
    assert goals(search, 4) == [c, d]
    (c_edge,) = expand(tree, search, c, [(1.0, ["c1"])])
    expand(tree, search, d, [(1.0, ["c"])])
    assert goals(search, 4) == [node(tree, "c1")]
    expand(tree, search, node(tree, "c1"), [(1.0, ["c2"])])
    assert stats(search, c_edge)["n"] == 3
    assert math.exp(stats(search, c_edge)["logw"]) == pytest.approx(3 * 0.2)
    assert events(search, "backup")[-1]["value"] == pytest.approx(3 * LOG(0.2))
    assert search.virtual_count() == 0


# Terminal leaves and values.


def test_a_proved_subgoal_is_worth_one_and_leaves_the_hypertree() -> None:
    tree, search, _ = start({"b": 0.2})
    goals(search)
    (pair, _) = expand(tree, search, tree.root, [(0.9, ["a", "b"]), (0.1, ["c"])])
    a, b = node(tree, "a"), node(tree, "b")
    assert goals(search, 4) == [a, b]
    expand(tree, search, a, [(1.0, [])])
    assert a.status == Status.PROVED
    expand(tree, search, b, [(1.0, ["b1"])])
    assert stats(search, pair)["logw"] == pytest.approx(LOG(0.2))  # 1 * 0.2
    assert goals(search, 4) == [node(tree, "b1")]  # still the pair: 0.2 + 0.45 > 0.5 + 0.1
    assert events(search, "select")[-1]["hypertree_size"] == 3  # root, b, b1; not a


@pytest.mark.parametrize("exploration", [1.0, 100.0])  # 100: only its death keeps it off
def test_a_failed_leaf_is_worth_zero_its_tactic_dies_and_its_siblings_are_not_expanded(
    exploration: float,
) -> None:
    tree, search, _ = start(exploration=exploration)
    goals(search)
    (pair, other) = expand(tree, search, tree.root, [(0.9, ["a", "b"]), (0.1, ["c"])])
    a, b, c = node(tree, "a"), node(tree, "b"), node(tree, "c")
    assert goals(search) == [a]  # b waits in the same simulation
    expand(tree, search, a, [(1.0, None), (1.0, None)])
    assert a.status == Status.FAILED and pair.status == Status.FAILED
    assert goals(search) == [c]  # b's path died: skipped; the pair is never chosen again
    assert b.visit_count == 0
    dead = events(search, "backup")[-1]
    assert dead["value"] is None  # log 0
    assert stats(search, pair)["n"] == 1 and stats(search, pair)["logw"] == -math.inf
    expand(tree, search, c, [(1.0, ["c1"])])
    for _ in range(5):
        (leaf,) = goals(search)
        assert leaf is not b
        expand(tree, search, leaf, [(1.0, [leaf.goal.conclusion + "+"])])
    assert stats(search, other)["n"] == 6
    assert search.virtual_count() == 0


def test_a_tactic_killed_by_a_subgoal_failing_elsewhere_is_never_selected() -> None:
    tree, search, _ = start()
    goals(search)
    expand(tree, search, tree.root, [(0.5, ["s"]), (0.3, ["s", "t"]), (0.2, ["u"])])
    (s,) = goals(search)
    expand(tree, search, s, [(1.0, None)])  # s fails: both tactics that need it die
    assert goals(search) == [node(tree, "u")]  # not t, though its tactic was never tried
    assert node(tree, "t").visit_count == 0


def test_two_hundred_small_values_multiply_to_a_finite_log() -> None:
    tree, search, critic = start(default=0.01)
    goals(search)
    names = [f"g{i}" for i in range(200)]
    (edge,) = expand(tree, search, tree.root, [(1.0, names)])
    leaves = goals(search, 1000)
    assert len(leaves) == 200 and critic.calls[-1] == names  # one call for the simulation
    for leaf in leaves:
        expand(tree, search, leaf, [(1.0, [leaf.goal.conclusion + "+"])])
    value = events(search, "backup")[-1]["value"]
    assert value == pytest.approx(200 * LOG(0.01), rel=1e-12)  # about -921, not -inf or NaN
    assert math.isfinite(stats(search, edge)["logw"])


def test_depth_penalty_multiplies_the_value_once_per_tactic() -> None:
    tree, search, _ = start({"b": 0.4}, depth_penalty=0.5)
    goals(search)
    expand(tree, search, tree.root, [(1.0, ["a"])])
    goals(search)
    (a_edge,) = expand(tree, search, node(tree, "a"), [(1.0, ["b"])])
    goals(search)
    expand(tree, search, node(tree, "b"), [(1.0, ["b1"])])
    assert stats(search, a_edge)["logw"] == pytest.approx(LOG(0.5 * 0.4))
    assert events(search, "backup")[-1]["value"] == pytest.approx(LOG(0.5 * 0.5 * 0.4))


# The critic.


def test_a_goal_handed_out_again_is_not_valued_again() -> None:
    tree, search, critic = start()
    assert goals(search) == [tree.root]
    search.expansion_done(tree.root)  # given back unexpanded (a budget ran out, say)
    assert goals(search) == [tree.root]
    assert critic.calls == [["root"]]


def test_the_critic_is_called_once_per_batch_for_new_goals_only() -> None:
    tree, search, critic = start({"a": 0.25}, simulations_per_batch=2)
    goals(search, 4)
    assert critic.calls == [["root"]]
    expand(tree, search, tree.root, [(0.5, ["a", "b"]), (0.5, ["b", "c"])])
    assert [n.goal.conclusion for n in goals(search, 4)] == ["a", "b", "c"]
    assert critic.calls[1] == ["a", "b", "c"]  # both simulations' new leaves in one call
    assert node(tree, "a").scores["critic"] == LOG(0.25)


@pytest.mark.parametrize("k", [1, 3])
def test_no_goal_is_valued_twice_and_calls_never_outnumber_simulations(k: int) -> None:
    rng = random.Random(7)
    tree = ProofTree(Goal("root"))
    search = HTPS(simulations_per_batch=k)
    critic = Critic()
    search.bind(critic)
    search.reset(tree.root)
    handed: list[InternalNode] = []
    while selected := goals(search, 4):
        for leaf in selected:
            handed.append(leaf)
            if leaf.status == Status.OPEN:
                for edge in fake_environment(tree, leaf, rng):
                    search.process_response(edge)
                tree.mark_explored(leaf)
            search.expansion_done(leaf)
    valued = [g for call in critic.calls for g in call]
    assert len(valued) == len(set(valued))
    assert 0 < len(critic.calls) <= len(events(search, "backup"))
    assert all("critic" in leaf.scores for leaf in handed)


def test_searching_without_a_goal_model_names_the_fix() -> None:
    search = HTPS()
    search.reset(ProofTree(Goal("root")).root)
    with pytest.raises(RuntimeError, match="search_model.goal_model"):
        search.get_goal()


# Ending, guards, reset.


def test_nothing_is_returned_once_the_root_is_decided() -> None:
    tree, search, _ = start()
    goals(search)
    expand(tree, search, tree.root, [(0.5, ["a"]), (0.5, ["b"])])
    (a,) = goals(search)
    expand(tree, search, a, [(1.0, [])])
    assert tree.root.status == Status.PROVED
    assert search.get_goal() is None and search.get_goals(3) == []
    assert events(search, "backup")[-1]["value"] == 0.0  # log 1

    tree, search, _ = start()
    goals(search)
    expand(tree, search, tree.root, [(1.0, None)])
    assert tree.root.status == Status.FAILED and search.get_goal() is None


def test_the_last_simulation_is_backed_up_when_the_root_is_decided_mid_hypertree() -> None:
    tree, search, _ = start()
    goals(search)
    expand(tree, search, tree.root, [(0.6, ["a", "b"]), (0.4, ["c"])])
    (a, b) = goals(search, 2)
    tree.add_edge(b, "close", 0.0, subgoals=[])  # b is closed by another branch, say
    expand(tree, search, a, [(1.0, [])])  # a closes the root; b is never done
    assert tree.root.status == Status.PROVED
    assert search.simulations_in_flight == 0 and search.virtual_count() == 0


def test_a_tree_with_an_open_goal_and_no_tactic_does_not_loop() -> None:
    tree, search, _ = start()
    goals(search)
    tree.root.is_explored = True  # behind the tree's back: open, explored, no edge at all
    search.expansion_done(tree.root)
    assert search.get_goals(4) == [] and search.get_goal() is None
    assert search.virtual_count() == 0
    assert len(events(search, "backup")) <= 1 + 2 * 3  # a few bounded retries per call


def test_a_goal_awaiting_its_expansion_is_not_handed_out_again() -> None:
    tree, search, _ = start(simulations_per_batch=4)
    assert goals(search) == [tree.root]
    assert search.get_goal() is None  # the root is in flight and nothing else exists
    assert search.virtual_count() == 0 and search.simulations_in_flight == 1


def test_a_goal_expanded_without_expansion_done_counts_as_done() -> None:
    tree, search, _ = start()
    goals(search)
    tree.add_edge(tree.root, "t", -0.1, subgoals=[Goal("a")])
    tree.mark_explored(tree.root)  # no process_response, no expansion_done
    assert goals(search) == [node(tree, "a")]
    assert len(events(search, "backup")) == 1


def test_reset_starts_afresh() -> None:
    tree, search, _ = start()
    goals(search)
    expand(tree, search, tree.root, [(1.0, ["a"])])
    goals(search)
    other = ProofTree(Goal("other"))
    search.reset(other.root)
    assert search.search_trace == [search.display.entry()]
    assert search.simulations_in_flight == 0 and search.virtual_count() == 0
    assert goals(search) == [other.root]


def test_get_goals_before_reset_names_the_fix() -> None:
    with pytest.raises(RuntimeError, match=r"reset\(root\)"):
        HTPS().get_goals(1)


# Random runs.


@pytest.mark.parametrize("k, n", [(1, 1), (1, 4), (2, 3), (4, 8)])
@pytest.mark.parametrize("seed", range(8))
def test_random_runs_hand_out_only_expandable_goals_and_end_decided(
    k: int, n: int, seed: int
) -> None:
    rng = random.Random(seed)
    tree = ProofTree(Goal("root"))
    search = HTPS(simulations_per_batch=k)
    search.bind(Critic(default=0.3))
    search.reset(tree.root)
    for _ in range(10_000):
        selected = goals(search, n)
        if not selected:
            break
        assert tree.root.status == Status.OPEN
        assert len(selected) <= n and len({x.id for x in selected}) == len(selected)
        assert all(is_expandable(x) for x in selected)
        for leaf in selected:
            if leaf.status == Status.OPEN:  # not decided by an earlier goal of this step
                for edge in fake_environment(tree, leaf, rng):
                    search.process_response(edge)
                tree.mark_explored(leaf)
            search.expansion_done(leaf)
        if search.simulations_in_flight == 0:
            assert search.virtual_count() == 0
    else:
        pytest.fail("search did not terminate")
    # Empty only when the root is decided: an open root always leads to an expandable goal.
    assert tree.root.status != Status.OPEN
    assert search.simulations_in_flight == 0 and search.virtual_count() == 0
    json.dumps(search.search_trace, allow_nan=False)


def growing_environment(tree: ProofTree, node: InternalNode, rng: random.Random) -> list[Edge]:
    """The bench's instant prover: four tactics, a quarter errors, the rest one or two new
    goals (so nothing is ever proved and the tree grows without end)."""
    edges = []
    for i in range(4):
        logprob = -3.0 * rng.random()
        if rng.random() < 0.25:
            edges.append(tree.add_edge(node, f"t{i}", logprob, error=(ErrorKind.TACTIC_ERROR, "e")))
        else:
            count = 1 if rng.random() < 0.5 else 2
            subgoals = [Goal(f"g{tree.size}.{j}") for j in range(count)]
            edges.append(tree.add_edge(node, f"t{i}", logprob, subgoals=subgoals))
    return edges


def test_a_long_run_keeps_the_trace_small_and_serialisable(tmp_path: Path) -> None:
    rng = random.Random(0)
    tree = ProofTree(Goal("root"))
    search = HTPS()
    search.bind(Critic(default=0.5))
    search.reset(tree.root)
    started = time.monotonic()
    expansions = 0
    with gc_paused():  # as in the prover
        while expansions < 10_000:
            (leaf,) = goals(search)
            for edge in growing_environment(tree, leaf, rng):
                search.process_response(edge)
            tree.mark_explored(leaf)
            search.expansion_done(leaf)
            expansions += 1
    search_s = time.monotonic() - started
    dump = json.dumps(search.search_trace, allow_nan=False)
    print(f"{len(dump) / expansions:.0f} JSON bytes per expansion, {search_s:.2f} s")
    assert len(dump) / expansions <= 1024
    assert search_s < 20  # about 2 s on a slow core; an O(n) step would take minutes

    selects = events(search, "select")
    assert len(selects) == expansions
    assert all({"sim", "critic", "hypertree_size"} <= set(t) for t in selects)
    assert all(t["hypertree"][0] == tree.root.id for t in selects)
    assert all(len(t["hypertree"]) == min(t["hypertree_size"], 64) for t in selects)
    assert all(t["node"] in t["hypertree"] for t in selects if t["hypertree_size"] <= 64)
    backups = events(search, "backup")
    assert backups and all({"sim", "value"} <= set(t) for t in backups)
    assert search.search_trace[0]["event"] == "display"
    root = tree.root
    assert {"htps_n", "htps_q", "critic"} <= set(root.scores)
    assert root.scores["htps_n"] == len(backups) - 1  # every simulation but the first passes it
    visited = [e for e in root.out_edges if "htps_n" in e.scores]
    assert visited and all({"htps_n", "htps_w", "htps_prior"} <= set(e.scores) for e in visited)
    assert sum(e.scores["htps_n"] for e in visited) == root.scores["htps_n"]


def test_the_trace_round_trips_through_a_trace_file(tmp_path: Path) -> None:
    rng = random.Random(3)
    tree = ProofTree(Goal("root"))
    search = HTPS()
    search.bind(Critic())
    search.reset(tree.root)
    while selected := goals(search, 2):
        for leaf in selected:
            if leaf.status == Status.OPEN:
                for edge in fake_environment(tree, leaf, rng):
                    search.process_response(edge)
                tree.mark_explored(leaf)
            search.expansion_done(leaf)
    trace = ProofTrace.from_tree(
        theorem_id="t",
        theorem={"name": "t"},
        environment={"name": "fake", "config": {}},
        tree=tree,
        status="proved" if tree.root.status == Status.PROVED else "failed",
        iteration=0,
        search_trace=search.search_trace,
        timings=Timings(),
        expansions=len(events(search, "select")),
        models={},
    )
    loaded = load_trace(write_trace(trace, tmp_path))
    assert loaded == trace
    kinds = {e.event for e in loaded.search_trace}
    assert {"display", "select", "response", "backup"} <= kinds


def test_the_prover_drives_htps_with_several_goals_per_step() -> None:
    tactics = {
        THEOREM["statement"]: ["BAD_TAC", "CONJ_TAC"],
        "a": ["REWRITE_TAC[A_IMP_C]"],
        "b": ["REWRITE_TAC[B_IMP_C]"],
        "c": ["ARITH_TAC"],
    }

    def get_tactics(goals: list[Goal], premises: list[Sequence[Premise]]) -> list[list[Suggestion]]:
        return [[(t, LOG(0.5)) for t in tactics.get(g.conclusion, [])] for g in goals]

    search = HTPS(simulations_per_batch=2)
    prover = Prover(search, get_tactics, 8, 30.0, 30.0, get_values=Critic(), goals_per_step=3)
    info = AttemptInfo("CONJ_AB", THEOREM, ENVIRONMENT, 0, {})
    trace = prover.prove(FakeEnv(THEOREM, PROOF_TABLE), info)
    assert trace.status == "proved"
    assert search.virtual_count() == 0 and search.simulations_in_flight == 0
    conclusions = {
        n.id: n.goal.conclusion for n in trace.nodes if isinstance(n, InternalNodeRecord)
    }
    assert [conclusions[t["node"]] for t in events(search, "select")] == [
        THEOREM["statement"],
        "a",
        "b",
        "c",  # shared by a and b: once
    ]
    assert search.search_trace[-1] == {
        "step": 3,
        "event": "backup",
        "sim": search.search_trace[-1]["sim"],
        "value": 0.0,  # the root is proved: log 1
    }


# Parameters and config.


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("exploration", -1, "search_model.exploration: must be >= 0, got -1"),
        ("exploration", math.inf, "search_model.exploration: must be a finite number"),
        ("fpu", 1.5, "search_model.fpu: must be in [0, 1], got 1.5"),
        ("fpu", math.nan, "search_model.fpu: must be a finite number"),
        ("virtual_loss", 0, "search_model.virtual_loss: must be > 0, got 0"),
        ("simulations_per_batch", 0, "search_model.simulations_per_batch: must be an integer"),
        ("simulations_per_batch", 1.5, "search_model.simulations_per_batch: must be an integer"),
        ("depth_penalty", 0, "search_model.depth_penalty: must be in (0, 1], got 0"),
        ("depth_penalty", 1.1, "search_model.depth_penalty: must be in (0, 1], got 1.1"),
        ("exploration", "big", "search_model.exploration: must be a finite number"),
    ],
)
def test_bad_parameters_name_the_field(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        HTPS(**{field: value})  # type: ignore[arg-type]


def test_the_config_instantiates_the_class_with_its_defaults() -> None:
    config = OmegaConf.to_container(OmegaConf.load(CONFIG))
    assert isinstance(config, dict)
    assert config.pop("defaults") == [{"goal_model": "constant"}]
    search = instantiate(config)
    assert isinstance(search, HTPS) and search.uses_goal_model
    defaults = HTPS()
    for field in ("exploration", "fpu", "virtual_loss", "simulations_per_batch", "depth_penalty"):
        assert getattr(search, field) == getattr(defaults, field)

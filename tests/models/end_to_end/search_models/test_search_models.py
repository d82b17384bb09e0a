"""BestFS and BFS: selection order, lazy skipping, termination, visit counts and search_trace."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from data.proof_tree import (
    Edge,
    ErrorKind,
    Goal,
    InternalNode,
    ProofTree,
    Status,
)
from models.end_to_end.search_models.base import FrontierSearch, SearchModel
from models.end_to_end.search_models.bestfs import BestFS
from models.end_to_end.search_models.bfs import BFS

CONFIGS = Path(__file__).resolve().parents[4] / "configs" / "end_to_end" / "search_model"


def child(edge: Edge, i: int = 0) -> InternalNode:
    node = edge.dst[i]
    assert isinstance(node, InternalNode)
    return node


def select(search: SearchModel) -> InternalNode:
    selected = search.get_goal()
    assert selected is not None
    return selected[0]


def expand(
    tree: ProofTree, search: SearchModel, node: InternalNode, results: list[tuple[float, list[str]]]
) -> list[Edge]:
    """What the prover does after get_goal: one edge per (logprob, subgoals), then explored."""
    edges = [
        tree.add_edge(node, f"t{i}", lp, subgoals=[Goal(g) for g in goals])
        for i, (lp, goals) in enumerate(results)
    ]
    for edge in edges:
        search.process_response(edge)
    tree.mark_explored(node)
    return edges


@pytest.mark.parametrize("name, cls", [("bestfs", BestFS), ("bfs", BFS)])
def test_config_instantiates_the_class(name: str, cls: type) -> None:
    assert isinstance(instantiate(OmegaConf.load(CONFIGS / f"{name}.yaml")), cls)


def test_get_goal_before_reset_names_the_fix() -> None:
    with pytest.raises(RuntimeError, match=r"reset\(root\)"):
        BestFS().get_goal()


def test_bestfs_picks_highest_cumulative_logprob_across_depths() -> None:
    tree = ProofTree(Goal("root"))
    search = BestFS()
    search.reset(tree.root)
    assert select(search) is tree.root
    e_a, e_b = expand(tree, search, tree.root, [(-1.0, ["a"]), (-3.0, ["b"])])
    a, b = child(e_a), child(e_b)
    assert select(search) is a
    (e_a1,) = expand(tree, search, a, [(-0.5, ["a1"])])  # a1: -1.5, deeper but better than b
    a1 = child(e_a1)
    assert select(search) is a1
    (e_a2,) = expand(tree, search, a1, [(-4.0, ["a2"])])  # a2: -5.5, now b (-3.0) is best
    assert select(search) is b
    assert select(search) is child(e_a2)
    assert search.get_goal() is None
    assert [a.scores["priority"], a1.scores["priority"], b.scores["priority"]] == [-1.0, -1.5, -3.0]


def test_bestfs_breaks_ties_by_push_order() -> None:
    tree = ProofTree(Goal("root"))
    search = BestFS()
    search.reset(tree.root)
    select(search)
    edges = expand(tree, search, tree.root, [(-1.0, ["c", "a"]), (-1.0, ["b"])])
    order = [select(search).goal.conclusion for _ in range(3)]
    assert order == ["c", "a", "b"]
    assert [d.id for e in edges for d in e.dst] == [n.id for n in map(tree.find, map(Goal, order))]


def test_score_returned_is_the_priority() -> None:
    tree = ProofTree(Goal("root"))
    search = BestFS()
    search.reset(tree.root)
    assert search.get_goal() == (tree.root, 0.0)
    expand(tree, search, tree.root, [(-0.25, ["a"])])
    selected = search.get_goal()
    assert selected is not None and selected[1] == -0.25


def test_skips_proved_failed_and_explored_nodes() -> None:
    tree = ProofTree(Goal("root"))
    search = BestFS()
    search.reset(tree.root)
    select(search)
    e = expand(tree, search, tree.root, [(-1.0, ["proved", "open1"]), (-2.0, ["failed"])])
    e += expand(tree, search, tree.root, [(-3.0, ["explored"]), (-4.0, ["open2"])])
    proved, open1, failed = child(e[0], 0), child(e[0], 1), child(e[1])
    explored, open2 = child(e[2]), child(e[3])
    # Decided behind the search's back, as another branch sharing the goal would.
    tree.add_edge(proved, "ARITH_TAC", 0.0, subgoals=[])
    tree.add_edge(failed, "BAD", 0.0, error=(ErrorKind.TACTIC_ERROR, "no"))
    tree.mark_explored(failed)
    tree.add_edge(explored, "GEN_TAC", 0.0, subgoals=[Goal("deeper")])
    tree.mark_explored(explored)
    assert (proved.status, failed.status) == (Status.PROVED, Status.FAILED)
    assert (explored.status, tree.root.status) == (Status.OPEN, Status.OPEN)
    assert select(search) is open1
    assert select(search) is open2
    assert search.get_goal() is None
    visits = [n.visit_count for n in (proved, open1, failed, explored, open2)]
    assert visits == [0, 1, 0, 0, 1]


def test_returns_none_once_root_is_proved_even_with_a_frontier_left() -> None:
    tree = ProofTree(Goal("root"))
    search = BestFS()
    search.reset(tree.root)
    select(search)
    tree.add_edge(tree.root, "CONJ_TAC", -1.0, subgoals=[Goal("a"), Goal("b")])
    search.process_response(tree.edges[-1])
    closing = tree.add_edge(tree.root, "MESON_TAC[]", -2.0, subgoals=[])
    search.process_response(closing)
    tree.mark_explored(tree.root)
    assert tree.root.status == Status.PROVED and search.frontier_size() == 2
    assert search.get_goal() is None


def test_returns_none_when_frontier_is_empty() -> None:
    tree = ProofTree(Goal("root"))
    search = BFS()
    search.reset(tree.root)
    select(search)
    edge = tree.add_edge(tree.root, "BAD", -1.0, error=(ErrorKind.TACTIC_TIMEOUT, "slow"))
    search.process_response(edge)
    assert search.get_goal() is None  # root still OPEN (not yet marked explored), nothing queued
    tree.mark_explored(tree.root)
    assert tree.root.status == Status.FAILED and search.get_goal() is None


def test_search_trace_records_selections_and_responses() -> None:
    tree = ProofTree(Goal("root"))
    search = BestFS()
    search.search_trace.append({"stale": True})
    search.reset(tree.root)
    display = {
        "step": -1,
        "event": "display",
        "node_scores": {"priority": "the cumulative log-probability the goal was queued with"},
        "edge_scores": {},
        "step_nodes": {},
    }
    assert search.search_trace == [display]
    select(search)
    bad = tree.add_edge(tree.root, "BAD", -0.1, error=(ErrorKind.TACTIC_ERROR, "no"))
    good = tree.add_edge(tree.root, "CONJ_TAC", -0.5, subgoals=[Goal("a"), Goal("b")])
    for edge in (bad, good):
        search.process_response(edge)
    tree.mark_explored(tree.root)
    a = select(search)
    done = tree.add_edge(a, "ARITH_TAC", -0.2, subgoals=[])
    search.process_response(done)
    a_id, b_id = child(good, 0).id, child(good, 1).id
    assert search.search_trace == [
        display,
        {"step": 0, "event": "select", "node": 0, "score": 0.0, "frontier": 0},
        {"step": 0, "event": "response", "edge": bad.id, "status": "failed", "pushed": []},
        {"step": 0, "event": "response", "edge": good.id, "status": "open", "pushed": [a_id, b_id]},
        {"step": 1, "event": "select", "node": a_id, "score": -0.5, "frontier": 1},
        {"step": 1, "event": "response", "edge": done.id, "status": "proved", "pushed": []},
    ]
    json.dumps(search.search_trace, allow_nan=False)
    search.reset(tree.root)
    assert search.search_trace == [display]
    assert BFS().display.entry()["node_scores"] == {}  # BFS has no scores of its own


def test_visit_count_increments_on_each_selection() -> None:
    tree = ProofTree(Goal("root"))
    search = BFS()
    for expected in (1, 2):
        search.reset(tree.root)
        assert select(search) is tree.root and tree.root.visit_count == expected


def test_bfs_expands_level_by_level() -> None:
    tree = ProofTree(Goal("root"))
    search = BFS()
    search.reset(tree.root)
    select(search)
    expand(tree, search, tree.root, [(-5.0, ["a"]), (-0.1, ["b"])])
    a = select(search)
    assert a.goal.conclusion == "a"  # discovery order, not log-probability
    expand(tree, search, a, [(-0.01, ["a1"])])
    b = select(search)
    assert b.goal.conclusion == "b"
    assert search.get_goal() == (tree.find(Goal("a1")), -2.0)


def test_deduplicated_node_reached_by_two_edges_is_expanded_once() -> None:
    for search in (BestFS(), BFS()):
        tree = ProofTree(Goal("root"))
        search.reset(tree.root)
        select(search)
        e1, e2 = expand(tree, search, tree.root, [(-1.0, ["shared", "x"]), (-2.0, ["shared"])])
        shared = child(e1, 0)
        assert child(e2) is shared
        responses = [t for t in search.search_trace if t["event"] == "response"]
        assert [t["pushed"] for t in responses] == [[shared.id, child(e1, 1).id], [shared.id]]
        selected = []
        while (goal := search.get_goal()) is not None:
            node = goal[0]
            selected.append(node.goal.conclusion)
            if node.depth == 1:  # give it an open child, so the root stays undecided
                expand(tree, search, node, [(-1.0, [f"{node.goal.conclusion}-leaf"])])
        assert sorted(selected) == ["shared", "shared-leaf", "x", "x-leaf"]
        assert shared.visit_count == 1


def fake_environment(tree: ProofTree, node: InternalNode, rng: random.Random) -> list[Edge]:
    """Four tactics with deterministic random outcomes over a small pool of goals, so goals
    repeat (deduplication, cycles), some tactics fail and some close their goal."""
    edges = []
    for i in range(4):
        logprob = -rng.random() * 3
        roll = rng.random()
        if roll < 0.3:
            edge = tree.add_edge(node, f"t{i}", logprob, error=(ErrorKind.TACTIC_ERROR, "no"))
        elif roll < 0.36:
            edge = tree.add_edge(node, f"t{i}", logprob, subgoals=[])
        else:
            goals = [Goal(f"g{rng.randrange(60)}") for _ in range(rng.randint(1, 2))]
            edge = tree.add_edge(node, f"t{i}", logprob, subgoals=goals)
        edges.append(edge)
    return edges


@pytest.mark.parametrize("cls", [BestFS, BFS])
@pytest.mark.parametrize("seed", range(20))
def test_simulated_search_runs_to_completion(cls: type[FrontierSearch], seed: int) -> None:
    rng = random.Random(seed)
    tree = ProofTree(Goal("root"))
    search = cls()
    search.reset(tree.root)
    queued: set[int] = {tree.root.id}
    selected: list[InternalNode] = []
    for _ in range(10_000):
        chosen = search.get_goal()
        if chosen is None:
            break
        node, score = chosen
        assert node.status == Status.OPEN and not node.is_explored
        assert node not in selected and node.id in queued and node.visit_count == 1
        live = [n for n in map(tree.nodes.__getitem__, queued) if isinstance(n, InternalNode)]
        live = [n for n in live if n.status == Status.OPEN and not n.is_explored]
        if cls is BestFS:
            assert score == node.cumulative_logprob
            assert score == max(n.cumulative_logprob for n in live)
        else:
            assert score == -node.depth
            assert all(node.depth <= n.depth for n in live)
        selected.append(node)
        for edge in fake_environment(tree, node, rng):
            search.process_response(edge)
            queued.update(search.search_trace[-1]["pushed"])
        tree.mark_explored(node)
    else:
        pytest.fail("search did not terminate")
    # Done means decided, or nothing left that could still be expanded.
    assert tree.root.status != Status.OPEN or not any(
        isinstance(n, InternalNode) and n.status == Status.OPEN and not n.is_explored
        for n in (tree.nodes[i] for i in queued)
    )
    assert sum(t["event"] == "select" for t in search.search_trace) == len(selected)
    assert [t["node"] for t in search.search_trace if t["event"] == "select"] == [
        n.id for n in selected
    ]
    assert [t["edge"] for t in search.search_trace if t["event"] == "response"] == [
        e.id for e in tree.edges
    ]
    json.dumps(search.search_trace, allow_nan=False)

"""Proof tree: AND/OR status, distance propagation, deduplication, refusals and proof extraction."""

import math

import pytest

from data.proof_tree import (
    Edge,
    ErrorKind,
    ErrorNode,
    Goal,
    InternalNode,
    ProofFinishedNode,
    ProofStep,
    ProofTree,
    Status,
)

ROOT = Goal("a /\\ b")
A, B, C = Goal("a"), Goal("b"), Goal("c")


def child(edge: Edge, i: int = 0) -> InternalNode:
    node = edge.dst[i]
    assert isinstance(node, InternalNode)
    return node


def close(tree: ProofTree, node: InternalNode, tactic: str = "ARITH_TAC") -> Edge:
    return tree.add_edge(node, tactic, -0.1, subgoals=[])


def test_root_starts_open_with_unknown_distance() -> None:
    tree = ProofTree(ROOT)
    assert tree.root.id == 0 and tree.root.depth == 0 and tree.root.cumulative_logprob == 0.0
    assert tree.root.status == Status.OPEN and tree.root.distance_to_proof == math.inf
    assert tree.nodes == [tree.root] and tree.edges == []
    assert tree.extract_proof() is None


def test_and_edge_proved_only_when_all_subgoals_are() -> None:
    tree = ProofTree(ROOT)
    e = tree.add_edge(tree.root, "CONJ_TAC", -0.5, subgoals=[A, B])
    a, b = child(e, 0), child(e, 1)
    assert (a.depth, a.cumulative_logprob) == (1, -0.5)
    close(tree, a)
    assert a.status == Status.PROVED and a.distance_to_proof == 1
    assert e.status == Status.OPEN and tree.root.status == Status.OPEN
    close(tree, b)
    assert e.status == Status.PROVED
    assert tree.root.status == Status.PROVED and tree.root.distance_to_proof == 3


def test_or_alternatives_one_proved_edge_suffices() -> None:
    tree = ProofTree(ROOT)
    failed = tree.add_edge(tree.root, "BAD_TAC", -1.0, error=(ErrorKind.TACTIC_ERROR, "boom"))
    still_open = tree.add_edge(tree.root, "CONJ_TAC", -0.5, subgoals=[A, B])
    done = close(tree, tree.root, "MESON_TAC[]")
    assert failed.status == Status.FAILED and still_open.status == Status.OPEN
    assert done.status == Status.PROVED
    assert tree.root.status == Status.PROVED and tree.root.distance_to_proof == 1


def test_failure_propagates_to_parent_edge_and_parent() -> None:
    tree = ProofTree(ROOT)
    e = tree.add_edge(tree.root, "CONJ_TAC", -0.5, subgoals=[A, B])
    a = child(e, 0)
    tree.add_edge(a, "T1", -1.0, error=(ErrorKind.TACTIC_TIMEOUT, "timeout"))
    tree.add_edge(a, "T2", -1.0, error=(ErrorKind.TACTIC_ERROR, "no"))
    assert a.status == Status.OPEN  # not explored yet: more tactics may come
    tree.mark_explored(a)
    assert a.status == Status.FAILED and e.status == Status.FAILED
    assert tree.root.status == Status.OPEN  # the root itself is not explored
    tree.mark_explored(tree.root)
    assert tree.root.status == Status.FAILED


def test_explored_node_without_edges_fails() -> None:
    tree = ProofTree(ROOT)
    tree.mark_explored(tree.root)
    assert tree.root.status == Status.FAILED


def test_failed_node_reopens_when_an_open_edge_is_added() -> None:
    tree = ProofTree(ROOT)
    e = tree.add_edge(tree.root, "CONJ_TAC", -0.5, subgoals=[A, B])
    a = child(e, 0)
    tree.add_edge(a, "T1", -1.0, error=(ErrorKind.TACTIC_ERROR, "no"))
    tree.mark_explored(a)
    tree.mark_explored(tree.root)
    assert tree.root.status == Status.FAILED
    tree.add_edge(a, "T2", -1.0, subgoals=[C])
    assert a.status == Status.OPEN and e.status == Status.OPEN
    assert tree.root.status == Status.OPEN


def test_shorter_proof_found_later_lowers_distance_and_is_extracted() -> None:
    tree = ProofTree(ROOT)
    long_edge = tree.add_edge(tree.root, "CONJ_TAC", -0.5, subgoals=[A, B])
    a, b = child(long_edge, 0), child(long_edge, 1)
    close(tree, a)
    e_b = tree.add_edge(b, "REWRITE_TAC[]", -0.2, subgoals=[C])
    close(tree, child(e_b))
    # CONJ_TAC: 1 + (a: 1) + (b: 1 + (c: 1)) = 4
    assert tree.root.distance_to_proof == 4
    assert [s.edge_id for s in tree.extract_proof() or []] == [0, 1, 2, 3]
    short = close(tree, tree.root, "MESON_TAC[]")
    assert tree.root.distance_to_proof == 1
    assert tree.extract_proof() == [ProofStep(ROOT, "MESON_TAC[]", (), short.id)]


def test_shorter_subproof_propagates_through_ancestors() -> None:
    tree = ProofTree(ROOT)
    e = tree.add_edge(tree.root, "CONJ_TAC", -0.5, subgoals=[A, B])
    a, b = child(e, 0), child(e, 1)
    close(tree, b)
    e_a = tree.add_edge(a, "T", -0.2, subgoals=[C])
    close(tree, child(e_a))
    assert (a.distance_to_proof, tree.root.distance_to_proof) == (2, 4)
    close(tree, a)
    assert (a.distance_to_proof, tree.root.distance_to_proof) == (1, 3)


def test_same_goal_from_two_edges_is_one_node() -> None:
    tree = ProofTree(ROOT)
    e1 = tree.add_edge(tree.root, "T1", -0.5, subgoals=[A])
    e2 = tree.add_edge(tree.root, "T2", -0.7, subgoals=[A, B])
    a = child(e1)
    assert child(e2, 0) is a and tree.find(A) is a
    assert a.in_edges == [e1, e2]
    assert a.cumulative_logprob == -0.5  # kept from its first creation
    assert sum(isinstance(n, InternalNode) for n in tree.nodes) == 3


def test_duplicate_subgoals_within_an_edge_appear_once() -> None:
    tree = ProofTree(ROOT)
    e = tree.add_edge(tree.root, "CONJ_TAC", -0.5, subgoals=[A, B, A])
    assert [child(e, i).goal for i in range(len(e.dst))] == [A, B]
    assert child(e, 0).in_edges == [e]


def test_goals_differing_only_in_hypotheses_are_different_nodes() -> None:
    tree = ProofTree(ROOT)
    with_hyp = Goal("a", hypotheses=("b",))
    e = tree.add_edge(tree.root, "T", -0.5, subgoals=[A, with_hyp])
    assert len(e.dst) == 2 and child(e, 0) is not child(e, 1)
    assert tree.find(with_hyp) is child(e, 1) and tree.find(Goal("a", ("c",))) is None


def test_sexp_is_the_identity_when_present() -> None:
    g1 = Goal("x = x", conclusion_sexp="(eq x x)")
    g2 = Goal("x  =  x", conclusion_sexp="(eq x x)")
    assert g1.key == g2.key and Goal("x = x").key != g1.key


def test_no_progress_when_subgoal_equals_the_goal() -> None:
    tree = ProofTree(ROOT)
    e = tree.add_edge(tree.root, "ALL_TAC", -0.1, subgoals=[A, ROOT])
    assert len(e.dst) == 1
    err = e.dst[0]
    assert isinstance(err, ErrorNode) and err.kind == ErrorKind.NO_PROGRESS
    assert e.status == Status.FAILED and tree.find(A) is None  # no node made for the sibling


def test_cycle_when_grandchild_equals_root() -> None:
    tree = ProofTree(ROOT)
    a = child(tree.add_edge(tree.root, "T1", -0.5, subgoals=[A]))
    b = child(tree.add_edge(a, "T2", -0.5, subgoals=[B]))
    e = tree.add_edge(b, "T3", -0.5, subgoals=[C, ROOT])
    err = e.dst[0]
    assert isinstance(err, ErrorNode) and err.kind == ErrorKind.CYCLE
    assert str(ROOT) in err.message
    assert b.in_edges[0].src is a and tree.root.in_edges == []
    assert tree.find(C) is None


def test_reusing_a_non_ancestor_node_is_not_a_cycle() -> None:
    tree = ProofTree(ROOT)
    e = tree.add_edge(tree.root, "CONJ_TAC", -0.5, subgoals=[A, B])
    a, b = child(e, 0), child(e, 1)
    e2 = tree.add_edge(a, "T", -0.5, subgoals=[B])
    assert child(e2) is b and b.in_edges == [e, e2]
    close(tree, b)
    assert a.status == Status.PROVED and tree.root.status == Status.PROVED


def test_error_and_finished_nodes() -> None:
    tree = ProofTree(ROOT)
    err = tree.add_edge(tree.root, "X", -1.0, error=(ErrorKind.REJECTED, "unsafe"), time_s=0.5)
    done = close(tree, tree.root)
    assert isinstance(err.dst[0], ErrorNode) and err.dst[0].message == "unsafe"
    assert err.time_s == 0.5 and err.distance_to_proof == math.inf
    assert isinstance(done.dst[0], ProofFinishedNode) and done.dst[0].distance_to_proof == 0
    assert [n.id for n in tree.nodes] == list(range(len(tree.nodes)))
    assert [e.id for e in tree.edges] == [0, 1] and tree.root.out_edges == [err, done]


def test_add_edge_needs_subgoals_or_error() -> None:
    tree = ProofTree(ROOT)
    with pytest.raises(ValueError, match="subgoals or an error"):
        tree.add_edge(tree.root, "T", -0.1)
    other = ProofTree(ROOT)
    with pytest.raises(ValueError, match="not a node of this tree"):
        tree.add_edge(other.root, "T", -0.1, subgoals=[])


def test_extract_proof_is_a_preorder_replayable_script() -> None:
    tree = ProofTree(ROOT)
    e = tree.add_edge(tree.root, "CONJ_TAC", -0.5, subgoals=[A, B])
    a, b = child(e, 0), child(e, 1)
    # b is proved first, and through a node shared with a's subtree.
    e_b = tree.add_edge(b, "TB", -0.1, subgoals=[C])
    c = child(e_b)
    close(tree, c, "TC")
    tree.add_edge(a, "TA", -0.1, subgoals=[C])
    proof = tree.extract_proof()
    assert proof is not None
    assert [(s.goal, s.tactic, s.subgoals) for s in proof] == [
        (ROOT, "CONJ_TAC", (A, B)),
        (A, "TA", (C,)),
        (C, "TC", ()),  # shared goal: emitted once, at its first occurrence
        (B, "TB", (C,)),
    ]
    assert [s.edge_id for s in proof] == [0, 3, 2, 1]
    # Replay: every subgoal is the goal of a step, each goal is closed once.
    goals = [s.goal for s in proof]
    assert len(set(goals)) == len(goals)
    assert all(g in goals for s in proof for g in s.subgoals)
    for s in proof:
        assert tuple(d.goal for d in tree.edges[s.edge_id].dst if isinstance(d, InternalNode)) == (
            s.subgoals
        )


def test_extract_proof_ties_take_the_earliest_edge() -> None:
    tree = ProofTree(ROOT)
    first = close(tree, tree.root, "T1")
    close(tree, tree.root, "T2")
    assert tree.extract_proof() == [ProofStep(ROOT, "T1", (), first.id)]


def test_goal_str() -> None:
    assert str(Goal("c", ("h1", "h2"))) == "h1, h2 |- c"
    assert str(Goal("c")) == "|- c"

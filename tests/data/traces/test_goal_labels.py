"""Known-answer tests of the goal labels (the critic's targets) on hand-built proof trees."""

from __future__ import annotations

import pytest

from data.proof_tree import ErrorKind, Goal, InternalNode, ProofTree
from data.traces.examples import (
    GoalExample,
    goal_efforts,
    goal_examples,
    trace_goal_examples,
)
from data.traces.schema import InternalNodeRecord, ProofTrace, Timings
from tests.data.traces.sample import ENVIRONMENT


def _goal(name: str) -> Goal:
    return Goal(name, conclusion_sexp=f"(v (bool) {name})")


def _trace(tree: ProofTree, theorem_id: str = "X", iteration: int = 0) -> ProofTrace:
    return ProofTrace.from_tree(
        theorem_id=theorem_id,
        theorem={"name": theorem_id, "split": "train"},
        environment=ENVIRONMENT,
        tree=tree,
        status="proved" if tree.root.status.value == "proved" else "failed",
        iteration=iteration,
        search_trace=[],
        timings=Timings(),
        expansions=0,
        models={},
    )


def _node(tree: ProofTree, name: str) -> InternalNode:
    node = tree.find(_goal(name))
    assert node is not None
    return node


def diamond() -> ProofTree:
    """r -> [a, b] (AND); a -> [c] and b -> [c] (the diamond); c -> [d, p] (AND); p is proved,
    d fails (explored, its one tactic failed); b -> [l], l never expanded; r has an error edge.

    Expanded: r, a, b, c, d, p (six). Efforts: p 1, d 1, l 0, c 3 (c, d, p), a 4, b 4 (l adds
    nothing), r 6 (a summing pass over children would give r 1 + 4 + 4 = 9).
    """
    tree = ProofTree(_goal("r"))
    tree.add_edge(tree.root, "BAD_TAC", -1.0, error=(ErrorKind.TACTIC_ERROR, "no"))
    tree.add_edge(tree.root, "CONJ_TAC", -0.5, subgoals=[_goal("a"), _goal("b")])
    tree.add_edge(_node(tree, "a"), "A_TAC", -0.5, subgoals=[_goal("c")])
    tree.add_edge(_node(tree, "b"), "B_TAC", -0.5, subgoals=[_goal("c")])
    tree.add_edge(_node(tree, "b"), "L_TAC", -0.5, subgoals=[_goal("l")])
    tree.add_edge(_node(tree, "c"), "C_TAC", -0.5, subgoals=[_goal("d"), _goal("p")])
    tree.add_edge(_node(tree, "p"), "ARITH_TAC", -0.1, subgoals=[])
    d = _node(tree, "d")
    tree.add_edge(d, "MESON_TAC[]", -0.1, error=(ErrorKind.TACTIC_TIMEOUT, "5 s"))
    tree.mark_explored(d)
    return tree


def _labels(examples: list[GoalExample]) -> dict[str, tuple[int, int, str]]:
    return {e.goal.conclusion: (e.label, e.effort, e.status) for e in examples}


def test_efforts_count_a_shared_descendant_once() -> None:
    trace = _trace(diamond())
    efforts = goal_efforts(trace)
    by_name = {
        n.goal.conclusion: efforts[n.id] for n in trace.nodes if isinstance(n, InternalNodeRecord)
    }
    assert by_name == {"r": 6, "a": 4, "b": 4, "c": 3, "d": 1, "p": 1, "l": 0}


def test_labels_of_one_attempt() -> None:
    trace = _trace(diamond())
    assert _labels(trace_goal_examples(trace, min_effort=4)) == {
        "r": (0, 6, "open"),
        "a": (0, 4, "open"),  # the threshold is inclusive
        "b": (0, 4, "open"),
        # c: open with effort 3 < 4, excluded
        "d": (0, 1, "failed"),  # failed needs no effort
        "p": (1, 1, "proved"),
        # l: never expanded, excluded
    }
    assert _labels(trace_goal_examples(trace, min_effort=5)) == {
        "r": (0, 6, "open"),
        "d": (0, 1, "failed"),
        "p": (1, 1, "proved"),
    }
    # Counted once, r's effort is 6: under a threshold of 7 it teaches nothing.
    assert "r" not in _labels(trace_goal_examples(trace, min_effort=7))
    assert [e.theorem_id for e in trace_goal_examples(trace)] == ["X"] * 5  # min_effort 4
    assert all(e.goal.conclusion_sexp is not None for e in trace_goal_examples(trace))


def test_a_crash_is_not_the_goals_failure_and_error_traces_give_nothing() -> None:
    tree = ProofTree(_goal("r"))
    tree.add_edge(tree.root, "STEP_TAC", -0.5, subgoals=[_goal("k")])
    k = _node(tree, "k")
    tree.add_edge(k, "MESON_TAC[]", -0.1, error=(ErrorKind.PROCESS_CRASH, "prover died"))
    tree.add_edge(k, "ARITH_TAC", -0.1, error=(ErrorKind.TACTIC_ERROR, "no"))
    tree.mark_explored(k)
    assert k.status.value == "failed"
    assert _labels(trace_goal_examples(_trace(tree), min_effort=3)) == {}
    assert _labels(trace_goal_examples(_trace(tree), min_effort=1)) == {
        "r": (0, 2, "open"),
        "k": (0, 1, "open"),  # a negative only by the effort rule
    }
    error = ProofTrace.error_trace(
        theorem_id="X",
        theorem={"name": "X", "split": "train"},
        environment=ENVIRONMENT,
        iteration=0,
        message="worker died twice",
    )
    assert trace_goal_examples(error) == [] and goal_examples([error]) == []


def test_min_effort_must_be_a_positive_integer() -> None:
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="min_effort"):
            goal_examples([], min_effort=bad)  # type: ignore[arg-type]


def test_over_attempts_a_goal_is_one_example_and_a_proof_wins() -> None:
    def attempt(theorem: str, iteration: int, prove_a: bool, explore: bool) -> ProofTrace:
        tree = ProofTree(_goal(theorem.lower()))
        tree.add_edge(tree.root, "STEP_TAC", -0.5, subgoals=[_goal("a")])
        a = _node(tree, "a")
        if prove_a:
            tree.add_edge(a, "ARITH_TAC", -0.1, subgoals=[])
        else:
            tree.add_edge(a, "ARITH_TAC", -0.1, error=(ErrorKind.TACTIC_ERROR, "no"))
            if explore:
                tree.mark_explored(a)
        return _trace(tree, theorem, iteration)

    # Theorem Y: a fails in iteration 0 and is proved in iteration 1 (files in any order);
    # theorem X meets a too, open after one expansion. One example: a proved, first theorem X.
    traces = [
        attempt("Y", 1, prove_a=True, explore=False),
        attempt("Y", 0, prove_a=False, explore=True),
        attempt("X", 0, prove_a=False, explore=False),
    ]
    merged = goal_examples(traces, min_effort=1)
    assert [(e.theorem_id, e.goal.conclusion, e.label, e.status) for e in merged] == [
        ("X", "a", 1, "proved"),
        ("X", "x", 0, "open"),
        ("Y", "y", 1, "proved"),  # proved in iteration 1, open in iteration 0
    ]
    assert {e.goal.conclusion: e.effort for e in merged} == {"a": 1, "x": 2, "y": 2}
    # Without the proof: failed is stronger evidence than open.
    failed = goal_examples(traces[1:], min_effort=1)
    assert [(e.goal.conclusion, e.label, e.status) for e in failed if e.goal.conclusion == "a"] == [
        ("a", 0, "failed")
    ]

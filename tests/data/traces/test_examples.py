"""Known-answer tests of the trace-to-examples rules on hand-built proof trees."""

from __future__ import annotations

from data.proof_tree import ErrorKind, Goal, ProofTree
from data.traces.examples import EdgeExample, LabelRules, collect_examples, trace_examples
from data.traces.schema import ProofTrace, Timings
from tests.data.traces.sample import ENVIRONMENT, A, B, C, D, E, make_trace

ROOT_OF = {"X": Goal("x", conclusion_sexp="(v bool x)")}


def _trace(tree: ProofTree, iteration: int = 0, theorem_id: str = "X") -> ProofTrace:
    proved = tree.root.status.value == "proved"
    return ProofTrace.from_tree(
        theorem_id=theorem_id,
        theorem={"name": theorem_id, "split": "train"},
        environment=ENVIRONMENT,
        tree=tree,
        status="proved" if proved else "failed",
        iteration=iteration,
        search_trace=[],
        timings=Timings(),
        expansions=len(tree.nodes),
        models={},
    )


def _table(examples: list[EdgeExample]) -> list[tuple[str, str, str, int | None, bool]]:
    return [(e.goal.conclusion, e.tactic, e.kind, e.proof_length, e.best) for e in examples]


def test_a_proved_theorem_labels_every_edge() -> None:
    got = _table(trace_examples(make_trace()))
    assert got == [
        ("a /\\ b", "BAD_TAC", "error", None, False),
        ("a /\\ b", "SLOW_TAC", "error", None, False),  # a timeout is an error by default
        ("a /\\ b", "CONJ_TAC", "proving", 5, True),  # 1 + (A: 2) + (B: 2)
        ("a", "REWRITE_TAC[A_IMP_C]", "proving", 2, True),
        ("b", "REWRITE_TAC[B_IMP_C]", "proving", 2, True),
        ("a /\\ b", "DISJ_TAC", "progress", None, False),  # its subgoal D stayed open
        ("c", "ARITH_TAC", "proving", 1, True),
    ]
    conj = trace_examples(make_trace())[2]
    assert conj.subgoals == (A, B) and conj.theorem["name"] == "CONJ_AB"
    lenient = _table(trace_examples(make_trace(), LabelRules(timeouts_are_errors=False)))
    assert lenient == [got[0], *got[2:]]


def test_an_unproved_theorem_still_teaches_its_proved_subgoals() -> None:
    tree = ProofTree(ROOT_OF["X"])
    conj = tree.add_edge(tree.root, "CONJ_TAC", -0.5, subgoals=[A, B])
    a, b = conj.dst
    tree.add_edge(a, "ARITH_TAC", -0.1, subgoals=[])  # type: ignore[arg-type]
    tree.add_edge(b, "MESON_TAC[]", -0.1, error=(ErrorKind.TACTIC_ERROR, "no proof"))  # type: ignore[arg-type]
    trace = _trace(tree)
    assert trace.status == "failed"
    assert _table(trace_examples(trace)) == [
        ("x", "CONJ_TAC", "progress", None, False),
        ("a", "ARITH_TAC", "proving", 1, True),
        ("b", "MESON_TAC[]", "error", None, False),
    ]


def test_error_kinds_and_what_never_counts() -> None:
    tree = ProofTree(ROOT_OF["X"])
    root = tree.root
    tree.add_edge(root, "CRASH_TAC", -1.0, error=(ErrorKind.PROCESS_CRASH, "prover died"))
    tree.add_edge(root, "SLOW_TAC", -1.0, error=(ErrorKind.TACTIC_TIMEOUT, "1 s"))
    tree.add_edge(root, "junk(", -1.0, error=(ErrorKind.REJECTED, "does not parse"))
    tree.add_edge(root, "ALL_TAC", -1.0, subgoals=[ROOT_OF["X"]])  # no progress
    tree.add_edge(root, "BAD_TAC", -1.0, error=(ErrorKind.TACTIC_ERROR, "failed"))
    step = tree.add_edge(root, "STEP_TAC", -1.0, subgoals=[D])
    tree.add_edge(step.dst[0], "BACK_TAC", -1.0, subgoals=[ROOT_OF["X"]])  # type: ignore[arg-type]
    trace = _trace(tree)
    kinds = [(e.tactic, e.kind) for e in trace_examples(trace)]
    assert kinds == [
        ("SLOW_TAC", "error"),
        ("junk(", "error"),
        ("ALL_TAC", "error"),
        ("BAD_TAC", "error"),
        ("STEP_TAC", "progress"),
        ("BACK_TAC", "error"),  # a cycle back to the root
    ]
    assert [o.outcome for o in trace.edges][3::3] == ["no_progress", "cycle"]
    lenient = [e.tactic for e in trace_examples(trace, LabelRules(timeouts_are_errors=False))]
    assert "SLOW_TAC" not in lenient and "CRASH_TAC" not in lenient and len(lenient) == 5


def test_the_same_goal_in_two_iterations() -> None:
    def attempt(iteration: int) -> ProofTrace:
        tree = ProofTree(ROOT_OF["X"])
        step = tree.add_edge(tree.root, "INDUCT_TAC", -0.5, subgoals=[A])
        a = step.dst[0]
        if iteration == 0:  # A in two steps, MESON fails on it
            tree.add_edge(a, "MESON_TAC[]", -0.2, error=(ErrorKind.TACTIC_ERROR, "no"))  # type: ignore[arg-type]
            to_c = tree.add_edge(a, "REWRITE_TAC[A_C]", -0.1, subgoals=[C])  # type: ignore[arg-type]
            tree.add_edge(to_c.dst[0], "ARITH_TAC", -0.1, subgoals=[])  # type: ignore[arg-type]
        else:  # A in one step, by the tactic that failed before; E left open
            tree.add_edge(a, "MESON_TAC[]", -0.2, subgoals=[])  # type: ignore[arg-type]
            tree.add_edge(tree.root, "CASES_TAC", -0.9, subgoals=[E])
        return _trace(tree, iteration)

    by_theorem = collect_examples([attempt(1), attempt(0)])  # the files' order is irrelevant
    assert list(by_theorem) == ["X"]
    got = [
        (e.iteration, *row) for e, row in zip(by_theorem["X"], _table(by_theorem["X"]), strict=True)
    ]
    assert got == [
        (0, "a", "REWRITE_TAC[A_C]", "proving", 2, False),  # A's best is now MESON_TAC[]
        (0, "c", "ARITH_TAC", "proving", 1, True),
        (1, "x", "INDUCT_TAC", "proving", 2, True),  # the shorter proof's copy is kept
        (1, "a", "MESON_TAC[]", "proving", 1, True),  # proving beats iteration 0's error
        (1, "x", "CASES_TAC", "progress", None, False),
    ]
    alone = collect_examples([attempt(0)])["X"]
    assert (alone[0].tactic, alone[0].proof_length, alone[0].best) == ("INDUCT_TAC", 3, True)
    assert [e.kind for e in alone if e.tactic == "MESON_TAC[]"] == ["error"]

"""What the prover does beyond its budgets: root timeouts, expansion limits, closed and
refuted goals (on the table-driven fake prover, so every application is visible)."""

from __future__ import annotations

from collections.abc import Sequence

from data.proof_tree import ErrorKind, Goal
from environments.base import Failure, Premise, Proved, Subgoals, Suggestion, TacticOutcome
from experiments.end_to_end.prover import AttemptInfo, Prover
from models.end_to_end.search_models.bestfs import BestFS
from tests.data.traces.sample import FakeEnv

ROOT, A, B, C = Goal("root"), Goal("a"), Goal("b"), Goal("c")
THEOREM = {"name": "T", "statement": "root", "sexp": None}


def ranked(per_goal: dict[str, list[str]]):
    """A tactic model suggesting, for each goal conclusion, its tactics best first."""

    def get_tactics(goals: list[Goal], premises: list[Sequence[Premise]]) -> list[list[Suggestion]]:
        return [
            [(t, -1.0 - i) for i, t in enumerate(per_goal.get(g.conclusion, []))] for g in goals
        ]

    return get_tactics


def attempt(table: dict[tuple[object, str], TacticOutcome], per_goal, **settings) -> tuple:
    env = FakeEnv(THEOREM, table)
    prover = Prover(BestFS(), ranked(per_goal), 8, 30.0, 30.0, **settings)
    info = AttemptInfo("T", THEOREM, {"name": "fake", "config": {}}, 0, {})
    return prover.prove(env, info), env


def test_root_tactics_get_the_root_timeout_and_deeper_goals_the_environments() -> None:
    table = {(ROOT.key, "split"): Subgoals((A,), 0.0), (A.key, "close"): Proved(0.0)}
    trace, env = attempt(table, {"root": ["split"], "a": ["close"]}, root_tactic_timeout=5.0)
    assert trace.status == "proved"
    assert env.applied == [("root", "split", 5.0), ("a", "close", env.timeout)]
    _, plain = attempt(table, {"root": ["split"], "a": ["close"]})
    assert [t for _, _, t in plain.applied] == [plain.timeout, plain.timeout]


def test_max_expansions_stops_the_search_as_a_timeout() -> None:
    table = {(ROOT.key, "split"): Subgoals((A,), 0.0), (A.key, "close"): Proved(0.0)}
    trace, env = attempt(table, {"root": ["other", "split"], "a": ["close"]}, max_expansions=1)
    assert trace.status == "timeout" and trace.counts.expansions == 1
    assert [tactic for _, tactic, _ in env.applied] == ["other", "split"]  # the root only


def test_a_goal_once_closed_gets_no_more_tactics() -> None:
    table = {
        (ROOT.key, "split"): Subgoals((A, B), 0.0),
        (A.key, "close"): Proved(0.0),
        (B.key, "close"): Proved(0.0),
    }
    trace, env = attempt(
        table, {"root": ["split", "other"], "a": ["close", "spare"], "b": ["close"]}
    )
    assert trace.status == "proved"
    assert [(g, t) for g, t, _ in env.applied] == [
        ("root", "split"),
        ("root", "other"),  # the root is still open after split: its next tactic is tried
        ("a", "close"),  # closed: "spare" is never tried
        ("b", "close"),
    ]
    assert trace.counts.expansions == 3


def test_a_refuted_subgoal_is_not_retried_and_fails_every_edge_that_needs_it() -> None:
    # Both root tactics need `a`; `a` has no working tactic. Once `a` is refuted, neither `b`
    # nor `c` is worth a try, and `a` is not expanded a second time.
    table = {
        (ROOT.key, "left"): Subgoals((A, B), 0.0),
        (ROOT.key, "right"): Subgoals((A, C), 0.0),
        (A.key, "try"): Failure(ErrorKind.TACTIC_ERROR, "no", 0.0),
    }
    trace, env = attempt(table, {"root": ["left", "right"], "a": ["try"], "b": ["x"], "c": ["x"]})
    assert trace.status == "failed"
    assert [(g, t) for g, t, _ in env.applied] == [
        ("root", "left"),
        ("root", "right"),
        ("a", "try"),
    ]
    assert trace.counts.expansions == 2

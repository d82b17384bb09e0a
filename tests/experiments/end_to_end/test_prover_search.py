"""What the prover does beyond its budgets: root timeouts, expansion limits, closed and
refuted goals (on the table-driven fake prover, so every application is visible)."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import pytest

from data.proof_tree import ErrorKind, Goal, InternalNode
from environments.base import Failure, Premise, Proved, Subgoals, Suggestion, TacticOutcome
from experiments.end_to_end.prover import AttemptInfo, GoalModelError, Prover
from models.end_to_end.search_models.bestfs import BestFS
from models.end_to_end.search_models.bfs import BFS
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


class ValuingBFS(BFS):
    """BFS that hands out up to n goals a step, values each goal it returns and records what
    the prover tells it: the interface HTPS, UpDown and Fringe rely on."""

    uses_goal_model = True

    def __init__(self) -> None:
        super().__init__()
        self.done: list[str] = []
        self.valued: list[list[str]] = []

    def get_goals(self, n: int) -> list[tuple[InternalNode, float]]:
        selected = []
        while len(selected) < n and (goal := self.get_goal()) is not None:
            selected.append(goal)
        if selected:
            goals = [node.goal for node, _ in selected]
            self.valued.append([g.conclusion for g in goals])
            self.values(goals)
        return selected

    def expansion_done(self, node: InternalNode) -> None:
        self.done.append(node.goal.conclusion)


def valuing_attempt(table, per_goal, values, **settings) -> tuple:
    env = FakeEnv(THEOREM, table)
    search = ValuingBFS()
    calls: list[int] = []
    get_tactics = ranked(per_goal)

    def counted(goals, premises):
        calls.append(len(goals))
        return get_tactics(goals, premises)

    prover = Prover(search, counted, 8, 30.0, 30.0, get_values=values, **settings)
    info = AttemptInfo("T", THEOREM, {"name": "fake", "config": {}}, 0, {})
    return prover.prove(env, info), env, search, calls


SPLIT_TABLE = {
    (ROOT.key, "split"): Subgoals((A, B), 0.0),
    (A.key, "close"): Proved(0.0),
    (B.key, "close"): Proved(0.0),
}


def test_several_goals_a_step_share_one_tactic_model_call() -> None:
    per_goal = {"root": ["split"], "a": ["close"], "b": ["close"]}
    trace, env, search, calls = valuing_attempt(
        SPLIT_TABLE, per_goal, lambda goals: [-0.5] * len(goals), goals_per_step=2
    )
    assert trace.status == "proved" and trace.counts.expansions == 3
    assert calls == [1, 2]  # the root, then a and b together
    assert search.done == ["root", "a", "b"]  # every goal handed out is reported done
    assert [tactic for _, tactic, _ in env.applied] == ["split", "close", "close"]


def test_once_the_root_is_proved_the_rest_of_a_step_is_not_expanded() -> None:
    # Two alternatives for the root, a and b handed out together: a's proof proves the root,
    # so b is never expanded.
    table = {
        (ROOT.key, "split"): Subgoals((A,), 0.0),
        (ROOT.key, "alt"): Subgoals((B,), 0.0),
        (A.key, "close"): Proved(0.0),
        (B.key, "close"): Proved(0.0),
    }
    per_goal = {"root": ["split", "alt"], "a": ["close"], "b": ["close"]}
    trace, env, search, calls = valuing_attempt(
        table, per_goal, lambda goals: [0.0] * len(goals), goals_per_step=2
    )
    assert trace.status == "proved" and calls == [1, 2]
    assert [tactic for goal, tactic, _ in env.applied if goal != "root"] == ["close"]  # a only
    assert trace.counts.expansions == 2


def test_goal_model_time_is_model_time_not_search_time() -> None:
    def slow(goals):
        time.sleep(0.05)
        return [-1.0] * len(goals)

    per_goal = {"root": ["split"], "a": ["close"], "b": ["close"]}
    trace, _, search, _ = valuing_attempt(SPLIT_TABLE, per_goal, slow)
    assert len(search.valued) == 3
    assert trace.timings.model_s >= 0.15 > trace.timings.search_s


@pytest.mark.parametrize(
    "answer, problem",
    [
        ([math.nan], "nan for goal"),
        ([0.5], "0.5 for goal"),
        ([], "returned 0 values for 1 goals"),
    ],
)
def test_a_goal_model_answering_nonsense_raises_naming_it(answer, problem) -> None:
    with pytest.raises(GoalModelError, match=problem):
        valuing_attempt(SPLIT_TABLE, {"root": ["split"]}, lambda goals: answer)


def test_a_search_that_values_goals_needs_a_goal_model() -> None:
    with pytest.raises(ValueError, match="needs a goal model"):
        Prover(ValuingBFS(), ranked({}), 8, 30.0, 30.0)
    with pytest.raises(ValueError, match="goals_per_step"):
        Prover(BFS(), ranked({}), 8, 30.0, 30.0, goals_per_step=0)

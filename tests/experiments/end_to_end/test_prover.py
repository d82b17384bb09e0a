"""The Prover on the toy prover: both budgets, timeout versus failed, and the crossing step."""

from __future__ import annotations

import time
from collections.abc import Sequence

from data.proof_tree import Goal
from data.toy.database import ToyTheorems
from environments.base import Premise, Suggestion, TacticOutcome
from environments.toy.env import ToyEnv
from experiments.end_to_end.prover import AttemptInfo, Prover
from models.end_to_end.search_models.bestfs import BestFS

THEOREMS = ToyTheorems.cached()
IMP_REFL = THEOREMS["imp_refl"]  # p ==> p: intro, then assumption


def info(theorem_id: str = "imp_refl") -> AttemptInfo:
    return AttemptInfo(theorem_id, {}, {"name": "toy", "config": {}}, 0, {}, role="data")


def model(tactics: Sequence[str], delay_s: float = 0.0, calls: list[int] | None = None):
    """A tactic model suggesting ``tactics`` for every goal, optionally slowly."""

    def get_tactics(goals: list[Goal], premises: list[Sequence[Premise]]) -> list[list[Suggestion]]:
        if calls is not None:
            calls.append(len(goals))
        time.sleep(delay_s)
        return [[(t, -float(i)) for i, t in enumerate(tactics)] for _ in goals]

    return get_tactics


class SlowToyEnv(ToyEnv):
    """The toy prover with every tactic taking ``delay_s`` (as a real prover's would)."""

    delay_s = 0.0

    def apply(self, goal: Goal, tactic: str, timeout: float) -> TacticOutcome:
        time.sleep(self.delay_s)
        return super().apply(goal, tactic, timeout)


def prove(get_tactics, total: float = 30.0, env: float = 30.0, sampled: int = 8, thm=IMP_REFL):
    prover = Prover(BestFS(), get_tactics, sampled, total, env)
    return prover.prove(ToyEnv(thm), info(thm.name))


def test_a_proof_is_found_and_recorded() -> None:
    calls: list[int] = []
    trace = prove(model(["split", "intro", "assumption"], calls=calls))
    assert trace.status == "proved" and trace.role == "data"
    assert [s.tactic for s in trace.proof] == ["intro", "assumption"]
    assert calls == [1, 1] and trace.counts.expansions == 2  # one model call per expansion
    assert trace.timings.total_s >= trace.timings.model_s + trace.timings.env_s


def test_a_search_that_runs_out_of_goals_failed() -> None:
    trace = prove(model(["split", "left"]))  # neither applies to p ==> p
    assert trace.status == "failed" and trace.proof == []
    assert trace.counts.errors == {"tactic_error": 2}


def test_the_wall_clock_budget_ends_an_attempt_as_timeout() -> None:
    # Every model call takes longer than the budget; intro only opens new goals.
    trace = prove(model(["intro", "classical"], delay_s=0.05), total=0.01)
    assert trace.status == "timeout" and trace.counts.expansions == 1


def test_the_environment_budget_ends_an_attempt_as_timeout() -> None:
    SlowToyEnv.delay_s = 0.02
    prover = Prover(BestFS(), model(["classical", "exfalso"]), 8, 30.0, 0.01)
    trace = prover.prove(SlowToyEnv(IMP_REFL), info())
    assert trace.status == "timeout"
    assert trace.timings.env_s >= 0.01 and trace.counts.edges == 1  # stopped after the first


def slow_second_call(order: list[str]):
    """A model whose second call alone overruns a 0.1 s budget."""
    calls: list[int] = []

    def get_tactics(goals: list[Goal], premises: list[Sequence[Premise]]) -> list[list[Suggestion]]:
        calls.append(len(goals))
        if len(calls) == 2:
            time.sleep(0.2)
        return [[(t, -float(i)) for i, t in enumerate(order)] for _ in goals]

    return get_tactics


def test_a_proof_found_in_the_step_that_crosses_the_budget_counts() -> None:
    # At p |- p the first suggestion closes the proof, after the budget has run out.
    trace = prove(slow_second_call(["assumption", "intro"]), total=0.1)
    assert trace.status == "proved" and trace.timings.total_s >= 0.1
    assert [s.tactic for s in trace.proof] == ["intro", "assumption"]


def test_a_budget_that_runs_out_mid_expansion_is_a_timeout_not_a_failure() -> None:
    # At p |- p intro fails, then the budget is out: assumption was never tried, so the goal
    # stays open (not explored) and the attempt timed out; it did not fail.
    trace = prove(slow_second_call(["intro", "assumption"]), total=0.1)
    assert trace.status == "timeout"
    goal = trace.nodes[trace.edges[-1].src]
    assert goal.status == "open" and not goal.is_explored  # type: ignore[union-attr]

"""Replaying a trace's proof in a fresh environment: every step must give what was recorded."""

from __future__ import annotations

from data.traces.schema import GoalRecord
from environments.base import Proved, Subgoals
from environments.replay import replay
from tests.data.traces.sample import (
    PROOF_TABLE,
    ROOT,
    THEOREM,
    A,
    B,
    C,
    E,
    FakeEnv,
    factory,
    make_trace,
)


def test_replay_succeeds_in_a_fresh_environment() -> None:
    env = FakeEnv(THEOREM, PROOF_TABLE)
    ok, reason = replay(make_trace(), env)
    assert ok, reason
    assert "4 step" in reason
    assert env.started == 1 and env.stopped == 1


def test_replay_compares_subgoals_as_a_set() -> None:
    table = {**PROOF_TABLE, (ROOT.key, "CONJ_TAC"): Subgoals((B, A, B), 0.0)}
    assert replay(make_trace(), factory(table)(THEOREM)) == (True, "replayed 4 step(s)")


def test_replay_fails_when_a_tactic_now_fails() -> None:
    table = {k: v for k, v in PROOF_TABLE.items() if k != (C.key, "ARITH_TAC")}
    ok, reason = replay(make_trace(), factory(table)(THEOREM))
    assert not ok
    assert reason == "step 2 ('ARITH_TAC' on |- c): tactic_error: no such tactic ARITH_TAC"


def test_replay_fails_when_subgoals_differ() -> None:
    table = {**PROOF_TABLE, (ROOT.key, "CONJ_TAC"): Subgoals((A, E), 0.0)}
    ok, reason = replay(make_trace(), factory(table)(THEOREM))
    assert not ok and "step 0" in reason and "subgoals differ" in reason and "e" in reason


def test_replay_fails_when_a_goal_closes_that_should_leave_subgoals() -> None:
    table = {**PROOF_TABLE, (B.key, "REWRITE_TAC[B_IMP_C]"): Proved(0.0)}
    ok, reason = replay(make_trace(), factory(table)(THEOREM))
    assert not ok and "closed the goal, but the trace has 1 subgoal" in reason


def test_replay_fails_when_a_subgoal_is_never_closed() -> None:
    trace = make_trace()
    trace.proof = [s for s in trace.proof if s.tactic != "ARITH_TAC"]
    ok, reason = replay(trace, FakeEnv(THEOREM, PROOF_TABLE))
    assert not ok and reason.startswith("subgoal |- c of 'REWRITE_TAC[A_IMP_C]' is never closed")


def test_replay_refuses_circular_proofs_and_wrong_roots() -> None:
    trace = make_trace()
    # C "proved" by going back to A: every subgoal has a step, but nothing bottoms out.
    trace.proof[2] = trace.proof[2].model_copy(update={"subgoals": [GoalRecord.of(A)]})
    ok, reason = replay(trace, FakeEnv(THEOREM, PROOF_TABLE))
    assert not ok and "circular" in reason

    trace = make_trace()
    trace.proof.append(trace.proof[2])
    ok, reason = replay(trace, FakeEnv(THEOREM, PROOF_TABLE))
    assert not ok and reason == "goal |- c has more than one step"

    other = {**THEOREM, "statement": "b /\\ a", "sexp": "(other)"}
    ok, reason = replay(make_trace(theorem=other), FakeEnv(other, PROOF_TABLE))
    assert not ok and "root goal" in reason

    ok, reason = replay(make_trace(prove=False), FakeEnv(THEOREM, PROOF_TABLE))
    assert not ok and "'failed'" in reason

"""ToyEnv: every rule, the grammar check before the rule engine, timeouts, goal deduplication,
theorem records and sources, and a proof found by the real Prover that replays."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from data.proof_tree import ErrorKind, ErrorNode, Goal, InternalNode, Status
from data.toy.database import DEFAULT_PATH, ToyTheorem, ToyTheorems
from data.traces.files import load_trace, write_trace
from environments.base import Failure, Proved, TacticOutcome
from environments.replay import replay
from environments.toy import rules
from environments.toy.env import ToyEnv
from experiments.end_to_end.components import environment_factory, make_env, theorem_source
from experiments.end_to_end.config import compose
from experiments.end_to_end.distributed import environment_record
from experiments.end_to_end.prover import AttemptInfo, Prover
from models.end_to_end.search_models.bestfs import BestFS
from models.end_to_end.tactic_models.tac_models import build_tactic_model


def theorem(statement: str, name: str = "t") -> ToyTheorem:
    return ToyTheorem(name=name, statement=statement, position=0, split="train")


def apply(hypotheses: tuple[str, ...], conclusion: str, tactic: str) -> TacticOutcome:
    env = ToyEnv(theorem(conclusion))
    return env.apply(Goal(conclusion, hypotheses), tactic, env.timeout)


def outcome(result: TacticOutcome) -> Any:
    """``"proved"``, the error kind, or the subgoals as ``(hypotheses, conclusion)`` pairs."""
    if isinstance(result, Proved):
        return "proved"
    if isinstance(result, Failure):
        return result.kind
    return [(g.hypotheses, g.conclusion) for g in result.goals]


@pytest.mark.parametrize(
    ("hypotheses", "conclusion", "tactic", "expected"),
    [
        ((), "p ==> q", "intro", [(("p",), "q")]),
        (("r",), "~p", "intro", [(("p", "r"), "F")]),
        (("p",), "p ==> q", "intro", [(("p",), "q")]),  # A is a hypothesis already
        ((), "p /\\ q", "split", [((), "p"), ((), "q")]),
        ((), "p <=> q", "split", [((), "p ==> q"), ((), "q ==> p")]),
        ((), "p \\/ q", "left", [((), "p")]),
        ((), "p \\/ q", "right", [((), "q")]),
        (("p", "q"), "q", "assumption", "proved"),
        (("F",), "q", "assumption", "proved"),
        ((), "T", "trivial", "proved"),
        (("p",), "q", "exfalso", [(("p",), "F")]),
        (("p",), "q", "classical", [(("p", "~q"), "F")]),
        (("p /\\ q",), "r", "elim 0", [(("p", "q"), "r")]),
        (("p \\/ q", "s"), "r", "elim 0", [(("p", "s"), "r"), (("q", "s"), "r")]),
        (("p ==> q",), "r", "elim 0", [(("p ==> q",), "p"), (("q",), "r")]),
        (("p", "~q"), "F", "elim 1", [(("p", "~q"), "q")]),
        (("~q",), "r", "elim 0", [(("~q",), "q")]),
        (("p <=> q",), "r", "elim 0", [(("p ==> q", "q ==> p"), "r")]),
        (("F", "p"), "q", "elim 0", "proved"),
        # A rule whose shape does not fit is a tactic error.
        ((), "p /\\ q", "intro", ErrorKind.TACTIC_ERROR),
        ((), "p ==> q", "split", ErrorKind.TACTIC_ERROR),
        ((), "p /\\ q", "left", ErrorKind.TACTIC_ERROR),
        ((), "p", "right", ErrorKind.TACTIC_ERROR),
        (("q",), "p", "assumption", ErrorKind.TACTIC_ERROR),
        ((), "p", "trivial", ErrorKind.TACTIC_ERROR),
        ((), "F", "exfalso", ErrorKind.TACTIC_ERROR),
        ((), "F", "classical", ErrorKind.TACTIC_ERROR),
        (("p",), "q", "elim 0", ErrorKind.TACTIC_ERROR),
        (("T",), "q", "elim 0", ErrorKind.TACTIC_ERROR),
    ],
)
def test_every_rule(
    hypotheses: tuple[str, ...], conclusion: str, tactic: str, expected: Any
) -> None:
    assert outcome(apply(hypotheses, conclusion, tactic)) == expected


def test_subgoal_hypotheses_are_sorted_and_distinct() -> None:
    # elim of p /\ q where q is a hypothesis already: q once, and the tuple sorted by text.
    result = apply(("p /\\ q", "q", "r"), "s", "elim 0")
    assert outcome(result) == [(("p", "q", "r"), "s")]
    result = apply(("s",), "s ==> r \\/ q", "intro")
    assert outcome(result) == [(("s",), "r \\/ q")]


def test_equal_goals_reached_two_ways_are_one_node() -> None:
    env = ToyEnv(theorem("p /\\ q ==> q /\\ p"))
    with env as (live, root):
        (intro,) = live.run_tactic(root, ("intro", -0.1)).dst
        assert isinstance(intro, InternalNode)
        (both,) = live.run_tactic(intro, ("elim 0", -0.1)).dst  # p, q |- q /\ p
        assert isinstance(both, InternalNode) and both.goal == Goal("q /\\ p", ("p", "q"))
        via_elim = live.run_tactic(both, ("split", -0.1)).dst
        via_split = live.run_tactic(intro, ("split", -0.1)).dst  # p /\ q |- q, p /\ q |- p
        shared = [
            live.run_tactic(n, ("elim 0", -0.1)).dst[0]
            for n in via_split
            if isinstance(n, InternalNode)
        ]
        assert {n.id for n in shared} == {n.id for n in via_elim}
        for node in via_elim:
            assert isinstance(node, InternalNode)
            assert live.run_tactic(node, ("assumption", 0.0)).status == Status.PROVED
        assert root.status == Status.PROVED
        # root, after intro, after elim, the two split goals, and the two leaves both share
        assert sum(isinstance(n, InternalNode) for n in live.tree.nodes) == 7


def test_a_goal_not_in_canonical_form_is_a_tactic_error() -> None:
    for hypotheses, conclusion in [
        (("q", "p"), "p"),  # unsorted
        (("p", "p"), "p"),  # repeated
        ((), "p==>q"),  # not the canonical spelling
        ((), "p ==>"),  # not a formula
    ]:
        result = apply(hypotheses, conclusion, "assumption")
        assert isinstance(result, Failure) and result.kind == ErrorKind.TACTIC_ERROR, result


@pytest.mark.parametrize(
    "tactic",
    ["auto", "intro ", "elim 3", "elim 01", "assumption; trivial", "x" * 500, "exec('1')"],
)
def test_rejected_text_never_reaches_the_rule_engine(
    tactic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[rules.Sequent, Any]] = []
    real = rules.apply_rule

    def spy(sequent: rules.Sequent, parsed: Any) -> tuple[rules.Sequent, ...]:
        calls.append((sequent, parsed))
        return real(sequent, parsed)

    monkeypatch.setattr(rules, "apply_rule", spy)
    env = ToyEnv(theorem("p ==> p"))
    goal = Goal("p", ("p", "q", "r"))
    result = env.apply(goal, tactic, env.timeout)
    assert isinstance(result, Failure) and result.kind == ErrorKind.REJECTED
    assert calls == []
    assert isinstance(env.apply(goal, "assumption", env.timeout), Proved)
    assert len(calls) == 1  # the spy does see what parses


def test_a_tactic_that_runs_past_its_timeout_is_a_tactic_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = rules.apply_rule

    def slow(sequent: rules.Sequent, parsed: Any) -> tuple[rules.Sequent, ...]:
        time.sleep(0.05)
        return real(sequent, parsed)

    monkeypatch.setattr(rules, "apply_rule", slow)
    env = ToyEnv(theorem("p ==> p"), timeout=0.01)
    with env as (live, root):
        edge = live.run_tactic(root, ("intro", -0.1))
    (error,) = edge.dst
    assert isinstance(error, ErrorNode) and error.kind == ErrorKind.TACTIC_TIMEOUT
    assert "0.01 s allowed" in error.message
    with pytest.raises(ValueError, match="timeout must be positive"):
        ToyEnv(theorem("p"), timeout=0)


def test_theorem_records_round_trip_and_malformed_ones_are_refused() -> None:
    record = ToyTheorems.cached()["peirce"]
    assert ToyEnv.theorem_id(record) == "peirce"
    assert ToyEnv.theorem_from_dict(ToyEnv.theorem_to_dict(record)) == record
    for bad in (
        {"statement": "p"},
        {"name": "x", "statement": "p", "position": -1, "split": "train"},
        {"name": "x", "statement": "p", "position": 0, "split": "dev"},
        {"name": "x", "statement": 3, "position": 0, "split": "train"},
        {"name": "x", "statement": "p ==>", "position": 0, "split": "train"},
        ["name"],
    ):
        with pytest.raises(ValueError):
            ToyEnv.theorem_from_dict(bad)  # type: ignore[arg-type]


def test_start_gives_the_canonical_statement_and_no_premises() -> None:
    with ToyEnv(theorem("(p==>q)==>(p ==> q)")) as (env, root):
        assert root.goal == Goal("(p ==> q) ==> p ==> q")
        assert env.retrieve_premises() == []


def test_check_theorem_source_wants_the_same_file(tmp_path: Path) -> None:
    record = ToyTheorems.cached()["peirce"]
    ToyEnv(record).check_theorem_source(ToyTheorems.cached())
    ToyEnv(record, theorems=str(DEFAULT_PATH)).check_theorem_source(ToyTheorems.cached())
    copy = tmp_path / "theorems.jsonl"
    shutil.copy(DEFAULT_PATH, copy)
    with pytest.raises(ValueError, match="env_config.environment.theorems"):
        ToyEnv(record).check_theorem_source(ToyTheorems.cached(str(copy)))
    with pytest.raises(ValueError, match="same file"):
        ToyEnv(record, theorems=str(copy)).check_theorem_source(ToyTheorems.cached())
    ToyEnv(record, theorems=str(copy)).check_theorem_source(ToyTheorems.cached(str(copy)))
    with pytest.raises(ValueError, match="list"):
        ToyEnv(record).check_theorem_source([])  # type: ignore[arg-type]


def test_the_config_builds_the_environment_and_its_theorem_source(tmp_path: Path) -> None:
    cfg = compose(["env_config=toy"], str(tmp_path))
    factory = environment_factory(cfg.env_config)
    source = theorem_source(cfg.env_config)
    assert isinstance(source, ToyTheorems) and len(source.split("valid")) > 0
    env = factory(thm=source.split("valid")[0])
    assert isinstance(env, ToyEnv) and env.timeout == cfg.env_config.environment.timeout
    env.check_theorem_source(source)


def test_a_proof_found_by_the_prover_replays_in_a_fresh_environment(tmp_path: Path) -> None:
    cfg = compose(["env_config=toy"], str(tmp_path))
    env_config = OmegaConf.to_container(cfg.env_config, resolve=True)
    assert isinstance(env_config, dict)
    environment = environment_record(env_config)  # type: ignore[arg-type]
    model = build_tactic_model(compose(["env_config=toy", "tac_model=toy_fixed"]).tac_model)
    prover = Prover(BestFS(), model.get_tactics, 8, total_timeout=5.0, env_timeout=5.0)
    source = ToyTheorems.cached()
    for name in ("peirce", "de_morgan_and", "or_and_distrib"):
        record = source[name]
        info = AttemptInfo(name, ToyEnv.theorem_to_dict(record), environment, 0, {})
        trace = load_trace(write_trace(prover.prove(ToyEnv(record), info), tmp_path))
        assert trace.proved and len(trace.proof) >= 5, (name, trace.status)
        ok, reason = replay(trace, make_env(trace.environment.model_dump(), trace.theorem))
        assert ok, reason
    # A step whose tactic does not give the recorded subgoals does not replay.
    data = trace.model_dump()
    data["proof"][0]["tactic"] = data["edges"][data["proof"][0]["edge"]]["tactic"] = "exfalso"
    tampered = type(trace).model_validate(data)
    ok, reason = replay(tampered, ToyEnv(record))
    assert not ok and "subgoals differ" in reason

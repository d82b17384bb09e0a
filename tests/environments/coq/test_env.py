"""CoqEnv on the real Coq: the tree, every outcome kind, premises, the document, Prover attempts
whose proofs the kernel takes or refuses, and the replay that ``traces verify`` runs."""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from data.coq.database import DEFAULT_DIR, CoqDatabase, CoqTheorem
from data.proof_tree import ErrorKind, ErrorNode, Goal, Status
from data.traces.files import load_trace, write_trace
from data.traces.schema import ProofTrace
from environments.base import Premise, Suggestion
from environments.coq import driver
from environments.coq.driver import Coq
from environments.coq.env import CoqEnv
from environments.replay import replay
from experiments.end_to_end.prover import AttemptInfo, Prover
from experiments.end_to_end.traces import verify_run
from models.end_to_end.search_models.bestfs import BestFS
from models.end_to_end.tactic_models.base import Premises, TacticModel
from tests.environments.coq.conftest import Tricky

REPO = Path(__file__).resolve().parents[3]
BOOL = "Coq.Bool.Bool."
LOOP = "repeat (assert True by trivial)"


class FixedTactics(TacticModel):
    """The same tactics, in order, for every goal."""

    def __init__(self, tactics: Sequence[str]) -> None:
        self.tactics = list(tactics)

    def get_tactics(self, goals: list[Goal], premises: list[Premises]) -> list[list[Suggestion]]:
        return [[(t, -1.0 - i) for i, t in enumerate(self.tactics)] for _ in goals]


def environment_record(database: CoqDatabase | None = None) -> dict[str, Any]:
    """The trace's environment: env_config=coq as the loop records it, 5 s a tactic."""
    config = OmegaConf.to_container(OmegaConf.load(REPO / "configs/end_to_end/env_config/coq.yaml"))
    assert isinstance(config, dict)
    config["environment"]["timeout"] = 5.0
    if database is not None:
        config["environment"]["database"] = str(database.path)
        config["theorems"]["path"] = str(database.path)
    return {"name": "coq", "config": config}


def attempt(thm: CoqTheorem, env: CoqEnv, tactics: Sequence[str]) -> ProofTrace:
    prover = Prover(BestFS(), FixedTactics(tactics).get_tactics, 8, 60.0, 60.0)
    packaged = env.database.path == DEFAULT_DIR.resolve()
    record = environment_record(None if packaged else env.database)
    info = AttemptInfo(thm.name, CoqEnv.theorem_to_dict(thm), record, 0, {}, role="eval")
    return prover.prove(env, info)


def error_of(edge: Any) -> ErrorNode:
    (node,) = edge.dst
    assert isinstance(node, ErrorNode), edge
    return node


# --- One attempt by hand -----------------------------------------------------------------------


def test_an_attempt_builds_the_tree_proves_the_root_and_the_kernel_takes_the_proof(
    coq: Coq, database: CoqDatabase
) -> None:
    thm = database[BOOL + "negb_involutive"]
    with CoqEnv(thm, 5.0, database, coq=coq) as (env, root):
        assert root.goal == Goal("forall b : bool, negb (negb b) = b")
        assert root.goal == Goal(thm.conclusion, thm.hypotheses)
        cases = env.run_tactic(root, ("intros b; destruct b", -0.5))
        assert cases.status == Status.OPEN
        assert [n.goal for n in cases.dst] == [
            Goal("negb (negb true) = true"),
            Goal("negb (negb false) = false"),
        ]
        for node in cases.dst:
            assert env.run_tactic(node, ("reflexivity", -0.1)).status == Status.PROVED
        assert root.status == Status.PROVED
        proof = env.tree.extract_proof()
        assert proof is not None
        assert [s.tactic for s in proof] == ["intros b; destruct b", "reflexivity", "reflexivity"]
        assert env.check_proof(proof) == ""


def test_every_failure_becomes_its_error_kind_on_the_edge(coq: Coq, database: CoqDatabase) -> None:
    thm = database[BOOL + "negb_involutive"]
    with CoqEnv(thm, 5.0, database, coq=coq) as (env, root):
        wrong = error_of(env.run_tactic(root, ("discriminate", 0.0)))
        assert wrong.kind == ErrorKind.TACTIC_ERROR
        smuggled = error_of(env.run_tactic(root, ("auto. Drop.", 0.0)))
        assert smuggled.kind == ErrorKind.REJECTED and "column 5" in smuggled.message
        same = error_of(env.run_tactic(root, ("idtac", 0.0)))
        assert same.kind == ErrorKind.NO_PROGRESS
        slow = error_of(env.run_tactic(root, (LOOP, 0.0), timeout=1.0))
        assert slow.kind == ErrorKind.TACTIC_TIMEOUT and "restarted" not in slow.message
        assert env.run_tactic(root, ("destr_bool", 0.0)).status == Status.PROVED


def test_a_kill_from_outside_and_a_crash_are_recorded_with_the_restart(
    fresh_coq: Coq, database: CoqDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    thm = database[BOOL + "negb_involutive"]
    with CoqEnv(thm, 5.0, database, coq=fresh_coq) as (env, root):
        pid = fresh_coq._process.pid if fresh_coq._process else None
        assert pid is not None
        killer = threading.Timer(0.3, os.kill, (pid, signal.SIGKILL))
        killer.start()
        try:
            crash = error_of(env.run_tactic(root, (LOOP, 0.0), timeout=5.0))
        finally:
            killer.join()
        assert crash.kind == ErrorKind.PROCESS_CRASH
        assert crash.message.endswith("(coqidetop restarted)")
        monkeypatch.setattr(driver, "GRACE_S", -0.7)  # the deadline comes before Coq's timeout
        hang = error_of(env.run_tactic(root, (LOOP, 0.0), timeout=1.0))
        assert hang.kind == ErrorKind.TACTIC_TIMEOUT
        assert "killed" in hang.message and hang.message.endswith("(coqidetop restarted)")
        monkeypatch.setattr(driver, "GRACE_S", 2.0)
        assert env.run_tactic(root, ("destr_bool", 0.0)).status == Status.PROVED


def test_premises_are_what_was_loaded_before_the_lemma(coq: Coq, database: CoqDatabase) -> None:
    thm = database[BOOL + "negb_involutive"]
    with CoqEnv(thm, 5.0, database, coq=coq) as (env, _root):
        premises = env.retrieve_premises()
    assert all(isinstance(p, Premise) for p in premises)
    names = [p.name for p in premises]
    assert "negb_orb" in names and "Is_true" in names  # earlier in Bool.v, named as there
    assert "negb_involutive" not in names and "negb_involutive_reverse" not in names


def test_library_tactics_are_allowed_where_the_context_defines_them(
    coq: Coq, database: CoqDatabase
) -> None:
    arith = database["Coq.Arith.PeanoNat.Nat.recursion_0"]  # PeanoNat loads no Bool.v
    with CoqEnv(arith, 5.0, database, coq=coq) as (env, root):
        edge = env.run_tactic(root, ("destr_bool", 0.0))
        assert error_of(edge).kind == ErrorKind.REJECTED
        assert "unknown tactic 'destr_bool'" in error_of(edge).message


def test_attempts_at_lemmas_of_one_file_add_only_the_sentences_between(
    coq: Coq, database: CoqDatabase, added: list[str]
) -> None:
    first, second = database[BOOL + "negb_orb"], database[BOOL + "negb_involutive"]
    with CoqEnv(first, 5.0, database, coq=coq) as (env, root):
        assert env.run_tactic(root, ("destr_bool", 0.0)).status == Status.PROVED
    added.clear()
    with CoqEnv(second, 5.0, database, coq=coq) as (env, root):
        assert len(added) == second.sentence - first.sentence
        assert added[-1] == "Lemma negb_involutive : forall b:bool, negb (negb b) = b."
        assert env.run_tactic(root, ("destr_bool", 0.0)).status == Status.PROVED


def test_the_process_is_replaced_on_the_theorem_past_restart_every(
    coqidetop: str, database: CoqDatabase
) -> None:
    coq = Coq(restart_every=2)
    pids = []
    try:
        for name in ("negb_orb", "negb_andb", "negb_involutive"):
            with CoqEnv(database[BOOL + name], 5.0, database, coq=coq) as (env, root):
                pids.append(coq._process.pid if coq._process else None)
                assert env.run_tactic(root, ("destr_bool", 0.0)).status == Status.PROVED
    finally:
        coq.close()
    assert pids[0] == pids[1] != pids[2]


def test_the_environment_checks_its_theorems_and_its_use(
    coq: Coq, database: CoqDatabase, tricky: Tricky
) -> None:
    thm = database[BOOL + "negb_involutive"]
    env = CoqEnv(thm, 5.0, database, coq=coq)
    env.check_theorem_source(database)
    with pytest.raises(ValueError, match="env_config.environment.database"):
        env.check_theorem_source(tricky.database)
    with pytest.raises(RuntimeError, match="outside its 'with' block"):
        env.apply(Goal(thm.conclusion), "auto", 1.0)
    with pytest.raises(RuntimeError, match="outside its 'with' block"):
        env.check_proof([])
    assert CoqEnv.theorem_from_dict(CoqEnv.theorem_to_dict(thm)) == thm
    assert CoqEnv.theorem_id(thm) == thm.name
    stale = dataclasses.replace(thm, conclusion="forall b : bool, b = b")
    with pytest.raises(ValueError, match="re-run the export"):
        CoqEnv(stale, 5.0, database, coq=coq).__enter__()
    with pytest.raises(ValueError, match="timeout"):
        CoqEnv(thm, 0.0, database, coq=coq)


# --- Prover attempts and their replay ----------------------------------------------------------


def test_a_tree_proved_goal_by_goal_that_fails_as_a_whole_makes_the_attempt_failed(
    coq: Coq, tricky: Tricky
) -> None:
    """twins: after split both goals print as f = 0 \\/ f = 1, so the tree merges them and one
    `left; reflexivity` closes the node. Coq has two goals, and the second needs right."""
    thm = tricky.database["Tmp.Mine.Tricky.twins"]
    env = CoqEnv(thm, 5.0, tricky.database, coq=coq)
    trace = attempt(thm, env, ["split", "left; reflexivity", "right; reflexivity"])
    assert trace.status == "failed" and trace.proof == []
    assert trace.error.startswith("the kernel refused the proof: Coq refused the proof")
    assert "Unable to unify" in trace.error


def test_a_goal_shared_by_two_branches_is_proved_once_and_the_proof_replays(
    coq: Coq, tricky: Tricky
) -> None:
    thm = tricky.database["Tmp.Mine.Tricky.shared_goal"]
    trace = attempt(
        thm, CoqEnv(thm, 5.0, tricky.database, coq=coq), ["intros P H; split", "assumption"]
    )
    assert trace.status == "proved", trace.error
    assert [s.tactic for s in trace.proof] == ["intros P H; split", "assumption"]
    ok, reason = replay(trace, CoqEnv(thm, 5.0, tricky.database, coq=coq))
    assert ok, reason


def test_proved_traces_replay_through_traces_verify_and_a_tampered_one_does_not(
    coq: Coq, database: CoqDatabase, tmp_path: Path
) -> None:
    tactics = ["intros b; destruct b", "reflexivity", "discriminate"]
    traces = []
    for name in ("negb_involutive", "eqb_reflx", "diff_true_false"):
        thm = database[BOOL + name]
        trace = attempt(thm, CoqEnv(thm, 5.0, database, coq=coq), tactics)
        assert trace.status == "proved", trace.error
        traces.append(trace)
    assert [len(t.proof) for t in traces] == [3, 3, 1]
    paths = [write_trace(t, tmp_path) for t in traces]

    # The path `traces verify` takes: a fresh environment built from the trace's own record.
    report = verify_run(tmp_path)
    assert (report["checked"], report["ok"], report["failed"]) == (3, 3, [])

    data = load_trace(paths[0]).model_dump()
    step = data["proof"][1]  # reflexivity on negb (negb true) = true
    step["tactic"] = data["edges"][step["edge"]]["tactic"] = "discriminate"
    write_trace(ProofTrace.model_validate(data), tmp_path)
    report = verify_run(tmp_path)
    assert report["ok"] == 2 and [f["file"] for f in report["failed"]] == [str(paths[0])]
    assert "step 1 ('discriminate'" in report["failed"][0]["reason"]
    assert "tactic_error" in report["failed"][0]["reason"]

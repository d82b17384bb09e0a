"""HolLightEnv: the Environment interface on the real HOL Light."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from data.hol_light.database import TheoremDatabase
from data.proof_tree import ErrorKind, Status
from environments.base import Failure, Premise, Proved, Subgoals
from environments.hol_light.env import HolLightEnv

pytestmark = pytest.mark.hol_light


def test_attempt_builds_a_proof_tree_and_extracts_the_proof(
    prover, database: TheoremDatabase
) -> None:
    thm = database["ADD_0"]  # !m. m + 0 = m
    with HolLightEnv(thm, 5.0, database, prover) as (env, root):
        assert root.goal.conclusion_sexp == thm.sexp
        gen = env.run_tactic(root, ("GEN_TAC", -0.5))
        assert gen.status == Status.OPEN and len(gen.dst) == 1
        child = gen.dst[0]
        failed = env.run_tactic(child, ("CONJ_TAC", -1.0))
        assert failed.dst[0].kind == ErrorKind.TACTIC_ERROR
        done = env.run_tactic(child, ("ARITH_TAC", -0.1))
        assert done.status == Status.PROVED
        assert root.status == Status.PROVED
        proof = env.tree.extract_proof()
    assert [step.tactic for step in proof] == ["GEN_TAC", "ARITH_TAC"]
    assert proof[0].goal == root.goal and proof[1].goal == child.goal


def test_premises_are_the_theorems_loaded_before(prover, database: TheoremDatabase) -> None:
    thm = database["ADD_SYM"]
    with HolLightEnv(thm, 5.0, database, prover) as (env, root):
        premises = env.retrieve_premises()
        assert all(isinstance(p, Premise) for p in premises)
        names = {p.name for p in premises}
        assert "ADD_CLAUSES" in names and "ADD_SYM" not in names
        assert len(premises) == thm.position
        # Citing the theorem itself (or anything after it) is refused, not sent.
        sent = prover.server.bytes_sent
        cheat = env.run_tactic(root, ("REWRITE_TAC[ADD_SYM]", 0.0))
        assert cheat.dst[0].kind == ErrorKind.REJECTED
        assert "not an allowed premise" in cheat.dst[0].message
        assert prover.server.bytes_sent == sent
        fair = env.apply(root.goal, "INDUCT_TAC THEN ASM_REWRITE_TAC[ADD_CLAUSES]", env.timeout)
        assert not isinstance(fair, Failure) or fair.kind != ErrorKind.REJECTED
        assert isinstance(env.apply(root.goal, "ARITH_TAC", env.timeout), Proved)


def test_outcome_kinds(prover, database: TheoremDatabase) -> None:
    thm = database["CONJ_SYM"]
    with HolLightEnv(thm, 5.0, database, prover) as (env, root):
        assert isinstance(
            env.apply(root.goal, "REPEAT GEN_TAC", env.timeout), Failure
        )  # not in the grammar
        strip = env.apply(root.goal, "REPEAT_TAC", env.timeout)
        assert isinstance(strip, Failure) and strip.kind == ErrorKind.REJECTED
        subgoals = env.apply(root.goal, "GEN_TAC", env.timeout)
        assert isinstance(subgoals, Subgoals) and len(subgoals.goals) == 1
        error = env.apply(root.goal, "DISJ1_TAC", env.timeout)
        assert isinstance(error, Failure) and error.kind == ErrorKind.TACTIC_ERROR


def test_no_progress_is_detected(prover, database: TheoremDatabase) -> None:
    thm = database["ADD_0"]
    with HolLightEnv(thm, 5.0, database, prover) as (env, root):
        edge = env.run_tactic(root, ("REWRITE_TAC[]", 0.0))
        assert edge.dst[0].kind in (ErrorKind.NO_PROGRESS, ErrorKind.TACTIC_ERROR)


def test_cli_apply_prints_one_json_object(zygote) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "environments.hol_light",
            "apply",
            "--goal",
            "!n. n + 0 = n",
            "--tactic",
            "GEN_TAC",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    answer = json.loads(out.stdout)
    assert answer["status"] == "subgoals"
    assert answer["subgoals"] == [{"hypotheses": [], "conclusion": "n + 0 = n"}]
    assert set(answer) >= {"status", "subgoals", "error", "time_s"}


def test_cli_batch_answers_every_line_on_one_process(zygote) -> None:
    requests = [
        {"goal": "!n. n + 0 = n", "tactic": "ARITH_TAC"},
        {"goal": "x + 0 = 1", "hypotheses": ["x = 1"], "tactic": "ASM_MESON_TAC[ADD_CLAUSES]"},
        {"goal": "p \\/ ~p", "tactic": "ITAUT_TAC", "timeout": 0.5},
        {"goal": "T", "tactic": 'ARITH_TAC;; Sys.command "ls"'},
        {"goal": "T"},
        "not an object",
    ]
    stdin = "\n".join(json.dumps(r) for r in requests) + "\nnot json\n"
    out = subprocess.run(
        [sys.executable, "-m", "environments.hol_light", "apply", "--batch"],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    answers = [json.loads(line) for line in out.stdout.splitlines()]
    assert [a["status"] for a in answers] == [
        "proved",
        "proved",
        "timeout",
        "rejected",
        "error",
        "error",
        "error",
    ]
    assert "tactic" in answers[4]["error"]

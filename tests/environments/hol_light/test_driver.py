"""The HOL Light driver against the real HOL Light (one zygote per test session)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from data.proof_tree import Goal
from environments.hol_light.driver import HolLight
from environments.hol_light.process import (
    HolLightNotInstalled,
    find_hol_light,
    ocaml_string_literal,
)

pytestmark = pytest.mark.hol_light


def text_goal(conclusion: str, *hypotheses: str) -> Goal:
    return Goal(conclusion=conclusion, hypotheses=hypotheses)


def test_tactic_proves_goal(prover: HolLight) -> None:
    result = prover.apply(text_goal("!n. n + 0 = n"), "ARITH_TAC", 5.0)
    assert result.status == "proved", result
    assert result.subgoals == []
    assert 0 < result.time_s < 5


def test_the_decision_procedures_and_case_splits_beyond_holists_list(prover: HolLight) -> None:
    sets = text_goal("!s t u. s SUBSET t /\\ t SUBSET u ==> s SUBSET u")
    assert prover.apply(sets, "SET_TAC[]", 5.0).status == "proved"
    assert prover.apply(sets, "ARITH_TAC", 5.0).status == "error"
    hypothesis = text_goal("x + 1 <= y", "x < y")
    assert prover.apply(hypothesis, "ARITH_TAC", 5.0).status == "error"  # needs x < y
    assert prover.apply(hypothesis, "ASM_ARITH_TAC", 5.0).status == "proved"
    cases = prover.apply(text_goal("(if x = 0 then 1 else x) > 0"), "COND_CASES_TAC", 5.0)
    assert cases.status == "subgoals" and len(cases.subgoals) == 2
    assert all(prover.apply(g, "ASM_ARITH_TAC", 5.0).status == "proved" for g in cases.subgoals)
    split = prover.apply(text_goal("p \\/ ~p"), "ASM_CASES_TAC `p:bool`", 5.0)
    assert split.status == "subgoals" and len(split.subgoals) == 2


def test_subgoals_come_back_as_text_and_exact_sexp(prover: HolLight) -> None:
    result = prover.apply(text_goal("!n. n + 0 = n"), "GEN_TAC", 5.0)
    assert result.status == "subgoals"
    (sub,) = result.subgoals
    assert sub.conclusion == "n + 0 = n"
    assert sub.conclusion_sexp is not None
    assert "(v (num) n)" in sub.conclusion_sexp
    # The exact form goes back in and is proved.
    assert prover.apply(sub, "ARITH_TAC", 5.0).status == "proved"


def test_hypotheses_are_parsed_jointly_with_the_conclusion(prover: HolLight) -> None:
    # Parsed apart, x would get an invented type in the hypothesis and num in the conclusion.
    goal = prover.parse_goal(["x = y"], "y = x + 0")
    assert goal.hypothesis_sexps == (
        "(a (a (c (fun (num) (fun (num) (bool))) =) (v (num) x)) (v (num) y))",
    )
    assert prover.apply(goal, "ASM_MESON_TAC[ADD_CLAUSES]", 5.0).status == "proved"
    disch = prover.apply(text_goal("x = 1 ==> x + 0 = 1"), "DISCH_TAC", 5.0)
    assert disch.subgoals[0].hypotheses == ("x = 1",)


def test_tactic_failure_is_an_error_with_message(prover: HolLight) -> None:
    result = prover.apply(text_goal("p \\/ q"), "CONJ_TAC", 5.0)
    assert result.status == "error"
    assert result.error


def test_term_arguments_take_types_from_the_goal(prover: HolLight) -> None:
    goal = prover.parse_goal([], "?n. n + 1 = 4")
    result = prover.apply(goal, "EXISTS_TAC `3`", 5.0)
    assert result.status == "subgoals"
    assert prover.apply(result.subgoals[0], "ARITH_TAC", 5.0).status == "proved"
    spec = prover.apply(prover.parse_goal([], "!m. m + n = n + m"), "X_GEN_TAC `k:num`", 5.0)
    assert spec.subgoals[0].conclusion == "k + n = n + k"


def test_unparsable_goal_and_term_are_errors(prover: HolLight) -> None:
    assert prover.apply(text_goal("!n. n + "), "ARITH_TAC", 5.0).status == "error"
    bad_term = prover.apply(text_goal("?n. n = 3"), "EXISTS_TAC `3 +`", 5.0)
    assert bad_term.status == "error"
    not_bool = prover.apply(text_goal("1 + 1"), "ARITH_TAC", 5.0)
    assert not_bool.status == "error" and "boolean" in not_bool.error


def test_unknown_theorem_and_tactic_are_rejected(prover: HolLight) -> None:
    unknown = prover.apply(
        text_goal("T"), "REWRITE_TAC[NO_SUCH_THM]", 5.0, database_names={"TRUTH"}
    )
    assert unknown.status == "rejected" and "NO_SUCH_THM" in unknown.error
    assert prover.apply(text_goal("T"), "FOO_TAC", 5.0).status == "rejected"


def test_proved_only_after_kernel_replay(prover: HolLight) -> None:
    # ACCEPT_TAC with a theorem whose conclusion is not the goal fails in the kernel check.
    result = prover.apply(text_goal("1 + 1 = 2"), "ACCEPT_TAC TRUTH", 5.0)
    assert result.status == "error"
    assert prover.apply(text_goal("T"), "ACCEPT_TAC TRUTH", 5.0).status == "proved"


@pytest.mark.slow
def test_looping_tactic_times_out_and_next_call_works(prover: HolLight) -> None:
    # ITAUT_TAC deepens forever on a classical (non-intuitionistic) tautology.
    started = time.monotonic()
    result = prover.apply(text_goal("p \\/ ~p"), "ITAUT_TAC", 1.0)
    elapsed = time.monotonic() - started
    assert result.status == "timeout"
    assert elapsed < 1.0 + 2.0
    assert prover.apply(text_goal("!n. n + 0 = n"), "ARITH_TAC", 5.0).status == "proved"


def test_killed_server_is_restarted_by_the_next_call(prover: HolLight) -> None:
    old_pid = prover.server.pid
    prover.server.kill()
    time.sleep(0.1)
    result = prover.apply(text_goal("!n. n + 0 = n"), "ARITH_TAC", 5.0)
    assert result.status == "proved"
    assert result.restarted
    assert prover.server.pid != old_pid
    assert prover.apply(text_goal("T"), "ACCEPT_TAC TRUTH", 5.0).restarted is False


def test_server_dying_mid_call_is_reported_and_replaced(prover: HolLight) -> None:
    import threading

    pid = prover.server.pid
    timer = threading.Timer(0.3, lambda: os.kill(pid, 9))
    timer.start()
    result = prover.apply(text_goal("p \\/ ~p"), "ITAUT_TAC", 5.0)
    timer.join()
    assert result.status == "crash" and result.restarted
    assert prover.apply(text_goal("T"), "ACCEPT_TAC TRUTH", 5.0).status == "proved"


INJECTIONS = [
    'ARITH_TAC;; Sys.command "touch {marker}"',
    'ARITH_TAC;; let _ = Sys.command "touch {marker}"',
    'ARITH_TAC (* Sys.command "touch {marker}" *)',
    'REWRITE_TAC["\\\\" ^ string_of_int (Sys.command "touch {marker}")]',
    "REWRITE_TAC[ADD_CLAUSES",
    "(ARITH_TAC",
    'REWRITE_TAC[(Sys.command "touch {marker}")]',
    'MP_TAC (fun x -> Sys.command "touch {marker}")',
    'EXISTS_TAC `x`;; Sys.command "touch {marker}"',
    'Sys.command "touch {marker}"',
    'LABEL_TAC "a\\" ^ Sys.command \\"touch {marker}" TRUTH',
]


@pytest.mark.parametrize("template", INJECTIONS)
def test_injection_in_tactic_is_rejected_before_hol_light(
    prover: HolLight, template: str, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    sent_before = prover.server.bytes_sent
    result = prover.apply(text_goal("?x. x = 1"), template.format(marker=marker), 5.0)
    assert result.status == "rejected", result
    assert prover.server.bytes_sent == sent_before  # the toplevel never saw it
    assert not marker.exists()


@pytest.mark.parametrize(
    "goal",
    [
        'T";; Sys.command "touch {marker}";; "',
        'T`;; Sys.command "touch {marker}";; `',
        'T\\" ^ (Sys.command "touch {marker}") ^ \\"',
        'T *) Sys.command "touch {marker}" (*',
    ],
)
def test_injection_in_goal_text_reaches_hol_light_only_as_data(
    prover: HolLight, goal: str, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    result = prover.apply(text_goal(goal.format(marker=marker)), "ARITH_TAC", 5.0)
    assert result.status == "error"  # HOL Light's parser refuses it: it is a term, not code
    assert not marker.exists()
    assert prover.apply(text_goal("T"), "ACCEPT_TAC TRUTH", 5.0).status == "proved"


def test_malformed_goal_sexp_from_a_trace_is_an_error(prover: HolLight) -> None:
    forged = Goal(conclusion="T", conclusion_sexp="(c (bool) T)) (tac ARITH_TAC")
    result = prover.apply(forged, "ARITH_TAC", 5.0)
    assert result.status == "error" and "s-expression" in result.error
    ill_typed = Goal(conclusion="T", conclusion_sexp="(c (num) T)")
    assert prover.apply(ill_typed, "ARITH_TAC", 5.0).status == "error"


def test_ocaml_string_literal_escapes_everything_but_alphanumerics() -> None:
    literal = ocaml_string_literal('a";; Sys.command "x" (* `')
    assert literal.startswith('"') and literal.endswith('"')
    body = literal[1:-1]
    assert all(c.isalnum() or c in " \\" for c in body)
    assert ";" not in body and '"' not in body and "(" not in body


def test_missing_hol_light_names_the_package(tmp_path: Path) -> None:
    with pytest.raises(HolLightNotInstalled, match="apt-get install -y hol-light libnum-ocaml-dev"):
        find_hol_light(tmp_path)


def test_each_spawned_server_is_independent(zygote) -> None:
    first, second = HolLight.spawn(zygote), HolLight.spawn(zygote)
    try:
        assert first.server.pid != second.server.pid
        first.server.kill()
        time.sleep(0.1)
        assert second.apply(text_goal("T"), "ACCEPT_TAC TRUTH", 5.0).status == "proved"
    finally:
        first.close()
        second.close()

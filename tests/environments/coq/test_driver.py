"""Coq and CoqProof against the real coqidetop: outcomes, timeouts, crashes, the document, Qed."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable

import pytest

from data.proof_tree import Goal, ProofStep
from environments.coq import driver
from environments.coq.driver import Coq, CoqProof, assumptions

# n + 0 = n needs an induction; 0 + n = n is reflexivity.
CONTEXT = ("Lemma t : forall n : nat, n + 0 = n /\\ 0 + n = n.",)
LOOP = "repeat (assert True by trivial)"  # runs until something stops it


def goal(conclusion: str, *hypotheses: str) -> Goal:
    return Goal(conclusion=conclusion, hypotheses=hypotheses)


def step(on: Goal, tactic: str, *subgoals: Goal) -> ProofStep:
    return ProofStep(on, tactic, subgoals, 0)


def pid_of(coq: Coq) -> int | None:
    return coq._process.pid if coq._process is not None else None


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


# --- Outcomes ----------------------------------------------------------------------------------


def test_a_tactic_that_closes_the_goal_is_proved(coq: Coq) -> None:
    proof = CoqProof(coq, CONTEXT)
    assert proof.root == goal("forall n : nat, n + 0 = n /\\ 0 + n = n")
    result = proof.apply(proof.root, "intros n; split; [induction n; simpl; auto | reflexivity]", 5)
    assert result.status == "proved", result
    assert result.subgoals == [] and not result.restarted and 0 <= result.time_s < 5


def test_subgoals_are_the_new_goals_and_each_can_take_a_further_tactic(coq: Coq) -> None:
    proof = CoqProof(coq, CONTEXT)
    split = proof.apply(proof.root, "intros n; split", 5)
    assert split.status == "subgoals"
    left, right = split.subgoals
    assert left == goal("n + 0 = n", "n : nat") and right == goal("0 + n = n", "n : nat")
    # Induction on the first goal: its sibling 0 + n = n is still open but is no subgoal of it.
    cases = proof.apply(left, "induction n as [|k IH]", 5)
    assert cases.status == "subgoals"
    assert cases.subgoals == [
        goal("0 + 0 = 0"),
        goal("S k + 0 = S k", "k : nat", "IH : k + 0 = k"),
    ]
    # Every goal, wherever it lives, takes its next tactic there.
    assert proof.apply(cases.subgoals[1], "simpl; rewrite IH; reflexivity", 5).status == "proved"
    assert proof.apply(right, "reflexivity", 5).status == "proved"
    assert proof.apply(cases.subgoals[0], "reflexivity", 5).status == "proved"
    assert proof.apply(left, "reflexivity", 5).status == "error"  # n + 0 = n is no reflexivity


def test_a_failing_tactic_is_an_error_and_the_document_stays_usable(coq: Coq) -> None:
    proof = CoqProof(coq, CONTEXT)
    result = proof.apply(proof.root, "exact I", 5)
    assert result.status == "error" and "has type" in result.error and not result.restarted
    assert proof.apply(proof.root, "intros n; split", 5).status == "subgoals"


def test_a_tactic_coq_cannot_parse_is_an_error_and_the_document_stays_usable(coq: Coq) -> None:
    """The grammar is coarser than Coq's parser; Coq's refusal at Add must not lose the
    document (it did: Coq's dummy state 0 made the driver forget every sentence)."""
    proof = CoqProof(coq, CONTEXT)
    pid = pid_of(coq)
    result = proof.apply(proof.root, "apply with", 5)
    assert result.status == "error" and "Syntax error" in result.error
    assert proof.apply(proof.root, "intros n; split", 5).status == "subgoals"
    assert pid_of(coq) == pid


def test_coqs_own_timeout_stops_a_looping_tactic_and_keeps_the_process(coq: Coq) -> None:
    proof = CoqProof(coq, CONTEXT)
    pid = pid_of(coq)
    started = time.monotonic()
    result = proof.apply(proof.root, LOOP, 1.0)
    assert time.monotonic() - started < 1.0 + driver.GRACE_S
    assert result.status == "timeout" and "timeout" in result.error.lower()
    assert not result.restarted and pid_of(coq) == pid
    assert proof.apply(proof.root, "intros n; split", 5).status == "subgoals"


def test_a_tactic_past_the_grace_is_killed_from_outside_and_the_next_gets_a_fresh_process(
    fresh_coq: Coq, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A grace below zero: the deadline (1 - 0.7 s) comes before Coq's own timeout (1 s).
    monkeypatch.setattr(driver, "GRACE_S", -0.7)
    proof = CoqProof(fresh_coq, CONTEXT)
    pid = pid_of(fresh_coq)
    assert pid is not None
    started = time.monotonic()
    result = proof.apply(proof.root, LOOP, 1.0)
    assert time.monotonic() - started < 1.0
    assert result.status == "timeout" and result.restarted and "killed" in result.error
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    after = proof.apply(proof.root, "intros n; split", 5)
    assert after.status == "subgoals" and pid_of(fresh_coq) not in (None, pid)
    outcome = result.outcome("coqidetop")
    assert "(coqidetop restarted)" in getattr(outcome, "message", "")


def test_a_process_killed_between_applies_is_replaced_by_the_next_apply(fresh_coq: Coq) -> None:
    """Once the dead process is noticed (it is reaped), the next apply starts a fresh one,
    rebuilds the document and answers as usual, saying it restarted."""
    proof = CoqProof(fresh_coq, CONTEXT)
    split = proof.apply(proof.root, "intros n; split", 5)
    process = fresh_coq._process
    assert process is not None and process.pid is not None
    os.kill(process.pid, signal.SIGKILL)
    wait_for(lambda: not process.alive)
    result = proof.apply(split.subgoals[1], "reflexivity", 5)
    assert result.status == "proved" and result.restarted and fresh_coq.restarts == 1
    again = proof.apply(split.subgoals[0], "induction n; simpl; auto", 5)
    assert again.status == "proved" and not again.restarted


def test_a_process_killed_during_a_tactic_is_a_crash_and_the_next_apply_works(
    fresh_coq: Coq,
) -> None:
    proof = CoqProof(fresh_coq, CONTEXT)
    pid = pid_of(fresh_coq)
    assert pid is not None
    killer = threading.Timer(0.3, os.kill, (pid, signal.SIGKILL))
    killer.start()
    try:
        result = proof.apply(proof.root, LOOP, 5.0)
    finally:
        killer.join()
    assert result.status == "crash" and result.restarted and "exited" in result.error
    assert "(coqidetop restarted)" in getattr(result.outcome("coqidetop"), "message", "")
    assert proof.apply(proof.root, "intros n; split", 5).status == "subgoals"
    assert pid_of(fresh_coq) not in (None, pid)


# --- Untrusted text ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "auto. Drop.",
        'idtac.\nLoad "x"',
        "idtac\n. Drop",
        "auto (* a comment *)",
        'exact "a string"',
        "admit",
        "give_up",
        "intros; Admitted",
        "exact ltac:(auto)",
        "shelve",
        "1: auto",
        "all: auto",
        "intros. Qed",
        "",
    ],
)
def test_untrusted_text_outside_the_grammar_is_rejected_and_nothing_reaches_coq(
    coq: Coq, calls: list[str], text: str
) -> None:
    proof = CoqProof(coq, CONTEXT)
    calls.clear()
    result = proof.apply(proof.root, text, 5)
    assert result.status == "rejected" and result.error
    assert calls == []


def test_xml_special_characters_of_an_accepted_tactic_reach_coq_intact(
    coq: Coq, calls: list[str]
) -> None:
    proof = CoqProof(coq, CONTEXT)
    result = proof.apply(
        proof.root, "assert (H : 1 < 2 /\\ 2 > 1 /\\ (true && true)%bool = true) by auto", 5
    )
    assert result.status == "subgoals", result
    (sub,) = result.subgoals
    assert sub.hypotheses == ("H : 1 < 2 /\\ 2 > 1 /\\ (true && true)%bool = true",)
    assert any("&lt; 2 /\\ 2 &gt; 1 /\\ (true &amp;&amp; true)" in c for c in calls)


def test_a_tactic_that_leaves_an_existential_variable_shelved_is_an_error(coq: Coq) -> None:
    """Shelving is how two goals come to share an evar; apply refuses it, certify backs it up."""
    proof = CoqProof(coq, ("Lemma e : exists n : nat, n = 1 /\\ n = 1 + 0.",))
    result = proof.apply(proof.root, "eexists; split", 5)
    assert result.status == "error" and "shelved" in result.error
    assert proof.apply(proof.root, "exists 1; split; reflexivity", 5).status == "proved"


def test_a_goal_this_attempt_never_reached_is_an_error(coq: Coq) -> None:
    proof = CoqProof(coq, CONTEXT)
    result = proof.apply(goal("1 = 1"), "reflexivity", 5)
    assert result.status == "error" and "not reached" in result.error


def test_a_context_that_does_not_end_in_a_statement_is_refused(coq: Coq) -> None:
    with pytest.raises(ValueError, match="statement"):
        CoqProof(coq, ("Definition d := 1.",))
    with pytest.raises(ValueError, match="at least 1"):
        Coq(restart_every=0)


# --- Certify: the script as a whole, Qed and the axioms ---------------------------------------


def test_a_proof_the_kernel_accepts_certifies_and_the_attempt_goes_on(coq: Coq) -> None:
    proof = CoqProof(coq, CONTEXT)
    left, right = proof.apply(proof.root, "intros n; split", 5).subgoals
    steps = [
        step(proof.root, "intros n; split", left, right),
        step(left, "induction n; simpl; auto"),
        step(right, "reflexivity"),
    ]
    assert proof.certify(steps, "t", (), 5) == ""
    # The document went on to Qed; the attempt's goals are still where they were.
    assert proof.apply(right, "reflexivity", 5).status == "proved"


def test_certify_refuses_a_script_with_admit_even_past_apply_and_past_the_grammar(
    coq: Coq, monkeypatch: pytest.MonkeyPatch
) -> None:
    proof = CoqProof(coq, CONTEXT)
    admitted = [step(proof.root, "admit")]
    assert "admit" in proof.certify(admitted, "t", (), 5)  # the grammar, checked again
    assert proof.certify([], "t", (), 5) != ""  # nothing proves nothing
    # With the grammar out of the way, Coq's given-up goal still keeps it from counting.
    monkeypatch.setattr(
        driver.tactics, "render_sentence", lambda text, index, timeout, library: f"{index}: {text}."
    )
    assert "given-up goals remain" in proof.certify(admitted, "t", (), 5)


def test_certify_refuses_goals_that_share_an_evar_each_closed_with_its_own_witness(
    coq: Coq,
) -> None:
    """Each ?n = k alone is reflexivity; as a script the first fixes ?n, the second is 1 = 2."""
    proof = CoqProof(coq, ("Lemma e : exists n : nat, n = 1 /\\ n = 2.",))
    one, two = goal("?n = 1"), goal("?n = 2")
    steps = [
        step(proof.root, "eexists; split", one, two),
        step(one, "reflexivity"),
        step(two, "reflexivity"),
    ]
    problem = proof.certify(steps, "e", (), 5)
    assert "1 = 2" in problem


def test_certify_closes_a_goal_two_branches_share_with_its_one_step(coq: Coq) -> None:
    """The tree merges the two goals P (same text); Coq has two. The fixed certify replays the
    step for each (before, it left the second open and refused a sound proof)."""
    proof = CoqProof(coq, ("Lemma s : forall P : Prop, P -> P /\\ P.",))
    split = proof.apply(proof.root, "intros P H; split", 5)
    assert split.subgoals == [goal("P", "P : Prop", "H : P")] * 2
    p = split.subgoals[0]
    assert proof.apply(p, "assumption", 5).status == "proved"
    assert (
        proof.certify([step(proof.root, "intros P H; split", p), step(p, "assumption")], "s", (), 5)
        == ""
    )


def test_certify_refuses_axioms_beyond_the_allowed(coq: Coq) -> None:
    proof = CoqProof(coq, ("Axiom magic : forall n : nat, n = 0.", "Lemma m : 1 = 0."))
    steps = [step(proof.root, "exact (magic 1)")]
    assert "magic" in proof.certify(steps, "m", (), 5)
    assert proof.certify(steps, "m", ("magic",), 5) == ""


def test_certify_reports_a_step_coq_refuses_and_a_goal_no_step_acts_on(coq: Coq) -> None:
    proof = CoqProof(coq, CONTEXT)
    problem = proof.certify([step(proof.root, "exact I")], "t", (), 5)
    assert problem.startswith("Coq refused the proof") and "has type" in problem
    left, right = goal("n + 0 = n", "n : nat"), goal("0 + n = n", "n : nat")
    partial = [step(proof.root, "intros n; split", left, right), step(right, "reflexivity")]
    assert "no step of the proof acts on the open goal n : nat |- n + 0 = n" in proof.certify(
        partial, "t", (), 5
    )


def test_certify_stops_a_circular_script(coq: Coq) -> None:
    proof = CoqProof(coq, ("Lemma c : forall a b : nat, a = b.",))
    ab, ba = goal("a = b", "a, b : nat"), goal("b = a", "a, b : nat")
    steps = [step(proof.root, "intros a b", ab), step(ab, "symmetry", ba), step(ba, "symmetry", ab)]
    assert "within 100 tactics" in proof.certify(steps, "c", (), 5)


# --- The document ------------------------------------------------------------------------------


def test_a_context_is_added_once_and_a_later_lemma_adds_only_what_is_missing(
    fresh_coq: Coq, added: list[str]
) -> None:
    first = ("Definition d := 1.", "Lemma a : d = 1.")
    second = (*first, "Proof.", "reflexivity.", "Qed.", "Lemma b : d + 0 = 1.")
    proof = CoqProof(fresh_coq, first)
    assert added == list(first)
    assert proof.apply(proof.root, "reflexivity", 5).status == "proved"
    added.clear()
    CoqProof(fresh_coq, first)  # a second attempt at a: edits back, adds nothing
    assert added == []
    later = CoqProof(fresh_coq, second)
    assert added == ["Proof.", "reflexivity.", "Qed.", "Lemma b : d + 0 = 1."]
    assert later.apply(later.root, "reflexivity", 5).status == "proved"


def test_the_process_is_replaced_after_restart_every_theorems(coqidetop: str) -> None:
    coq = Coq(restart_every=2)
    try:
        pids = []
        for _ in range(3):
            proof = CoqProof(coq, CONTEXT)
            assert proof.apply(proof.root, "intros n; split", 5).status == "subgoals"
            pids.append(pid_of(coq))
        assert pids[0] == pids[1] != pids[2]
    finally:
        coq.close()


def test_print_assumptions_output_gives_the_axiom_names() -> None:
    printed = (
        "Axioms:\nmagic : forall n : nat, n = 0\nclassic : forall P : Prop, P \\/ ~ P\n"
        "Opaque constants:\nopaque_thing : nat\n"
    )
    assert assumptions([printed]) == ["magic", "classic"]
    assert assumptions(["Closed under the global context"]) == []

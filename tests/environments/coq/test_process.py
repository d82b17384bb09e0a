"""CoqIdeTop against the real coqidetop: the XML protocol, deadlines, kills, its own workspace."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from environments.coq.process import (
    CoqCrashed,
    CoqIdeTop,
    CoqNotInstalled,
    CoqTimeout,
    SentenceFailed,
    find_coqidetop,
)


@pytest.fixture
def top(coqidetop: str) -> Iterator[CoqIdeTop]:
    p = CoqIdeTop()
    yield p
    p.close()


def run(top: CoqIdeTop, sentences: list[str], state: int | None = None) -> int:
    """Add and execute ``sentences`` after ``state`` (default: the start); the last state."""
    tip = top.initial_state if state is None else state
    for s in sentences:
        tip = top.add(s, tip, 10.0)
    top.execute(10.0)
    return tip


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_statement_opens_a_proof_whose_goal_is_printed(top: CoqIdeTop) -> None:
    assert top.goals(10.0) is None  # outside a proof
    state = run(top, ["Lemma t : forall n m : nat, n <= m -> n <= S m."])
    assert state > top.initial_state
    goals = top.goals(10.0)
    assert goals is not None and len(goals.foreground) == 1
    assert goals.foreground[0].conclusion == "forall n m : nat, n <= m -> n <= S m"
    run(top, ["intros n m H."], state)
    goals = top.goals(10.0)
    assert goals is not None
    assert goals.foreground[0].hypotheses == ("n, m : nat", "H : n <= m")
    assert goals.foreground[0].conclusion == "n <= S m"
    assert (goals.background, goals.shelved, goals.given_up) == (0, 0, 0)


def test_a_refused_sentence_reports_the_last_good_state_and_edit_at_goes_back(
    top: CoqIdeTop,
) -> None:
    lemma = run(top, ["Lemma t : 1 = 1."])
    top.add("exact I.", lemma, 10.0)
    with pytest.raises(SentenceFailed, match="has type") as failed:
        top.execute(10.0)
    assert failed.value.state == lemma
    top.edit_at(lemma, 10.0)
    run(top, ["reflexivity."], lemma)
    goals = top.goals(10.0)
    assert goals is not None and goals.foreground == ()


def test_a_sentence_that_does_not_parse_is_refused_at_add(top: CoqIdeTop) -> None:
    with pytest.raises(SentenceFailed) as failed:
        top.add("Lemma t : (1 = .", top.initial_state, 10.0)
    assert failed.value.state == top.initial_state


def test_xml_special_characters_travel_escaped_both_ways(top: CoqIdeTop) -> None:
    run(top, ["Lemma t : 1 < 2 /\\ 2 > 1 /\\ (true && false)%bool = false."])
    goals = top.goals(10.0)
    assert goals is not None
    assert goals.foreground[0].conclusion == "1 < 2 /\\ 2 > 1 /\\ (true && false)%bool = false"


def test_a_query_returns_what_coq_printed(top: CoqIdeTop) -> None:
    state = run(top, ["Lemma t : 1 = 1.", "Proof.", "reflexivity.", "Qed."])
    messages = top.query("Print Assumptions t.", state, 10.0)
    assert any("Closed under the global context" in m for m in messages)
    assert top.query("Check (1 < 2).", state, 10.0) == ["1 < 2\n     : Prop"]


def test_below_the_grammar_coq_itself_refuses_qed_after_admit(top: CoqIdeTop) -> None:
    """The grammar refuses admit; had it got through, the kernel would still not take it."""
    state = run(top, ["Lemma t : False.", "Proof.", "admit."])
    goals = top.goals(10.0)
    assert goals is not None and goals.foreground == () and goals.given_up == 1
    top.add("Qed.", state, 10.0)
    with pytest.raises(SentenceFailed, match="given up"):
        top.execute(10.0)


def test_no_answer_within_the_deadline_kills_the_process_and_closes_the_object(
    top: CoqIdeTop,
) -> None:
    pid = top.pid
    assert pid is not None
    state = run(top, ["Lemma t : True."])
    top.add("repeat (assert True by trivial).", state, 10.0)  # no Coq timeout: loops for ever
    started = time.monotonic()
    with pytest.raises(CoqTimeout, match="killed"):
        top.execute(0.5)
    assert time.monotonic() - started < 3.0
    assert not top.alive and top.pid is None and gone(pid)
    with pytest.raises(CoqCrashed, match="closed"):
        top.goals(10.0)


def test_a_process_killed_from_outside_is_reported_as_a_crash(top: CoqIdeTop) -> None:
    pid = top.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(CoqCrashed):
        top.goals(10.0)
    assert not top.alive and gone(pid)


def test_it_runs_in_its_own_process_group_and_working_directory_under_a_memory_cap(
    coqidetop: str,
) -> None:
    top = CoqIdeTop(memory_limit_mb=2048)
    try:
        pid = top.pid
        assert pid is not None
        assert os.getpgid(pid) == pid != os.getpgid(0)  # a kill of its group reaches only it
        workdir = Path(os.readlink(f"/proc/{pid}/cwd"))
        assert workdir != Path.cwd() and workdir.name.startswith("coqidetop-")
        limits = Path(f"/proc/{pid}/limits").read_text()
        line = next(x for x in limits.splitlines() if x.startswith("Max address space"))
        assert str(2048 * 1024 * 1024) in line
    finally:
        top.close()
    assert not workdir.exists()


def test_multi_byte_characters_cut_between_reads_decode_intact(
    top: CoqIdeTop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pipes hand over answers in pieces; a piece may end inside a character (here: always)."""
    pid = top.pid
    real_read = os.read
    fd = top._proc.stdout.fileno()  # type: ignore[union-attr]
    monkeypatch.setattr(os, "read", lambda f, n: real_read(f, 1 if f == fd else n))
    run(top, ["Lemma t : forall l₁ : list nat, l₁ = l₁."])
    goals = top.goals(10.0)
    assert goals is not None and top.pid == pid
    assert goals.foreground[0].conclusion == "forall l₁ : list nat, l₁ = l₁"


def test_without_coqidetop_on_path_the_error_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CoqNotInstalled, match="apt-get install -y coq"):
        find_coqidetop()
    with pytest.raises(CoqNotInstalled, match="apt-get install -y coq"):
        CoqIdeTop()

"""The Coq tactic grammar: what is accepted (and how it is normalised), everything refused."""

from __future__ import annotations

import math
import random
import re

import pytest

from environments.coq.tactics import (
    ALLOWED_TACTICS,
    COMBINATORS,
    FORBIDDEN_WORDS,
    MAX_NESTING,
    MAX_TACTIC_CHARS,
    TacticRejected,
    parse_tactic,
    render_sentence,
)

# Tactic texts as Coq's standard library writes them.
ACCEPTED = [
    "intros n m; induction n as [|n IHn]; simpl; auto with arith",
    "rewrite <- plus_n_O; reflexivity",
    "destruct (le_lt_dec n m) as [H|H]",
    "apply Nat.le_trans with (m := S n)",
    "exists (S x); split; [lia | auto]",
    "induction l as [|a l IHl]; simpl; [reflexivity | rewrite IHl; reflexivity]",
    "try (apply f_equal; auto)",
    "repeat split",
    "do 2 intro",
    "first [reflexivity | symmetry; assumption]",
    "solve [auto | eauto 6]",
    "assert (H : n = n) by reflexivity",
    "unfold not in *; intros H; inversion H",
    "now rewrite Nat.add_comm",
    "case_eq (beq_nat n m); intro H",
    "rewrite (Nat.add_comm x y) at 1",
    "eapply (proj1 (Nat.le_ngt _ _))",
    "destruct x.(fst)",
    "intros ->",
    "intros <- H",
    "specialize (H 0 eq_refl)",
    "pose proof (Nat.lt_irrefl n) as Hn",
    "destruct (H _ _ H0) as (x & Hx & Hy)",
    "change (S n <= m)",
    "eauto using Nat.le_trans",
    "simpl in H |- *",
    "rewrite !Nat.add_0_r",
    "rewrite ?app_nil_r",
    "apply (f_equal (fun x => x + 1))",
    "exists (fun n : nat => n * 2)%nat",
    "intros [H1 H2]",
    "intros [|n] [|m]; simpl; auto",
    "destruct n as [|n] eqn:E",
    "induction n using nat_ind",
    "generalize dependent m",
    "clear dependent H",
    "simple apply le_n",
    "apply le_S in H",
    "dependent destruction H",
    "functional induction (f x)",
    "inversion_clear H; subst",
    "decide equality",
    "typeclasses eauto",
    "setoid_rewrite H",
    "replace (x + 0) with x by ring",
    "rewrite H by lia",
    "autorewrite with core using auto",
    "intuition auto with arith",
    "intuition",
    "firstorder using Nat.le_trans",
    "abstract lia",
    "try (simpl in *)",
    "repeat (rewrite H in *)",
    "auto || idtac",
    "progress simpl; once auto; exactly_once auto",
    "split; [|auto]",
    "split; [auto|]",
    "split; []",
    "exact (@eq_refl nat 0)",
    "assert {x | x = 0}",
    "exists (exist _ 0 eq_refl)",
    "refine {| fst := 0; snd := 1 |}",
    "exact match x with O => I | S _ => I end",
    "destruct (match n with 0 => true | S _ => false end)",
    "pose (T := Set); pose (U := Type); pose (V := Prop)",
    "lia",
    "nia",
    "field_simplify_eq; ring",
    "vm_compute; reflexivity",
    "cbv beta iota delta [f g]",
    "apply H; [apply H1 | apply H2 | ]",
    "elim H; clear H; intros x Hx",
    "rename H into H'",
    "move H after x",
    "instantiate (1 := 0)",
    "destruct (x, y) as [[a b] c]",
    "apply (fun '(x, y) => x)",
    "assert (H : (True))",
    "set (s := x + y) in *",
    "remember (f x) as y eqn:Hy",
    "fix IH 1",
    "rewrite (orb_comm (a || b))",
    "exact (Z.le_refl 0)%Z",
    "decompose [and or] H",
    "apply H with (2 := H0)",
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_accepts_standard_library_tactics(text: str) -> None:
    assert parse_tactic(text) == text


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("  auto  ", "auto"),
        ("intros n m;\n  induction n", "intros n m; induction n"),
        ("simpl;\tauto", "simpl; auto"),
        ("split;\r\n[auto\n|\n lia]", "split; [auto | lia]"),
        ("rewrite    H", "rewrite H"),
    ],
)
def test_normalises_whitespace(text: str, normal: str) -> None:
    assert parse_tactic(text) == normal
    assert parse_tactic(normal) == normal


REJECTED = [
    ("auto. Drop.", "'.' at column 5"),
    ("auto.\nDrop.", "'.' at column 5"),
    ("auto. ", "'.' at column 5"),
    ("auto.", "'.' at column 5"),
    ('idtac. Load "x"', "'.' at column 6"),
    ("rewrite H. auto", "'.' at column 10"),
    ("apply Nat.add_comm.", "'.' at column 19"),
    ("apply x . y", "'.' at column 9"),
    ("auto...", "'.' at column 5"),
    ("intros ...", "'.' at column 8"),
    ("split; [easy ..|]", "'.' at column 14"),
    ("auto) . Drop . (idtac", "'.'"),
    ("exact 1.5", "'.' at column 8"),
    ("(* c *) auto", "comments ('(*' at column 1"),
    ("auto (* *)", "comments ('(*' at column 6"),
    ('idtac "s"', "strings"),
    ('unfold "<"', "strings"),
    ("auto `x`", "'`' at column 6"),
    ("auto\x00", "'\\x00' at column 5 is not printable ASCII"),
    ("auto\x0b", "'\\x0b'"),
    ("auto\x1b[0m", "'\\x1b'"),
    ("exact \u00e9", "not printable ASCII"),
    ("admit", "'admit' at column 1 is refused: it never counts as a proof"),
    ("assert (H : False) by admit", "'admit' at column 23"),
    ("try give_up", "'give_up'"),
    ("Admitted", "'Admitted'"),
    ("Abort", "'Abort'"),
    ("shelve", "shelved goals never count"),
    ("unshelve (refine _)", "'unshelve'"),
    ("exact_no_check I", "it skips type checking"),
    ("vm_cast_no_check I", "skips type checking"),
    ("change_no_check (x = x)", "skips type checking"),
    ("native_compute", "OCaml"),
    ("exact ltac:(auto)", "'ltac' at column 7"),
    ("exact (ltac : (admit))", "'ltac'"),
    ("exact ltac2:(auto)", "'ltac2'"),
    ("exact constr:(I)", "constr:( at column 7 is a quotation"),
    ("refine uconstr:(_)", "quotation"),
    ("refine open_constr:(_)", "quotation"),
    ("assert (H:(True))", "write a space: 'H : (...)'"),
    ("1: auto", "goal selectors"),
    ("all: auto", "goal selectors"),
    ("2-3: auto", "goal selectors"),
    ("1, 3: auto", "goal selectors"),
    ("[x]: auto", "goal selectors"),
    ("!: auto", "goal selectors"),
    ("Time auto", "'Time' at column 1 is refused: it is a vernacular command word"),
    ("Timeout 1 auto", "'Timeout'"),
    ("Fail auto", "'Fail'"),
    ("Ltac foo := idtac", "'Ltac'"),
    ("Require Import Arith", "'Require'"),
    ('Declare ML Module "x"', "'Declare'"),
    ('Redirect "f" auto', "'Redirect'"),
    ('Extraction "f" x', "'Extraction'"),
    ('Cd "/"', "'Cd'"),
    ('Add LoadPath "."', "'Add'"),
    ("Drop", "'Drop'"),
    ("apply Top.Drop", "'Drop' at column 7"),
    ("rewrite ?admit", "'admit'"),
    ("exact @Axiom", "'Axiom'"),
    ("auto)", "unmatched ')' at column 5"),
    ("(auto", "'(' at column 1 is never closed"),
    ("( ]", "']' at column 3 does not close '(' at column 1"),
    ("auto; [idtac", "'[' at column 7 is never closed"),
    ("exact (f [x)]", "')' at column 12 does not close '['"),
    ("frobnicate", "unknown tactic 'frobnicate' at column 1"),
    ("auto; frobnicate", "unknown tactic 'frobnicate' at column 7"),
    ("intuition frobnicate", "unknown tactic 'frobnicate'"),
    ("assert (H : P) by frobnicate", "unknown tactic 'frobnicate'"),
    ("autorewrite with core using frobnicate", "unknown tactic 'frobnicate'"),
    ("abstract frobnicate", "unknown tactic 'frobnicate'"),
    ("simple", "unknown tactic 'simple'"),
    ("match goal with _ => idtac end", "unknown tactic 'match'"),
    ("", "empty"),
    ("   \n\t ", "empty"),
    ("auto" + " " * MAX_TACTIC_CHARS, f"over {MAX_TACTIC_CHARS}"),
    ("auto | idtac", "unexpected '|' at column 6"),
    ("split; [||auto]", "expected a tactic, found '||' at column 9"),
    ("try", "expected a tactic, found at the end of the text"),
    ("auto;", "expected a tactic, found at the end of the text"),
    ("do auto", "expected a count after 'do', found 'auto'"),
    ("first auto", "expected '[' after 'first', found 'auto'"),
    ("- auto", "expected a tactic, found '-'"),
    ("{ auto }", "expected a tactic, found '{'"),
    ("exact match x with O => I", "'match' at column 7 has no 'end'"),
    ("(" * (MAX_NESTING + 1) + "auto" + ")" * (MAX_NESTING + 1), "nests more than"),
]


@pytest.mark.parametrize(("text", "fragment"), REJECTED)
def test_rejects_with_a_message_naming_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(TacticRejected) as caught:
        parse_tactic(text)
    assert fragment in str(caught.value)


def test_rejection_is_a_value_error() -> None:
    assert issubclass(TacticRejected, ValueError)


def test_long_but_shallow_texts_stay_within_bounds() -> None:
    assert parse_tactic("try " * 400 + "auto")
    assert parse_tactic("exact " + "(" * 900 + "I" + ")" * 900)
    assert parse_tactic("(" * (MAX_NESTING - 1) + "auto" + ")" * (MAX_NESTING - 1))
    with pytest.raises(TacticRejected, match="nests more than"):
        parse_tactic("assert (H : P) by " * 100 + "auto")
    with pytest.raises(TacticRejected, match="nests more than"):
        parse_tactic("intuition " * 100)


def test_word_tables_are_consistent() -> None:
    words = {word for name in ALLOWED_TACTICS for word in name.split()}
    assert not words & FORBIDDEN_WORDS
    assert not ALLOWED_TACTICS & COMBINATORS
    assert all(len(name.split()) <= 2 for name in ALLOWED_TACTICS)
    assert {"Set", "Type", "Prop"}.isdisjoint(FORBIDDEN_WORDS)
    assert "omega" not in ALLOWED_TACTICS  # removed in Coq 8.14


@pytest.mark.parametrize(
    ("tactic", "goal_index", "timeout", "sentence"),
    [
        ("auto", 2, 1.2, "2: timeout 2 (auto)."),
        ("auto", 1, 3, "1: timeout 3 (auto)."),
        ("auto", 1, 3.0, "1: timeout 3 (auto)."),
        ("auto", 1, 0.001, "1: timeout 1 (auto)."),
        ("simpl in *", 1, 1, "1: timeout 1 (simpl in *)."),
        (" intros;\n lia ", 7, 10.5, "7: timeout 11 (intros; lia)."),
    ],
)
def test_render_sentence(tactic: str, goal_index: int, timeout: float, sentence: str) -> None:
    assert render_sentence(tactic, goal_index, timeout) == sentence


@pytest.mark.parametrize(
    ("goal_index", "timeout"),
    [(0, 1.0), (-1, 1.0), (True, 1.0), (1.5, 1.0), (1, 0.0), (1, -2.0), (1, math.nan),
     (1, math.inf)],
)  # fmt: skip
def test_render_sentence_refuses_bad_arguments(goal_index: int, timeout: float) -> None:
    with pytest.raises(ValueError) as caught:
        render_sentence("auto", goal_index, timeout)
    assert not isinstance(caught.value, TacticRejected)


@pytest.mark.parametrize("tactic", ["auto. Drop", "admit", "1: auto", ""])
def test_render_sentence_checks_the_tactic(tactic: str) -> None:
    with pytest.raises(TacticRejected):
        render_sentence(tactic, 1, 1.0)


_PIECES = [
    "auto", "idtac", "intros", "simpl", "x", "H", "Nat.add_comm", "x.(fst)", "try", "repeat",
    "do 2", "first", "by", "in", "*", "(", ")", "[", "]", "|", "||", ";", ":", "->", "_", "?", "@",
    "%", "1", " ", " ", "\n", ".", ". ", "...", '"', "(*", "*)", "admit", "Drop", "Load", "ltac",
    ":(", "Qed", "match", "end",
]  # fmt: skip
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_']*")


def _random_text(rng: random.Random) -> str:
    """A real tactic with random pieces inserted anywhere, or a soup of pieces."""
    if rng.random() < 0.3:
        return "".join(
            rng.choice(["", " "]) + rng.choice(_PIECES) for _ in range(rng.randint(1, 6))
        )
    text = rng.choice(ACCEPTED)
    for _ in range(rng.randint(0, 3)):
        i = rng.randint(0, len(text))
        text = text[:i] + rng.choice(_PIECES) + text[i:]
    return text


def test_accepted_random_texts_are_one_clean_sentence() -> None:
    rng = random.Random(0)
    accepted = rejected = 0
    for _ in range(1500):
        try:
            normal = parse_tactic(_random_text(rng))
        except TacticRejected:
            rejected += 1
            continue
        accepted += 1
        assert normal == " ".join(normal.split())
        assert not re.search(r"\.(\s|$)", normal), normal
        assert '"' not in normal and "(*" not in normal and "`" not in normal, normal
        for dot in re.finditer(r"\.", normal):
            before, after = normal[dot.start() - 1], normal[dot.end() : dot.end() + 1]
            assert re.match(r"[\w']", before) and re.match(r"[A-Za-z_(]", after), normal
        assert not set(_IDENT.findall(normal)) & FORBIDDEN_WORDS, normal
        sentence = render_sentence(normal, 1, 1.0)
        assert [m.start() for m in re.finditer(r"\.(\s|$)", sentence)] == [len(sentence) - 1]
    assert accepted >= 300 and rejected >= 300  # the property is not vacuous either way

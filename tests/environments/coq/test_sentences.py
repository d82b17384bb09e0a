"""The Coq sentence splitter and classifier, on snippets and on the whole standard library."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from environments.coq.sentences import (
    Sentence,
    declared_names,
    kind,
    proof_end,
    scope_change,
    split_sentences,
    statement,
    theorem_name,
)

THEORIES = Path("/usr/lib/ocaml/coq/theories")
PROVED_DIRS = ("Arith", "Bool", "Lists")
THEOREM_LINE = re.compile(r"^\s*(Theorem|Lemma|Corollary|Proposition|Fact|Remark)\s", re.M)
NOT_DOTTED = re.compile(r"(-+|\++|\*+|\{|\}|(\d+|\[\s*[\w']+\s*\])\s*:\s*\{)")


def texts(source: str) -> list[str]:
    return [s.text for s in split_sentences(source)]


def one(text: str) -> Sentence:
    (sentence,) = split_sentences(text)
    return sentence


# Splitting.


def test_nested_comments_with_dots_and_quoted_closers_are_blanked() -> None:
    source = 'Check (* a. (* b. *) "*)" c. *) 1.\n(* "x. y" *) Check 2.'
    assert texts(source) == ["Check   1.", "Check 2."]


def test_strings_hide_dots_and_escape_quotes_by_doubling() -> None:
    source = 'Definition s := "a. b"" (* c. ".\nDefinition t := "".'
    assert texts(source) == ['Definition s := "a. b"" (* c. ".', 'Definition t := "".']


def test_recursive_notation_dots_do_not_end_a_sentence() -> None:
    source = 'Notation "[ x ; .. ; y ]" := (cons x .. (cons y nil) ..).\nCheck 1.'
    assert texts(source) == [
        'Notation "[ x ; .. ; y ]" := (cons x .. (cons y nil) ..).',
        "Check 1.",
    ]


def test_ellipsis_ends_a_sentence() -> None:
    assert texts("Proof with auto.\n  split; auto...\n  auto... Qed.") == [
        "Proof with auto.",
        "split; auto...",
        "auto...",
        "Qed.",
    ]


def test_dots_followed_by_non_blanks_do_not_end_a_sentence() -> None:
    source = "rewrite Nat.add_comm.\nexact x.(fst).\nCheck 1.5.\nCheck (1 + 1)%nat."
    assert texts(source) == [
        "rewrite Nat.add_comm.",
        "exact x.(fst).",
        "Check 1.5.",
        "Check (1 + 1)%nat.",
    ]


def test_bullets_braces_and_selectors_are_sentences_of_their_own() -> None:
    source = (
        "split.\n- left.\n  -- auto.\n  ++ auto.\n+ auto.\n* auto.\n** auto.\n"
        "{ auto. }\n2: { auto. }\n[x]:{ auto. }\n-exact I."
    )
    assert texts(source) == [
        "split.",
        "-",
        "left.",
        "--",
        "auto.",
        "++",
        "auto.",
        "+",
        "auto.",
        "*",
        "auto.",
        "**",
        "auto.",
        "{",
        "auto.",
        "}",
        "2: {",
        "auto.",
        "}",
        "[x]:{",
        "auto.",
        "}",
        "-",
        "exact I.",
    ]
    assert {kind(s) for s in split_sentences(source) if not s.text.endswith(".")} == {"bullet"}


def test_bullet_characters_inside_a_sentence_are_not_bullets() -> None:
    assert texts("rewrite <- foo,\n  - bar.\nexact (x * y).") == [
        "rewrite <- foo,\n  - bar.",
        "exact (x * y).",
    ]


def test_goal_selector_without_a_brace_is_an_ordinary_sentence() -> None:
    assert texts("2: auto.\nall: eauto.") == ["2: auto.", "all: eauto."]


def test_line_and_offset_locate_the_first_character_after_comments() -> None:
    source = "(* header\n   *)\n\nLemma foo :\n  True.\n  Proof. Qed."
    sentences = split_sentences(source)
    assert [(s.line, s.offset) for s in sentences] == [
        (4, source.index("Lemma")),
        (6, source.index("Proof")),
        (6, source.index("Qed")),
    ]
    assert sentences[0].text == "Lemma foo :\n  True."


def test_blank_and_comment_only_sources_have_no_sentences() -> None:
    assert split_sentences("") == []
    assert split_sentences("  (* only (* a *) comment *)\n\t") == []


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("Check 1.\n\n(* open (* nested *)\nCheck 2.", "line 3: unterminated comment"),
        ('Check 1.\nCheck "open.\n', "line 2: unterminated string"),
        ('Check 1.\n(* "*) *)\n', "line 2: unterminated string"),
        ("Check 1.\n\n  Check 2", "line 3: text without a terminating '.'"),
        ("Check 1.\nCheck x..", "line 2: text without a terminating '.'"),
        ("Check 1.\nCheck x.(* c *)", "line 2: text without a terminating '.'"),
    ],
)
def test_unterminated_input_names_its_line(source: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        split_sentences(source)


# Classification.


def test_lemmas_and_theorems() -> None:
    lemma = one("Lemma foo : True.")
    assert (kind(lemma), theorem_name(lemma), statement(lemma)) == ("theorem", "foo", ": True")
    theorem = one("Theorem bar (n:nat) :\n  n   = n.")
    assert (theorem_name(theorem), statement(theorem)) == ("bar", "(n:nat) : n = n")
    assert declared_names(theorem) == ["bar"]
    assert statement(one("Lemma foo (n : nat) : n + 0 = n.")) == "(n : nat) : n + 0 = n"


@pytest.mark.parametrize(
    "text",
    [
        "Corollary c: True.",
        "Proposition c : True.",
        "Fact c : True.",
        "Remark c : True.",
        "Property c : True.",
        "Example c : True.",
        "Local Lemma c : True.",
        "#[global] Program Lemma c : True.",
        '#[deprecated(since="8.16", note="Use [d] instead.")]\nLemma c : True.',
    ],
)
def test_every_theorem_keyword_and_modifier(text: str) -> None:
    assert (kind(one(text)), theorem_name(one(text))) == ("theorem", "c")


def test_definitions_and_examples_with_bodies_are_not_theorems() -> None:
    for text in ["Example e : 1 = 1 := eq_refl.", "Definition d : nat.", "Fail Lemma l : True."]:
        sentence = one(text)
        assert (kind(sentence), theorem_name(sentence)) == ("other", None)
        with pytest.raises(ValueError, match="not a theorem sentence"):
            statement(sentence)
    assert declared_names(one("Example e : 1 = 1 := eq_refl.")) == ["e"]


def test_mutual_theorems_declare_every_name() -> None:
    sentence = one("Lemma a n : match n with 0 => True | _ => True end with b : True.")
    assert theorem_name(sentence) == "a"
    assert declared_names(sentence) == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "expected_kind", "ending"),
    [
        ("Proof.", "proof_start", None),
        ("Proof with auto.", "proof_start", None),
        ("Proof using H.", "proof_start", None),
        ("Proof (fun x => x).", "proof_end", "Proof"),
        ("Qed.", "proof_end", "Qed"),
        ("Defined.", "proof_end", "Defined"),
        ("Admitted.", "proof_end", "Admitted"),
        ("Abort All.", "proof_end", "Abort"),
        ("Save foo.", "proof_end", "Save"),
        ('Proof Mode "Classic".', "other", None),
        ("intros.", "other", None),
    ],
)
def test_proof_boundaries(text: str, expected_kind: str, ending: str | None) -> None:
    assert (kind(one(text)), proof_end(one(text))) == (expected_kind, ending)


@pytest.mark.parametrize(
    ("text", "change"),
    [
        ("Module M.", ("module", "M")),
        ("Module M (X : T) <: S.", ("module", "M")),
        ("Module Import M.", ("module", "M")),
        ("Module Type T.", ("module", "T")),
        ("Module Make (X : OrderedType) <: S with Module E := X.", ("module", "Make")),
        ("Module M : S with Definition t := nat.", ("module", "M")),
        ("Module M := N.", None),
        ("Module M (X : T) := F X.", None),
        ("Module M : S with Definition t := nat := N.", None),
        ("Declare Module M : T.", None),
        ("Section S.", ("section", "S")),
        ("End S.", ("end", "S")),
        ("Check End.", None),
    ],
)
def test_scope_changes(text: str, change: tuple[str, str] | None) -> None:
    assert scope_change(one(text)) == change
    expected = "other" if change is None else "scope_close" if change[0] == "end" else "scope_open"
    assert kind(one(text)) == expected


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Definition d := 1.", ["d"]),
        ("Local Definition d (n : nat) : nat := n.", ["d"]),
        ("#[global] Instance i : Proper (eq ==> eq) f.", ["i"]),
        ("#[global] Instance : Proper (eq ==> eq) f.", []),
        ("Declare Instance i : C.", ["i"]),
        (
            "Fixpoint f n := match n with 0 => 0 | S m => g m end\n"
            "with g n := match n with 0 => 1 | S m => f m end.",
            ["f", "g"],
        ),
        ("CoFixpoint s := Cons 0 s.", ["s"]),
        ("Let Fixpoint f n := n.", ["f"]),
        ("Let x := 1.", ["x"]),
        ("Inductive t := A | B : t -> t.", ["t", "A", "B"]),
        (
            "Inductive even : nat -> Prop := | ev0 : even 0 | evS n : odd n -> even (S n)\n"
            "with odd : nat -> Prop := odS n : even n -> odd (S n).",
            ["even", "ev0", "evS", "odd", "odS"],
        ),
        (
            "Inductive le (n : nat) : nat -> Prop := le_n : n <= n | le_S m : n <= m -> n <= S m\n"
            'where "n <= m" := (le n m) : nat_scope.',
            ["le", "le_n", "le_S"],
        ),
        ("Variant v := C {A : Type} (x : A) : v.", ["v", "C"]),
        ("Record r := mk { x : nat; #[canonical=no] y :> nat; }.", ["r", "mk", "x", "y"]),
        ("Structure s : Type := { f : {x | x = 1} ; g : nat }.", ["s", "f", "g"]),
        ("Class C (A : Type) := op : A -> A.", ["C", "op"]),
        ("Axiom ax : False.", ["ax"]),
        ("Parameter Inline(10) t : Type.", ["t"]),
        ("Hypothesis H : P.", ["H"]),
        ("Variables A B : Type.", ["A", "B"]),
        ("Variables (A : Type) (x y : A) {B} `{C A} `{c : C B}.", ["A", "x", "y", "B", "c"]),
        ("Context {A : Type} `{Equivalence A eq}.", ["A"]),
        ("Conjecture c : False.", ["c"]),
        ('Notation "x + y" := (plus x y).', []),
        ("Module M.", []),
    ],
)
def test_declared_names(text: str, names: list[str]) -> None:
    assert declared_names(one(text)) == names


def test_bullets_declare_and_state_nothing() -> None:
    bullet = one("-")
    assert (kind(bullet), theorem_name(bullet), proof_end(bullet)) == ("bullet", None, None)
    assert (scope_change(bullet), declared_names(bullet)) == (None, [])


# The standard library.


@pytest.fixture(scope="module")
def library() -> dict[Path, tuple[str, list[Sentence]]]:
    if not THEORIES.is_dir():
        pytest.skip(f"no Coq standard library at {THEORIES}")
    files = sorted(THEORIES.rglob("*.v"))
    assert len(files) > 500
    out = {}
    for path in files:
        source = path.read_text(encoding="utf-8")
        out[path] = (source, split_sentences(source))
    return out


def test_library_sentences_end_with_dots_unless_bullets_or_braces(
    library: dict[Path, tuple[str, list[Sentence]]],
) -> None:
    for path, (_, sentences) in library.items():
        for s in sentences:
            assert s.text.endswith(".") or NOT_DOTTED.fullmatch(s.text), (path, s)


def test_library_splitting_is_stable(library: dict[Path, tuple[str, list[Sentence]]]) -> None:
    for path, (_, sentences) in library.items():
        again = [s.text for s in sentences]
        assert texts("\n".join(again)) == again, path


@pytest.mark.parametrize("directory", PROVED_DIRS)
def test_library_theorems_match_a_line_grep_and_all_get_proofs(
    library: dict[Path, tuple[str, list[Sentence]]], directory: str
) -> None:
    theorems = grepped = 0
    for path, (source, sentences) in library.items():
        if path.parent.name != directory:
            continue
        grepped += len(THEOREM_LINE.findall(source))
        open_theorem: Sentence | None = None
        for s in sentences:
            what = kind(s)
            if what == "theorem":
                assert open_theorem is None, (path, open_theorem)
                open_theorem = s
                theorems += 1
                assert theorem_name(s) in declared_names(s)
                assert statement(s)
            elif what == "proof_end":
                open_theorem = None
        assert open_theorem is None, (path, open_theorem)
    # The grep also counts lemmas in commented-out code (3 in Lists) and misses `Local Lemma`.
    assert grepped > 100
    assert abs(theorems - grepped) <= 5, (theorems, grepped)


def test_library_scopes_nest(library: dict[Path, tuple[str, list[Sentence]]]) -> None:
    for path, (_, sentences) in library.items():
        open_scopes: list[str] = []
        for s in sentences:
            change = scope_change(s)
            if change is None:
                continue
            if change[0] == "end":
                assert open_scopes and open_scopes.pop() == change[1], (path, s)
            else:
                open_scopes.append(change[1])
        assert not open_scopes, path

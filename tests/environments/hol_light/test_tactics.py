"""The tactic language: what parses, how it renders for itp.ml, and everything refused."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from environments.hol_light.tactics import (
    CONV_TRANSFORMERS,
    CONVERSIONS,
    HOLIST_TACTIC_IDS,
    MAX_INPUT_CHARS,
    MAX_NESTING,
    MAX_TACTICS,
    MAX_TERM_CHARS,
    OMITTED_HOLIST_TACTICS,
    TACTIC_SIGNATURES,
    Arg,
    ArgKind,
    ConvArg,
    ConvTransformerArg,
    OrElse,
    StringArg,
    Tactic,
    TacticExpr,
    TacticRejected,
    TermArg,
    Then,
    ThmArg,
    ThmListArg,
    format_tactic,
    parse_tactic,
    quote_sexp_string,
    render_request,
)

ITP_ML = Path(__file__).parents[3] / "environments" / "hol_light" / "itp.ml"

ARITH = Tactic("ARITH_TAC", ())
REFL = Tactic("REFL_TAC", ())
CONJ = Tactic("CONJ_TAC", ())


# ---------------------------------------------------------------------------------------------
# Accepted forms.
# ---------------------------------------------------------------------------------------------

ACCEPTED: list[tuple[str, TacticExpr, str]] = [
    ("ARITH_TAC", ARITH, "(tac ARITH_TAC)"),
    (
        "REWRITE_TAC[ADD_CLAUSES; MULT_CLAUSES]",
        Tactic("REWRITE_TAC", (ThmListArg(("ADD_CLAUSES", "MULT_CLAUSES")),)),
        "(tac REWRITE_TAC (thms ADD_CLAUSES MULT_CLAUSES))",
    ),
    (
        "ASM_REWRITE_TAC []",
        Tactic("ASM_REWRITE_TAC", (ThmListArg(()),)),
        "(tac ASM_REWRITE_TAC (thms))",
    ),
    ("MP_TAC TRUTH", Tactic("MP_TAC", (ThmArg("TRUTH"),)), "(tac MP_TAC (thm TRUTH))"),
    ("MP_TAC (LE_REFL)", Tactic("MP_TAC", (ThmArg("LE_REFL"),)), "(tac MP_TAC (thm LE_REFL))"),
    ("MATCH_MP_TAC th'", Tactic("MATCH_MP_TAC", (ThmArg("th'"),)), "(tac MATCH_MP_TAC (thm th'))"),
    (
        "EXISTS_TAC `n + 1`",
        Tactic("EXISTS_TAC", (TermArg("n + 1"),)),
        '(tac EXISTS_TAC (term "n + 1"))',
    ),
    (
        "X_CHOOSE_TAC `m:num` th",
        Tactic("X_CHOOSE_TAC", (TermArg("m:num"), ThmArg("th"))),
        '(tac X_CHOOSE_TAC (term "m:num") (thm th))',
    ),
    (
        "SPEC_TAC (`x:num`, `y:num`)",
        Tactic("SPEC_TAC", (TermArg("x:num"), TermArg("y:num"))),
        '(tac SPEC_TAC (term "x:num") (term "y:num"))',
    ),
    (
        "TRANS_TAC LE_TRANS `m:num`",
        Tactic("TRANS_TAC", (ThmArg("LE_TRANS"), TermArg("m:num"))),
        '(tac TRANS_TAC (thm LE_TRANS) (term "m:num"))',
    ),
    (
        'LABEL_TAC "my label_1" TRUTH',
        Tactic("LABEL_TAC", (StringArg("my label_1"), ThmArg("TRUTH"))),
        '(tac LABEL_TAC (str "my label_1") (thm TRUTH))',
    ),
    (
        "CONV_TAC NUM_REDUCE_CONV",
        Tactic("CONV_TAC", (ConvArg("NUM_REDUCE_CONV"),)),
        "(tac CONV_TAC (conv NUM_REDUCE_CONV))",
    ),
    (
        "GEN_REWRITE_TAC LAND_CONV [ADD_SYM]",
        Tactic("GEN_REWRITE_TAC", (ConvTransformerArg("LAND_CONV"), ThmListArg(("ADD_SYM",)))),
        "(tac GEN_REWRITE_TAC (convx LAND_CONV) (thms ADD_SYM))",
    ),
    (
        "GEN_REWRITE_TAC I [ADD_SYM]",
        Tactic("GEN_REWRITE_TAC", (ConvTransformerArg("I"), ThmListArg(("ADD_SYM",)))),
        "(tac GEN_REWRITE_TAC (convx I) (thms ADD_SYM))",
    ),
    ("ARITH_TAC THEN REFL_TAC", Then(ARITH, REFL), "(then (tac ARITH_TAC) (tac REFL_TAC))"),
    ("ARITH_TAC ORELSE REFL_TAC", OrElse(ARITH, REFL), "(orelse (tac ARITH_TAC) (tac REFL_TAC))"),
    ("((ARITH_TAC))", ARITH, "(tac ARITH_TAC)"),
    (
        "CONJ_TAC THEN (ARITH_TAC ORELSE REFL_TAC)",
        Then(CONJ, OrElse(ARITH, REFL)),
        "(then (tac CONJ_TAC) (orelse (tac ARITH_TAC) (tac REFL_TAC)))",
    ),
]


@pytest.mark.parametrize(("text", "expr", "request_"), ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_accepted_forms_parse_and_render(text: str, expr: TacticExpr, request_: str) -> None:
    assert parse_tactic(text) == expr
    assert render_request(expr) == request_
    assert parse_tactic(format_tactic(expr)) == expr


def test_whitespace_is_free_outside_terms() -> None:
    text = "\n\tREWRITE_TAC\n[ ADD_CLAUSES ;\tMULT_CLAUSES ]  THEN\r\nSPEC_TAC(`a`,`b`) "
    expected = Then(
        Tactic("REWRITE_TAC", (ThmListArg(("ADD_CLAUSES", "MULT_CLAUSES")),)),
        Tactic("SPEC_TAC", (TermArg("a"), TermArg("b"))),
    )
    assert parse_tactic(text) == expected
    assert parse_tactic("REWRITE_TAC[ADD_CLAUSES]") == parse_tactic("REWRITE_TAC [ ADD_CLAUSES ]")


def test_term_text_is_kept_verbatim() -> None:
    text = r"!x y. x ==> (y /\ ~x) \/ (\z. z = x) (SUC 0)"
    expr = parse_tactic(f"RAW_SUBGOAL_TAC `  {text}  `")
    assert expr == Tactic("RAW_SUBGOAL_TAC", (TermArg(f"  {text}  "),))


def test_term_with_quotes_and_backslashes_is_quoted_in_the_request() -> None:
    expr = parse_tactic(r'EXISTS_TAC `\x. x /\ "a" = s`')
    assert expr == Tactic("EXISTS_TAC", (TermArg(r'\x. x /\ "a" = s'),))
    assert render_request(expr) == r'(tac EXISTS_TAC (term "\\x. x /\\ \"a\" = s"))'
    assert _read_sexp_string(quote_sexp_string(r'\x. x /\ "a" = s')) == r'\x. x /\ "a" = s'


def test_then_and_orelse_are_left_associative_with_equal_precedence() -> None:
    assert parse_tactic("ARITH_TAC THEN REFL_TAC THEN CONJ_TAC") == Then(Then(ARITH, REFL), CONJ)
    assert parse_tactic("ARITH_TAC THEN REFL_TAC ORELSE CONJ_TAC") == OrElse(
        Then(ARITH, REFL), CONJ
    )
    assert parse_tactic("ARITH_TAC ORELSE REFL_TAC THEN CONJ_TAC") == Then(
        OrElse(ARITH, REFL), CONJ
    )
    assert parse_tactic("ARITH_TAC THEN (REFL_TAC ORELSE CONJ_TAC)") == Then(
        ARITH, OrElse(REFL, CONJ)
    )
    assert parse_tactic("(ARITH_TAC THEN REFL_TAC) THEN CONJ_TAC") == Then(Then(ARITH, REFL), CONJ)


def test_format_uses_parentheses_only_where_needed() -> None:
    assert format_tactic(Then(Then(ARITH, REFL), CONJ)) == "ARITH_TAC THEN REFL_TAC THEN CONJ_TAC"
    assert format_tactic(Then(ARITH, Then(REFL, CONJ))) == "ARITH_TAC THEN (REFL_TAC THEN CONJ_TAC)"
    assert format_tactic(OrElse(Then(ARITH, REFL), CONJ)) == (
        "ARITH_TAC THEN REFL_TAC ORELSE CONJ_TAC"
    )
    assert format_tactic(Tactic("SPEC_TAC", (TermArg("a"), TermArg("b")))) == "SPEC_TAC (`a`, `b`)"
    assert format_tactic(Tactic("REWRITE_TAC", (ThmListArg(("A", "B")),))) == "REWRITE_TAC [A; B]"


# ---------------------------------------------------------------------------------------------
# Round trip over generated expressions.
# ---------------------------------------------------------------------------------------------

_NAMES = ["ADD_CLAUSES", "LE_REFL", "th", "th'", "num_INDUCTION", "_x1", "REAL_LE_TRANS"]
_TERMS = ["x", "n + 1", r"\x. x", r"!x. P x ==> Q x", 'f "s"', "  a  ", "x:num", "(a, b)"]


def _random_arg(rng: random.Random, kind: ArgKind) -> Arg:
    if kind is ArgKind.THEOREM:
        return ThmArg(rng.choice(_NAMES))
    if kind is ArgKind.THEOREM_LIST:
        return ThmListArg(tuple(rng.choice(_NAMES) for _ in range(rng.randrange(4))))
    if kind is ArgKind.TERM:
        return TermArg(rng.choice(_TERMS))
    if kind is ArgKind.CONV:
        return ConvArg(rng.choice(sorted(CONVERSIONS)))
    if kind is ArgKind.CONV_TRANSFORMER:
        return ConvTransformerArg(rng.choice(sorted(CONV_TRANSFORMERS)))
    return StringArg(rng.choice(["", "h", "my label", "x_1 2"]))


def _random_expr(rng: random.Random, depth: int) -> TacticExpr:
    if depth == 0 or rng.random() < 0.4:
        name = rng.choice(sorted(TACTIC_SIGNATURES))
        return Tactic(name, tuple(_random_arg(rng, k) for k in TACTIC_SIGNATURES[name]))
    first, second = _random_expr(rng, depth - 1), _random_expr(rng, depth - 1)
    return Then(first, second) if rng.random() < 0.5 else OrElse(first, second)


def test_format_round_trip_on_generated_expressions() -> None:
    rng = random.Random(0)
    seen: set[str] = set()
    for _ in range(2000):
        expr = _random_expr(rng, depth=4)
        text = format_tactic(expr)
        assert parse_tactic(text) == expr, text
        assert format_tactic(parse_tactic(text)) == text
        assert render_request(parse_tactic(text)) == render_request(expr)
        seen.update(t.name for t in _tactics(expr))
    assert seen == set(TACTIC_SIGNATURES)


def test_mutated_text_is_either_rejected_or_well_formed() -> None:
    """Random edits of valid tactics never crash the parser nor yield an unrenderable expr."""
    rng = random.Random(0)
    noise = list("`\"'()[];,.*{|}\\ \n\t^-x1") + ["THEN", ";;", "(*", "\u00e9", "\x00"]
    accepted = 0
    for _ in range(3000):
        text = format_tactic(_random_expr(rng, depth=2))
        for _ in range(rng.randrange(1, 4)):
            i = rng.randrange(len(text) + 1)
            if rng.random() < 0.5:
                text = text[:i] + rng.choice(noise) + text[i:]
            else:
                text = text[:i] + text[i + 1 :]
        try:
            expr = parse_tactic(text)
        except TacticRejected as e:
            assert str(e)
            continue
        accepted += 1
        assert parse_tactic(format_tactic(expr)) == expr
        render_request(expr)
    assert 0 < accepted < 3000


def _tactics(expr: TacticExpr) -> list[Tactic]:
    if isinstance(expr, Tactic):
        return [expr]
    return _tactics(expr.first) + _tactics(expr.second)


# ---------------------------------------------------------------------------------------------
# Rejections.
# ---------------------------------------------------------------------------------------------

REJECTED: list[tuple[str, str]] = [
    # Unknown names and wrong arguments.
    ("FOO_TAC", "unknown tactic 'FOO_TAC'"),
    ("NUM_REDUCE_CONV", "unknown tactic 'NUM_REDUCE_CONV'"),
    ("REWRITE_TAC", "expected a theorem list after REWRITE_TAC"),
    ("REWRITE_TAC ADD_CLAUSES", "expected a theorem list after REWRITE_TAC"),
    ("MP_TAC", "expected a theorem after MP_TAC"),
    ("MP_TAC [TRUTH]", "expected a theorem after MP_TAC"),
    ("MP_TAC TRUTH TRUTH", "MP_TAC takes 1 argument"),
    ("ARITH_TAC TRUTH", "ARITH_TAC takes no arguments"),
    ("ARITH_TAC [ADD_CLAUSES]", "ARITH_TAC takes no arguments"),
    ("EXISTS_TAC x", "expected a term in backquotes after EXISTS_TAC"),
    ("EXISTS_TAC `x` `y`", "EXISTS_TAC takes 1 argument"),
    ("X_CHOOSE_TAC `x`", "expected a theorem after X_CHOOSE_TAC"),
    ("TRANS_TAC `x` LE_TRANS", "expected a theorem after TRANS_TAC"),
    ("LABEL_TAC TRUTH", 'expected a "string" after LABEL_TAC'),
    ("CONV_TAC FOO_CONV", "unknown conversion 'FOO_CONV'"),
    ("CONV_TAC (NUM_REDUCE_CONV)", "expected a conversion after CONV_TAC"),
    ("GEN_REWRITE_TAC BETA_CONV [A]", "unknown conversion transformer 'BETA_CONV'"),
    ("GEN_REWRITE_TAC I", "expected a theorem list after GEN_REWRITE_TAC"),
    ("SPEC_TAC `a` `b`", "expected '(' after SPEC_TAC"),
    ("SPEC_TAC (`a` `b`)", "expected ',' in SPEC_TAC's pair"),
    ("SPEC_TAC (`a`, `b`, `c`)", "expected ')' to close SPEC_TAC's pair"),
    ("SPEC_TAC (`a`, `b`", "unbalanced parenthesis"),
    ("REWRITE_TAC [A;]", "expected a theorem name in the theorem list"),
    ("REWRITE_TAC [A B]", "expected ';' or ']'"),
    ("REWRITE_TAC [A] THENL [B]", "'THENL'"),
    ("", "empty tactic"),
    (" \n\t", "empty tactic"),
    ("THEN ARITH_TAC", "expected a tactic before THEN"),
    ("ARITH_TAC THEN", "expected a tactic"),
    ("ARITH_TAC ORELSE ORELSE REFL_TAC", "expected a tactic before ORELSE"),
    ("()", "expected a tactic"),
    ("REWRITE_TAC [THEN]", "'THEN' is a tactical, not a theorem name"),
    # Unbalanced brackets and quotes.
    ("(ARITH_TAC", "unbalanced parenthesis: the '(' at offset 0 is never closed"),
    ("ARITH_TAC)", "unbalanced parenthesis: unexpected ')'"),
    ("REWRITE_TAC[ADD_CLAUSES", "unbalanced bracket: the '[' at offset 11 is never closed"),
    ("REWRITE_TAC[ADD_CLAUSES;", "unbalanced bracket"),
    ("REWRITE_TAC[", "unbalanced bracket"),
    ("MP_TAC (TRUTH", "unbalanced parenthesis"),
    ("EXISTS_TAC `x + 1", "unterminated term: the backquote at offset 11 is never closed"),
    ("EXISTS_TAC `x` THEN EXISTS_TAC `y", "unterminated term"),
    ('LABEL_TAC "abc TRUTH', "unterminated string"),
    # OCaml injection.
    ('ARITH_TAC;; Sys.command "rm -rf /"', "unexpected ';;'"),
    ("REWRITE_TAC[ADD_CLAUSES];; let x = 1", "unexpected ';;'"),
    ("ARITH_TAC (* comment *)", "unexpected '(*'"),
    ('REWRITE_TAC["\\\\" ^ Sys.command "ls"]', "invalid character '\\\\'"),
    ('REWRITE_TAC["ls"]', 'got string "ls"'),
    ('EXISTS_TAC `x`;; Sys.command "ls"', "unexpected ';;'"),
    ('REWRITE_TAC[(Sys.command "ls")]', "expected a theorem name in the theorem list"),
    ("REWRITE_TAC[Sys.command]", "unexpected character '.'"),
    ("MP_TAC (fun x -> x)", "'fun' is an OCaml keyword"),
    ("MP_TAC fun", "'fun' is an OCaml keyword"),
    ("let x = ARITH_TAC in x", "unknown tactic 'let'"),
    ('LABEL_TAC "a\\" ^ b" TRUTH', "invalid character '\\\\'"),
    ('LABEL_TAC "a;b" TRUTH', "invalid character ';'"),
    ('MP_TAC "TRUTH"', 'got string "TRUTH"'),
    ("ARITH_TAC {|x|}", "unexpected '{|'"),
    ("MP_TAC \\x", "unexpected character '\\'"),
    ("MP_TAC TRUTH; ARITH_TAC", "unexpected ';'"),
    ("ARITH_TAC ORELSE failwith 1", "unknown tactic 'failwith'"),
    ("MP_TAC 1", "unexpected character '1'"),
    ("MP_TAC (TRUTH, TRUTH)", "expected ')' after theorem name 'TRUTH'"),
    ("ARITH_TAC | REFL_TAC", "unexpected character '|'"),
    ("ARITH_TAC\x00", "unexpected character U+0000"),
    ("ARITH_TAC\u00a0", "unexpected character U+00A0"),
    # Bad terms.
    ("EXISTS_TAC ``", "empty term"),
    ("EXISTS_TAC `   `", "empty term"),
    ("EXISTS_TAC `\u2200x. x`", "non-ASCII character U+2200"),
    ("EXISTS_TAC `x\ny`", "control character U+000A"),
    ("EXISTS_TAC `x\ty`", "control character U+0009"),
    ("EXISTS_TAC `x\x7f`", "non-ASCII character U+007F"),
    ("EXISTS_TAC `" + "x" * (MAX_TERM_CHARS + 1) + "`", f"longer than {MAX_TERM_CHARS}"),
    # Limits.
    ("x" * (MAX_INPUT_CHARS + 1), f"longer than {MAX_INPUT_CHARS} characters"),
    ("(" * (MAX_NESTING + 1) + "ARITH_TAC" + ")" * (MAX_NESTING + 1), "nested deeper"),
    (" THEN ".join(["ARITH_TAC"] * (MAX_TACTICS + 1)), f"more than {MAX_TACTICS} tactics"),
]


@pytest.mark.parametrize(("text", "reason"), REJECTED, ids=[r[0][:50] for r in REJECTED])
def test_rejected(text: str, reason: str) -> None:
    with pytest.raises(TacticRejected) as info:
        parse_tactic(text)
    assert reason in str(info.value)


def test_limits_are_inclusive() -> None:
    parse_tactic("EXISTS_TAC `" + "x" * MAX_TERM_CHARS + "`")
    parse_tactic("(" * MAX_NESTING + "ARITH_TAC" + ")" * MAX_NESTING)
    long_chain = parse_tactic(" THEN ".join(["ARITH_TAC"] * MAX_TACTICS))
    # The deepest tree the parser accepts still supports ==, hash and repr.
    assert long_chain == parse_tactic(format_tactic(long_chain))
    assert hash(long_chain) == hash(parse_tactic(format_tactic(long_chain)))
    assert repr(long_chain).startswith("Then(")
    text = "EXISTS_TAC `" + "x" * (MAX_INPUT_CHARS - 13) + "`"
    assert len(text) == MAX_INPUT_CHARS
    with pytest.raises(TacticRejected, match="term longer"):
        parse_tactic(text)


def test_rejection_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_tactic("FOO_TAC")


# ---------------------------------------------------------------------------------------------
# Theorem names.
# ---------------------------------------------------------------------------------------------


def test_theorem_names_restrict_the_theorems() -> None:
    allowed = {"ADD_CLAUSES", "TRUTH"}
    assert parse_tactic("REWRITE_TAC[ADD_CLAUSES] THEN MP_TAC TRUTH", allowed) == Then(
        Tactic("REWRITE_TAC", (ThmListArg(("ADD_CLAUSES",)),)),
        Tactic("MP_TAC", (ThmArg("TRUTH"),)),
    )
    with pytest.raises(TacticRejected, match="unknown theorem 'MULT_CLAUSES'"):
        parse_tactic("REWRITE_TAC[ADD_CLAUSES; MULT_CLAUSES]", allowed)
    with pytest.raises(TacticRejected, match="unknown theorem 'NOPE'"):
        parse_tactic("MP_TAC (NOPE)", allowed)
    with pytest.raises(TacticRejected, match="unknown theorem 'NOPE'"):
        parse_tactic('LABEL_TAC "h" NOPE', allowed)
    # Conversions and tactic names are not theorems.
    assert parse_tactic("CONV_TAC TAUT", theorem_names=set()) == Tactic(
        "CONV_TAC", (ConvArg("TAUT"),)
    )


def test_premise_outside_the_allowed_set_is_named_as_such() -> None:
    database = {"ADD_CLAUSES", "MULT_CLAUSES", "LATER_THEOREM"}
    premises = {"ADD_CLAUSES", "MULT_CLAUSES"}
    with pytest.raises(TacticRejected) as info:
        parse_tactic("MESON_TAC[ADD_CLAUSES; LATER_THEOREM]", premises, database)
    assert str(info.value) == "theorem 'LATER_THEOREM' is not an allowed premise"
    with pytest.raises(TacticRejected) as info:
        parse_tactic("MESON_TAC[ADD_CLAUSES; NOWHERE]", premises, database)
    assert str(info.value) == "unknown theorem 'NOWHERE'"
    with pytest.raises(TacticRejected, match="unknown theorem 'NOWHERE'"):
        parse_tactic("MP_TAC NOWHERE", database_names=database)
    assert parse_tactic("MP_TAC LATER_THEOREM", database_names=database) == Tactic(
        "MP_TAC", (ThmArg("LATER_THEOREM"),)
    )


# ---------------------------------------------------------------------------------------------
# Requests.
# ---------------------------------------------------------------------------------------------


def _read_sexp_string(quoted: str) -> str:
    """itp.ml's parse_sx read_string, transcribed: what the OCaml side reads back."""
    assert quoted[0] == '"' and quoted[-1] == '"'
    out: list[str] = []
    i = 1
    while i < len(quoted) - 1:
        c = quoted[i]
        i += 1
        if c == '"':
            raise AssertionError(f"unescaped quote in {quoted!r}")
        if c != "\\":
            out.append(c)
            continue
        e = quoted[i]
        i += 1
        if e == "n":
            out.append("\n")
        elif e == "t":
            out.append("\t")
        elif e == "u":
            out.append(chr(int(quoted[i : i + 4], 16)))
            i += 4
        else:
            out.append(e)
    return "".join(out)


def test_quote_sexp_string_escapes() -> None:
    assert quote_sexp_string("") == '""'
    assert quote_sexp_string("a b") == '"a b"'
    assert quote_sexp_string('say "hi"') == '"say \\"hi\\""'
    assert quote_sexp_string("a\\b") == '"a\\\\b"'
    assert quote_sexp_string("a\nb\tc") == '"a\\nb\\tc"'
    assert quote_sexp_string("\x00\x1f\x7f") == '"\\u0000\\u001f\\u007f"'
    assert quote_sexp_string("\u00e9\u2200") == '"\\u00e9\\u2200"'
    assert quote_sexp_string("\U0001d400") == '"\\ud835\\udc00"'


def test_quote_sexp_string_is_read_back_exactly() -> None:
    rng = random.Random(0)
    alphabet = [chr(c) for c in range(256)] + ['"', "\\", "`", "(", ")", ";"]
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(30)))
        quoted = quote_sexp_string(text)
        assert all(32 <= ord(c) < 127 for c in quoted)
        assert _read_sexp_string(quoted) == text


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        (Tactic("FOO_TAC", ()), "unknown tactic 'FOO_TAC'"),
        (Tactic("ARITH_TAC", (ThmArg("TRUTH"),)), "ARITH_TAC takes no arguments, got 1"),
        (Tactic("MP_TAC", ()), "MP_TAC takes 1 argument"),
        (Tactic("MP_TAC", (TermArg("x"),)), "expected a theorem argument, got TermArg"),
        (Tactic("MP_TAC", (ThmArg("A) (tac X"),)), "invalid theorem name"),
        (Tactic("MP_TAC", (ThmArg("let"),)), "OCaml keyword"),
        (Tactic("REWRITE_TAC", (ThmListArg(("A", "B C")),)), "invalid theorem name 'B C'"),
        (Tactic("EXISTS_TAC", (TermArg("a`b"),)), "backquote"),
        (Tactic("EXISTS_TAC", (TermArg("a\nb"),)), "control character"),
        (Tactic("LABEL_TAC", (StringArg('a"'), ThmArg("T"))), "invalid character"),
        (Tactic("CONV_TAC", (ConvArg("Sys.command"),)), "unknown conversion"),
        (
            Tactic("GEN_REWRITE_TAC", (ConvTransformerArg("X"), ThmListArg(()))),
            "unknown conversion transformer",
        ),
        (Then(ARITH, Tactic("FOO_TAC", ())), "unknown tactic 'FOO_TAC'"),
    ],
)
def test_render_and_format_refuse_invalid_built_expressions(expr: TacticExpr, reason: str) -> None:
    for output in (render_request, format_tactic):
        with pytest.raises(TacticRejected) as info:
            output(expr)
        assert reason in str(info.value)


def test_render_refuses_non_expressions() -> None:
    # A string where an expression belongs must not reach the request verbatim.
    for output in (render_request, format_tactic):
        with pytest.raises(TypeError):
            output(Then(ARITH, ") (tac REFL_TAC"))  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            output("ARITH_TAC")  # type: ignore[arg-type]


def test_deep_built_expressions_render_without_recursion() -> None:
    expr: TacticExpr = ARITH
    for _ in range(5000):
        expr = Then(REFL, expr)
    request = render_request(expr)
    assert request.startswith("(then (tac REFL_TAC) (then ")
    assert request.count("(tac ") == 5001
    assert format_tactic(expr).count("(") == 4999


# ---------------------------------------------------------------------------------------------
# Tables.
# ---------------------------------------------------------------------------------------------


def test_holist_ids() -> None:
    assert set(HOLIST_TACTIC_IDS) <= set(TACTIC_SIGNATURES)
    ids = sorted([*HOLIST_TACTIC_IDS.values(), *OMITTED_HOLIST_TACTICS])
    assert ids == list(range(41))
    assert HOLIST_TACTIC_IDS["EXISTS_TAC"] == 0
    assert HOLIST_TACTIC_IDS["TRANS_TAC"] == 40
    assert not set(OMITTED_HOLIST_TACTICS.values()) & set(TACTIC_SIGNATURES)


def test_signatures() -> None:
    assert len(TACTIC_SIGNATURES) == 53
    assert TACTIC_SIGNATURES["SET_TAC"] == (ArgKind.THEOREM_LIST,)
    assert TACTIC_SIGNATURES["ASM_CASES_TAC"] == (ArgKind.TERM,)
    assert TACTIC_SIGNATURES["COND_CASES_TAC"] == ()
    assert TACTIC_SIGNATURES["SPEC_TAC"] == (ArgKind.TERM, ArgKind.TERM)
    assert TACTIC_SIGNATURES["GEN_REWRITE_TAC"] == (
        ArgKind.CONV_TRANSFORMER,
        ArgKind.THEOREM_LIST,
    )
    assert len(CONVERSIONS) == 18
    assert len(CONV_TRANSFORMERS) == 13


_ML_KINDS = {
    "Thm": ArgKind.THEOREM,
    "Thms": ArgKind.THEOREM_LIST,
    "Trm": ArgKind.TERM,
    "Cnv": ArgKind.CONV,
    "Cnvx": ArgKind.CONV_TRANSFORMER,
    "Text": ArgKind.STRING,
}
_ML_HELPERS = {
    "t0": (),
    "tthm": (ArgKind.THEOREM,),
    "tthms": (ArgKind.THEOREM_LIST,),
    "tterm": (ArgKind.TERM,),
}


def test_tables_agree_with_the_ocaml_helper() -> None:
    source = ITP_ML.read_text()
    signatures: dict[str, tuple[ArgKind, ...]] = {}
    for helper, name in re.findall(r'let \(\) = (t0|tthms|tthm|tterm) "(\w+)"', source):
        signatures[name] = _ML_HELPERS[helper]
    for name, pattern in re.findall(
        r'Hashtbl\.replace tactic_table "(\w+)"\s*\(function \[([^\]]*)\]', source
    ):
        signatures[name] = tuple(_ML_KINDS[arg.split()[0]] for arg in pattern.split(";"))
    assert signatures == TACTIC_SIGNATURES

    def table(name: str) -> set[str]:
        block = re.search(rf"Hashtbl\.replace {name} n c\)\s*\[(.*?)\]", source, re.S)
        assert block is not None, name
        return set(re.findall(r'"(\w+)",', block.group(1)))

    assert table("conv_table") == CONVERSIONS
    assert table("convx_table") == CONV_TRANSFORMERS

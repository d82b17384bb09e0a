"""The toy formulas: parser, canonical printer, bounds on untrusted text, truth tables."""

from __future__ import annotations

import pytest

from data.toy.database import ToyTheorems
from environments.toy.logic import (
    AND,
    IFF,
    IMP,
    MAX_DEPTH,
    MAX_FORMULA_CHARS,
    OR,
    Atom,
    Binary,
    Const,
    FormulaError,
    Not,
    atoms,
    connective,
    is_tautology,
    parse,
    show,
)

p, q, r = Atom("p"), Atom("q"), Atom("r")


@pytest.mark.parametrize(
    ("text", "formula"),
    [
        ("p", p),
        ("T", Const(True)),
        ("~~p", Not(Not(p))),
        ("~p /\\ q", Binary(AND, Not(p), q)),
        ("~(p /\\ q)", Not(Binary(AND, p, q))),
        ("p /\\ q \\/ r", Binary(OR, Binary(AND, p, q), r)),
        ("p \\/ q /\\ r", Binary(OR, p, Binary(AND, q, r))),
        ("p ==> q ==> r", Binary(IMP, p, Binary(IMP, q, r))),
        ("(p ==> q) ==> r", Binary(IMP, Binary(IMP, p, q), r)),
        ("p /\\ q /\\ r", Binary(AND, p, Binary(AND, q, r))),
        ("p <=> q ==> r", Binary(IFF, p, Binary(IMP, q, r))),
        ("p ==> q \\/ r <=> r", Binary(IFF, Binary(IMP, p, Binary(OR, q, r)), r)),
        ("((p))", p),
        ("  p==>q  ", Binary(IMP, p, q)),
    ],
)
def test_precedence_and_right_associativity(text: str, formula: object) -> None:
    assert parse(text) == formula


@pytest.mark.parametrize(
    ("text", "printed"),
    [
        ("(p/\\q)/\\r", "(p /\\ q) /\\ r"),
        ("p ==> (q ==> r)", "p ==> q ==> r"),
        ("(p ==> q) ==> r", "(p ==> q) ==> r"),
        ("~(~p)", "~~p"),
        ("(p \\/ q) /\\ r", "(p \\/ q) /\\ r"),
        ("((p <=> q) <=> r)", "(p <=> q) <=> r"),
        ("p_1 \\/ (T /\\ F)", "p_1 \\/ T /\\ F"),
    ],
)
def test_the_canonical_form_has_one_spelling(text: str, printed: str) -> None:
    assert show(parse(text)) == printed
    assert show(parse(printed)) == printed


def test_every_theorem_statement_is_canonical_and_round_trips() -> None:
    for record in ToyTheorems.cached():
        formula = parse(record.statement)
        assert show(formula) == record.statement, record.name
        assert parse(show(formula)) == formula


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "p q",
        "(p",
        "p)",
        "p /\\",
        "()",
        "~",
        "P",
        "Tx",
        "p ==> ==> q",
        "1",
        "p;q",
        "p && q",
        "print('x')",
        "p -> q",
        "(p))",
    ],
)
def test_text_outside_the_syntax_is_a_formula_error(text: str) -> None:
    with pytest.raises(FormulaError):
        parse(text)


def test_untrusted_text_is_bounded_without_recursion() -> None:
    with pytest.raises(FormulaError, match="longer than"):
        parse("p" + " /\\ p" * MAX_FORMULA_CHARS)
    with pytest.raises(FormulaError, match="nested deeper"):
        parse("(" * (MAX_DEPTH + 5) + "p" + ")" * (MAX_DEPTH + 5))
    with pytest.raises(FormulaError, match="nested deeper"):
        parse("~" * (MAX_DEPTH + 5) + "p")
    deep = "~" * MAX_DEPTH + "p"
    assert show(parse(deep)) == deep


def test_truth_tables() -> None:
    assert is_tautology(parse("((p ==> q) ==> p) ==> p"))
    assert is_tautology(parse("~(p <=> q) <=> (p <=> ~q)"))
    assert is_tautology(parse("T"))
    assert not is_tautology(parse("p ==> q"))
    assert not is_tautology(parse("F"))
    assert atoms(parse("p /\\ ~q ==> p")) == {"p", "q"}
    assert [connective(parse(t)) for t in ("p", "T", "F", "~p", "p <=> q")] == [
        "atom",
        "T",
        "F",
        "~",
        IFF,
    ]

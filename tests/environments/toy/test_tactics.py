"""The toy tactic grammar: exactly the documented strings parse, everything else is rejected."""

from __future__ import annotations

import pytest

from environments.toy.tactics import (
    MAX_TACTIC_CHARS,
    NULLARY,
    TEMPLATES,
    Tactic,
    TacticRejected,
    parse_tactic,
)


@pytest.mark.parametrize("name", NULLARY)
def test_every_nullary_tactic_parses_and_prints_back(name: str) -> None:
    tactic = parse_tactic(name, 0)
    assert tactic == Tactic(name) and str(tactic) == name


def test_elim_takes_an_index_below_the_number_of_hypotheses() -> None:
    assert parse_tactic("elim 0", 1) == Tactic("elim", 0)
    assert parse_tactic("elim 12", 13) == Tactic("elim", 12)
    assert str(Tactic("elim", 3)) == "elim 3"
    with pytest.raises(TacticRejected, match="no hypothesis 2; the goal has 2"):
        parse_tactic("elim 2", 2)
    with pytest.raises(TacticRejected, match="has no hypotheses"):
        parse_tactic("elim 0", 0)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "auto",
        "INTRO",
        "intro ",
        " intro",
        "intro\n",
        "intro; split",
        "intro 0",
        "elim",
        "elim x",
        "elim -1",
        "elim 01",
        "elim  0",
        "elim 0 1",
        "elim 0.5",
        "__import__('os')",
        "x" * (MAX_TACTIC_CHARS + 1),
        "elim " + "9" * MAX_TACTIC_CHARS,
    ],
)
def test_anything_else_is_rejected(text: str) -> None:
    with pytest.raises(TacticRejected):
        parse_tactic(text, 5)


def test_a_non_string_is_rejected() -> None:
    with pytest.raises(TacticRejected, match="must be a string"):
        parse_tactic(["intro"], 0)


def test_tactics_built_in_code_are_checked_too() -> None:
    assert set(TEMPLATES) == {*NULLARY, "elim"}
    with pytest.raises(TacticRejected, match="unknown tactic"):
        Tactic("auto")
    with pytest.raises(TacticRejected, match="takes one hypothesis index"):
        Tactic("elim")
    with pytest.raises(TacticRejected, match="takes one hypothesis index"):
        Tactic("intro", 0)
    with pytest.raises(TacticRejected, match="negative"):
        Tactic("elim", -1)

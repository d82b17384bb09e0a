"""The toy prover's tactic language: all that a tactic string (a model's output) may say.

    tactic := NAME | 'elim' ' ' INDEX
    NAME   := 'intro' | 'split' | 'left' | 'right' | 'assumption' | 'trivial' | 'exfalso'
            | 'classical'
    INDEX  := '0' | [1-9][0-9]*       a hypothesis of the goal: its place in the sorted tuple

Exactly this text: no other spacing, no leading zeros, nothing after it, at most
``MAX_TACTIC_CHARS`` characters, and an index below the goal's number of hypotheses. Text is
parsed against the grammar before anything else looks at it, and only the parsed `Tactic`
reaches the rule engine (``environments/toy/rules.py`` says what each tactic does); anything
else is a `TacticRejected`. Tactic models import this module to write tactics that parse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_TACTIC_CHARS = 16
ELIM = "elim"
NULLARY = ("intro", "split", "left", "right", "assumption", "trivial", "exfalso", "classical")
TEMPLATES = (*NULLARY, ELIM)
"""Every tactic name; ``elim`` is the one that takes an argument."""

_SYNTAX = re.compile(r"(?P<name>[a-z]+)(?: (?P<index>0|[1-9][0-9]*))?")


class TacticRejected(ValueError):
    """A tactic string outside the language; the reason is in str(e)."""


@dataclass(frozen=True)
class Tactic:
    """A parsed tactic; ``str`` gives its one spelling."""

    name: str
    hypothesis: int | None = None

    def __post_init__(self) -> None:
        if self.name not in TEMPLATES:
            raise TacticRejected(f"unknown tactic {self.name!r}; the tactics are {TEMPLATES}")
        if (self.name == ELIM) != (self.hypothesis is not None):
            raise TacticRejected(
                f"{ELIM!r} takes one hypothesis index ('{ELIM} 0') and the other tactics none; "
                f"got {self.name!r} with index {self.hypothesis!r}"
            )
        if self.hypothesis is not None and self.hypothesis < 0:
            raise TacticRejected(f"hypothesis index {self.hypothesis} is negative")

    def __str__(self) -> str:
        return self.name if self.hypothesis is None else f"{self.name} {self.hypothesis}"


def parse_tactic(text: object, num_hypotheses: int) -> Tactic:
    """The tactic ``text`` writes, for a goal with ``num_hypotheses``; TacticRejected if none."""
    if not isinstance(text, str):
        raise TacticRejected(f"a tactic must be a string, got {type(text).__name__}")
    if len(text) > MAX_TACTIC_CHARS:
        raise TacticRejected(f"tactic longer than {MAX_TACTIC_CHARS} characters: {text[:20]!r}...")
    match = _SYNTAX.fullmatch(text)
    if match is None:
        raise TacticRejected(
            f"not a toy tactic: {text!r} (a name of {NULLARY}, or 'elim N' with N a hypothesis "
            "index, written exactly so)"
        )
    index = match.group("index")
    tactic = Tactic(match.group("name"), None if index is None else int(index))
    if tactic.hypothesis is not None and tactic.hypothesis >= num_hypotheses:
        raise TacticRejected(
            f"{text!r}: no hypothesis {tactic.hypothesis}; the goal has {num_hypotheses} "
            f"(indices 0 to {num_hypotheses - 1})"
            if num_hypotheses
            else f"{text!r}: the goal has no hypotheses"
        )
    return tactic

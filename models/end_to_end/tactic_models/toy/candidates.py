"""What the toy tactic models may suggest for a goal: the tactics whose shape fits it.

Both toy models rank the same candidates: each template whose rule matches the goal's top
connectives (``intro`` for ``A ==> B`` or ``~A``, ``elim i`` for each hypothesis with a
connective, ...), written through the environment's tactic language so every one parses.
Fitting the shape is all a candidate promises; whether it helps is the models' business.
"""

from __future__ import annotations

from dataclasses import dataclass

from data.proof_tree import Goal
from environments.toy.logic import AND, FALSE, IFF, IMP, NOT, OR, TRUE, connective
from environments.toy.rules import Sequent
from environments.toy.tactics import ELIM, Tactic

_ELIMINABLE = frozenset({"F", NOT, AND, OR, IMP, IFF})


@dataclass(frozen=True)
class Candidate:
    """One tactic a model may suggest: its template and, for ``elim``, the hypothesis."""

    template: str
    hypothesis: int | None = None

    @property
    def tactic(self) -> str:
        return str(Tactic(self.template, self.hypothesis))


def candidates(sequent: Sequent) -> list[Candidate]:
    """The tactics whose rule fits the goal's shape, in template order then hypothesis order."""
    c = sequent.conclusion
    top = connective(c)
    found: list[Candidate] = []
    if top in (IMP, NOT):
        found.append(Candidate("intro"))
    if top in (AND, IFF):
        found.append(Candidate("split"))
    if top == OR:
        found += [Candidate("left"), Candidate("right")]
    if c in sequent.hypotheses or FALSE in sequent.hypotheses:
        found.append(Candidate("assumption"))
    if c == TRUE:
        found.append(Candidate("trivial"))
    if c != FALSE:
        found += [Candidate("exfalso"), Candidate("classical")]
    found += [
        Candidate(ELIM, i) for i, h in enumerate(sequent.hypotheses) if connective(h) in _ELIMINABLE
    ]
    return found


def goal_sequent(goal: Goal) -> Sequent | None:
    """The sequent of a toy goal, or None for a goal the toy language cannot read."""
    try:
        return Sequent.from_goal(goal)
    except ValueError:
        return None

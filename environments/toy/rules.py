"""The toy prover's rule engine: sequents, and one sound inference rule per tactic.

A goal is a sequent ``H0, ..., Hn |- C``: the hypotheses a sorted tuple of distinct formulas
(by their canonical text, so equal goals are equal ``Goal``s and the proof tree merges them)
and a conclusion. Each tactic below replaces the goal by subgoals that together imply it, or
closes it. ``rest`` is the hypotheses without the one eliminated.

============  =================  ==========================================================
tactic        goal               subgoals
============  =================  ==========================================================
intro         A ==> B            H, A |- B
intro         ~A                 H, A |- F
split         A /\\ B             H |- A  and  H |- B
split         A <=> B            H |- A ==> B  and  H |- B ==> A
left, right   A \\/ B             H |- A  (left)  or  H |- B  (right)
assumption    C                  none, if C is a hypothesis or F is
trivial       T                  none
exfalso       C (not F)          H |- F
classical     C (not F)          H, ~C |- F                      (proof by contradiction)
elim i        Hi = A /\\ B        rest, A, B |- C
elim i        Hi = A \\/ B        rest, A |- C  and  rest, B |- C
elim i        Hi = A ==> B       H |- A  and  rest, B |- C
elim i        Hi = ~A            H |- A                          (A and ~A give F, F gives C)
elim i        Hi = A <=> B       rest, A ==> B, B ==> A |- C
elim i        Hi = F             none
============  =================  ==========================================================

Every rule is one small step: no tactic decides a formula, so a proof is a real search. The
rules are complete for classical propositional logic (``classical`` makes them so).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from data.proof_tree import Goal
from environments.toy.logic import (
    AND,
    FALSE,
    IFF,
    IMP,
    OR,
    TRUE,
    Binary,
    Formula,
    FormulaError,
    Not,
    parse,
    show,
)
from environments.toy.tactics import Tactic


class RuleError(ValueError):
    """The tactic's rule does not apply to the goal; the message says why."""


@dataclass(frozen=True)
class Sequent:
    """``hypotheses |- conclusion``; build it with `sequent`, which puts it in canonical form."""

    hypotheses: tuple[Formula, ...]
    conclusion: Formula

    def to_goal(self) -> Goal:
        return Goal(show(self.conclusion), tuple(show(h) for h in self.hypotheses))

    @classmethod
    def from_goal(cls, goal: Goal) -> Sequent:
        """The sequent a goal writes; FormulaError unless the goal is in canonical form.

        Canonical form is what `to_goal` writes: canonical formula texts, hypotheses sorted and
        distinct. Requiring it keeps ``elim i`` meaning the hypothesis the model saw at ``i``.
        """
        conclusion = parse(goal.conclusion)
        hypotheses = tuple(parse(h) for h in goal.hypotheses)
        texts = [show(h) for h in hypotheses]
        if show(conclusion) != goal.conclusion or texts != list(goal.hypotheses):
            raise FormulaError(f"goal {goal} is not written in canonical form")
        if any(a >= b for a, b in zip(texts, texts[1:], strict=False)):
            raise FormulaError(f"goal {goal}: hypotheses must be sorted and distinct")
        return cls(hypotheses, conclusion)


def sequent(hypotheses: Iterable[Formula], conclusion: Formula) -> Sequent:
    """The canonical sequent: hypotheses deduplicated and sorted by their text."""
    by_text = {show(h): h for h in hypotheses}
    return Sequent(tuple(by_text[t] for t in sorted(by_text)), conclusion)


def _intro(s: Sequent) -> tuple[Sequent, ...]:
    c = s.conclusion
    if isinstance(c, Binary) and c.op == IMP:
        return (sequent((*s.hypotheses, c.left), c.right),)
    if isinstance(c, Not):
        return (sequent((*s.hypotheses, c.arg), FALSE),)
    raise RuleError("intro needs a conclusion A ==> B or ~A")


def _split(s: Sequent) -> tuple[Sequent, ...]:
    c = s.conclusion
    if isinstance(c, Binary) and c.op == AND:
        return (sequent(s.hypotheses, c.left), sequent(s.hypotheses, c.right))
    if isinstance(c, Binary) and c.op == IFF:
        return (
            sequent(s.hypotheses, Binary(IMP, c.left, c.right)),
            sequent(s.hypotheses, Binary(IMP, c.right, c.left)),
        )
    raise RuleError("split needs a conclusion A /\\ B or A <=> B")


def _disjunct(side: str) -> Callable[[Sequent], tuple[Sequent, ...]]:
    def rule(s: Sequent) -> tuple[Sequent, ...]:
        c = s.conclusion
        if not (isinstance(c, Binary) and c.op == OR):
            raise RuleError(f"{side} needs a conclusion A \\/ B")
        return (sequent(s.hypotheses, c.left if side == "left" else c.right),)

    return rule


def _assumption(s: Sequent) -> tuple[Sequent, ...]:
    if s.conclusion in s.hypotheses or FALSE in s.hypotheses:
        return ()
    raise RuleError("assumption needs the conclusion, or F, among the hypotheses")


def _trivial(s: Sequent) -> tuple[Sequent, ...]:
    if s.conclusion == TRUE:
        return ()
    raise RuleError("trivial needs the conclusion T")


def _exfalso(s: Sequent) -> tuple[Sequent, ...]:
    if s.conclusion == FALSE:
        raise RuleError("exfalso: the conclusion is F already")
    return (sequent(s.hypotheses, FALSE),)


def _classical(s: Sequent) -> tuple[Sequent, ...]:
    if s.conclusion == FALSE:
        raise RuleError("classical: the conclusion is F already")
    return (sequent((*s.hypotheses, Not(s.conclusion)), FALSE),)


def _elim(s: Sequent, index: int) -> tuple[Sequent, ...]:
    h = s.hypotheses[index]
    rest = s.hypotheses[:index] + s.hypotheses[index + 1 :]
    c = s.conclusion
    if h == FALSE:
        return ()
    if isinstance(h, Not):
        return (sequent(s.hypotheses, h.arg),)
    if isinstance(h, Binary):
        if h.op == AND:
            return (sequent((*rest, h.left, h.right), c),)
        if h.op == OR:
            return (sequent((*rest, h.left), c), sequent((*rest, h.right), c))
        if h.op == IMP:
            return (sequent(s.hypotheses, h.left), sequent((*rest, h.right), c))
        return (sequent((*rest, Binary(IMP, h.left, h.right), Binary(IMP, h.right, h.left)), c),)
    raise RuleError(f"elim {index}: hypothesis {show(h)} has no connective to eliminate")


_RULES: dict[str, Callable[[Sequent], tuple[Sequent, ...]]] = {
    "intro": _intro,
    "split": _split,
    "left": _disjunct("left"),
    "right": _disjunct("right"),
    "assumption": _assumption,
    "trivial": _trivial,
    "exfalso": _exfalso,
    "classical": _classical,
}


def apply_rule(s: Sequent, tactic: Tactic) -> tuple[Sequent, ...]:
    """The subgoals ``tactic`` leaves of ``s`` (none: proved); RuleError if it does not apply."""
    if tactic.hypothesis is not None:
        if tactic.hypothesis >= len(s.hypotheses):
            raise RuleError(f"{tactic}: the goal has {len(s.hypotheses)} hypotheses")
        return _elim(s, tactic.hypothesis)
    return _RULES[tactic.name](s)

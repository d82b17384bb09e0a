"""``ToyEnv``: the Environment interface on the toy propositional prover.

No process to start or share: the rule engine is a pure function of the goal and the parsed
tactic, so ``start`` and ``stop`` cost nothing and any number of attempts run side by side.
The order inside ``apply`` is the one every environment must keep: parse the untrusted tactic
text against the grammar first, and only then let the rule engine see it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from data.proof_tree import ErrorKind, Goal
from data.toy.database import DEFAULT_PATH, ToyTheorem, ToyTheorems
from environments.base import (
    Environment,
    Failure,
    Premise,
    Proved,
    Subgoals,
    TacticOutcome,
    TheoremSource,
)
from environments.toy import rules
from environments.toy.logic import FormulaError, parse
from environments.toy.tactics import TacticRejected, parse_tactic


def root_goal(thm: ToyTheorem) -> Goal:
    """The goal of proving ``thm``: its statement, in canonical form, from no hypotheses."""
    return rules.sequent((), parse(thm.statement)).to_goal()


class ToyEnv(Environment):
    """Prove a toy theorem with the rules of ``environments/toy/rules.py``, one tactic a call.

    ``theorems`` is the theorem set file ``thm`` belongs to (None: the packaged
    ``data/toy/theorems.jsonl``); the loop checks that its theorem source reads the same file.
    ``timeout`` bounds one tactic: a rule that runs longer is reported as TACTIC_TIMEOUT.
    """

    name = "toy"

    def __init__(self, thm: ToyTheorem, timeout: float = 1.0, theorems: str | None = None) -> None:
        super().__init__(thm, timeout)
        self.theorems = Path(theorems or DEFAULT_PATH).resolve()

    @classmethod
    def theorem_id(cls, thm: ToyTheorem) -> str:
        return thm.name

    @classmethod
    def theorem_to_dict(cls, thm: ToyTheorem) -> dict[str, Any]:
        return thm.to_dict()

    @classmethod
    def theorem_from_dict(cls, data: dict[str, Any]) -> ToyTheorem:
        thm = ToyTheorem.from_dict(data)
        try:
            parse(thm.statement)
        except FormulaError as e:
            raise ValueError(f"toy theorem {thm.name!r}: its statement is no formula: {e}") from e
        return thm

    def check_theorem_source(self, source: TheoremSource) -> None:
        theirs = getattr(source, "path", None)
        if not isinstance(source, ToyTheorems) or theirs != self.theorems:
            raise ValueError(
                f"the toy environment's theorems come from {self.theorems} but the loop's "
                f"theorem source is {theirs or type(source).__name__}; set "
                "env_config.environment.theorems and env_config.theorems.path to the same file"
            )

    def start(self) -> Goal:
        return root_goal(self.thm)

    def stop(self) -> None:
        """Nothing to give back: there is no prover process."""

    def retrieve_premises(self) -> list[Premise]:
        """None: no toy tactic cites a theorem, so there is nothing to send to the models."""
        return []

    def apply(self, goal: Goal, tactic: str, timeout: float) -> TacticOutcome:
        started = time.perf_counter()
        try:
            parsed = parse_tactic(tactic, len(goal.hypotheses))
        except TacticRejected as e:
            return Failure(ErrorKind.REJECTED, str(e), time.perf_counter() - started)
        try:
            subgoals = rules.apply_rule(rules.Sequent.from_goal(goal), parsed)
        except (rules.RuleError, FormulaError) as e:
            return Failure(ErrorKind.TACTIC_ERROR, str(e), time.perf_counter() - started)
        elapsed = time.perf_counter() - started
        if elapsed > timeout:
            return Failure(
                ErrorKind.TACTIC_TIMEOUT,
                f"{tactic} took {elapsed:.3f} s, more than the {timeout:g} s allowed",
                elapsed,
            )
        if not subgoals:
            return Proved(elapsed)
        return Subgoals(tuple(s.to_goal() for s in subgoals), elapsed)

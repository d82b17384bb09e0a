"""``HolLightEnv``: the Environment interface on the real HOL Light.

Each attempt borrows this process's warm server (forked from the machine's zygote), so
starting an attempt costs nothing and a crashed server is replaced in milliseconds.
"""

from __future__ import annotations

from typing import Any

from data.hol_light.database import TheoremDatabase, TheoremRecord
from data.proof_tree import Goal
from environments.base import Environment, Premise, TacticOutcome
from environments.hol_light.driver import HolLight, shared_prover


def root_goal(thm: TheoremRecord) -> Goal:
    return Goal(
        conclusion=thm.statement,
        hypotheses=thm.hypotheses,
        conclusion_sexp=thm.sexp,
        hypothesis_sexps=thm.hypothesis_sexps,
    )


class HolLightEnv(Environment):
    """Prove ``thm`` from the theorems loaded before it, one stateless tactic at a time."""

    name = "hol_light"

    def __init__(
        self,
        thm: TheoremRecord,
        timeout: float = 5.0,
        database: TheoremDatabase | str | None = None,
        prover: HolLight | None = None,
    ) -> None:
        super().__init__(thm, timeout)
        if not isinstance(database, TheoremDatabase):
            database = TheoremDatabase.cached(database)
        self.database = database
        self._prover = prover
        self._premise_names: frozenset[str] | None = None
        self._database_names: frozenset[str] | None = None

    @classmethod
    def theorem_id(cls, thm: TheoremRecord) -> str:
        return thm.name

    @classmethod
    def theorem_to_dict(cls, thm: TheoremRecord) -> dict[str, Any]:
        return thm.to_dict()

    @classmethod
    def theorem_from_dict(cls, data: dict[str, Any]) -> TheoremRecord:
        return TheoremRecord.from_dict(data)

    def check_theorem_source(self, source: object) -> None:
        theirs = getattr(source, "path", None)
        if not isinstance(source, TheoremDatabase) or theirs != self.database.path:
            raise ValueError(
                f"the environment reads the theorem database {self.database.path} but the "
                f"theorems come from {theirs or type(source).__name__}; set "
                "env_config.environment.database and env_config.theorems.path to the same file"
            )

    @classmethod
    def warm_up(cls) -> None:
        shared_prover()

    def start(self) -> Goal:
        if self._prover is None:
            self._prover = shared_prover()
        self._premise_names = self.database.premise_names_for(self.thm)
        self._database_names = self.database.names
        return root_goal(self.thm)

    def stop(self) -> None:
        """Nothing to give back: the process's shared server stays warm for the next attempt."""

    def retrieve_premises(self) -> list[Premise]:
        return [
            Premise(name=r.name, statement=r.statement, sexp=r.sexp)
            for r in self.database.premises_for(self.thm)
        ]

    def apply(self, goal: Goal, tactic: str, timeout: float) -> TacticOutcome:
        if self._prover is None:
            raise RuntimeError("HolLightEnv.apply called outside its 'with' block")
        result = self._prover.apply(
            goal, tactic, timeout, self._premise_names, self._database_names
        )
        return result.outcome("HOL Light server")

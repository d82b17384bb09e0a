"""``CoqEnv``: the Environment interface on the real Coq, through coqidetop.

Each attempt borrows this process's warm coqidetop. The theorem's context (its file's
sentences up to its statement) is added once and kept: the next attempt at a theorem of the
same file edits back to the shared part instead of starting over. A proof counts only when
the whole script ends in an accepted ``Qed`` with no axiom beyond the library's own.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from data.coq.database import CoqDatabase, CoqTheorem, file_sha256
from data.proof_tree import Goal, ProofStep
from environments.base import Environment, Premise, TacticOutcome
from environments.coq.driver import Coq, CoqProof, shared_coq
from environments.coq.sentences import split_sentences


@lru_cache(maxsize=64)
def file_sentences(path: str, sha256: str) -> tuple[str, ...]:
    """A library file's sentences, checked against the hash the database was exported with."""
    source = Path(path)
    if not source.exists():
        raise ValueError(f"Coq library file {source} is missing (apt-get install -y coq)")
    if file_sha256(source) != sha256:
        raise ValueError(
            f"Coq library file {source} differs from the one the database was exported from; "
            "re-run python -m environments.coq export"
        )
    return tuple(s.text for s in split_sentences(source.read_text()))


def theorem_context(database: CoqDatabase, thm: CoqTheorem) -> tuple[str, ...]:
    """The sentences before ``thm`` in its file, and its statement."""
    sha = database.files[thm.file].sha256
    sentences = file_sentences(str(database.library_root / thm.file), sha)
    if thm.sentence >= len(sentences):
        raise ValueError(f"{thm.name}: sentence {thm.sentence} is past the end of {thm.file}")
    return sentences[: thm.sentence + 1]


class CoqEnv(Environment):
    """Prove a library lemma from its file's context, one checked tactic at a time."""

    name = "coq"

    def __init__(
        self,
        thm: CoqTheorem,
        timeout: float = 5.0,
        database: CoqDatabase | str | None = None,
        restart_every: int = 100,
        memory_limit_mb: int | None = 4096,
        coq: Coq | None = None,
    ) -> None:
        super().__init__(thm, timeout)
        if not isinstance(database, CoqDatabase):
            database = CoqDatabase.cached(database)
        self.database = database
        self.restart_every = restart_every
        self.memory_limit_mb = memory_limit_mb
        self._coq = coq
        self._proof: CoqProof | None = None

    @classmethod
    def theorem_id(cls, thm: CoqTheorem) -> str:
        return thm.name

    @classmethod
    def theorem_to_dict(cls, thm: CoqTheorem) -> dict[str, Any]:
        return thm.to_dict()

    @classmethod
    def theorem_from_dict(cls, data: dict[str, Any]) -> CoqTheorem:
        return CoqTheorem.from_dict(data)

    def check_theorem_source(self, source: object) -> None:
        theirs = getattr(source, "path", None)
        if not isinstance(source, CoqDatabase) or theirs != self.database.path:
            raise ValueError(
                f"the environment reads the Coq database {self.database.path} but the theorems "
                f"come from {theirs or type(source).__name__}; set "
                "env_config.environment.database and env_config.theorems.path to the same one"
            )
        self.database.check_library()

    def start(self) -> Goal:
        if self._coq is None:
            self._coq = shared_coq(self.restart_every, self.memory_limit_mb, self.database.coq_args)
        self._proof = CoqProof(
            self._coq,
            theorem_context(self.database, self.thm),
            self.database.tactics_for(self.thm),
        )
        root = self._proof.root
        expected = (self.thm.hypotheses, self.thm.conclusion)
        if (root.hypotheses, root.conclusion) != expected:
            raise ValueError(
                f"{self.thm.name}: Coq states it as {root}, the database as "
                f"{Goal(self.thm.conclusion, self.thm.hypotheses)}; re-run the export"
            )
        return root

    def stop(self) -> None:
        """The process stays warm, its document at this theorem, for the next attempt."""
        self._proof = None

    def retrieve_premises(self) -> list[Premise]:
        return [
            Premise(name, statement) for name, statement in self.database.premises_for(self.thm)
        ]

    def apply(self, goal: Goal, tactic: str, timeout: float) -> TacticOutcome:
        if self._proof is None:
            raise RuntimeError("CoqEnv.apply called outside its 'with' block")
        return self._proof.apply(goal, tactic, timeout).outcome("coqidetop")

    def check_proof(self, steps: list[ProofStep]) -> str:
        if self._proof is None:
            raise RuntimeError("CoqEnv.check_proof called outside its 'with' block")
        return self._proof.certify(
            steps, self.thm.short_name, self.thm.axioms, max(self.timeout, 10.0)
        )

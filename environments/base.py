"""The Environment interface: one object per proof attempt, made inside a prover worker.

An environment applies tactics to goals statelessly (goal in, outcome out) and records each
application as an edge of the attempt's proof tree. Every way a tactic can fail becomes an
``ErrorNode`` kind on that edge: nothing a tactic does raises out of ``run_tactic``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, TypeAlias

from data.proof_tree import Edge, ErrorKind, Goal, InternalNode, ProofStep, ProofTree

Suggestion: TypeAlias = tuple[str, float]
"""A tactic as text and its log-probability under the tactic model."""


@dataclass(frozen=True)
class Premise:
    """A theorem the current goal may cite: its name, statement and exact form if known."""

    name: str
    statement: str
    sexp: str | None = None


@dataclass(frozen=True)
class Proved:
    """The tactic closed the goal (checked by the prover's kernel)."""

    time_s: float


@dataclass(frozen=True)
class Subgoals:
    """The tactic reduced the goal to these subgoals, all of which must be proved."""

    goals: tuple[Goal, ...]
    time_s: float


@dataclass(frozen=True)
class Failure:
    """The tactic led nowhere: failed, timed out, was rejected, or crashed the prover."""

    kind: ErrorKind
    message: str
    time_s: float


TacticOutcome: TypeAlias = Proved | Subgoals | Failure


class TheoremSource(Protocol):
    """Where an environment's theorems come from (HOL Light: the exported database)."""

    def split(self, split: str) -> list[Any]:
        """The theorem records of one split (train, valid or test), in a fixed order."""
        ...


class Environment(ABC):
    """One proof attempt of ``thm`` on a prover; use as ``with env as (env, root): ...``."""

    name: str = "environment"

    def __init__(self, thm: Any, timeout: float) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self.thm = thm
        self.timeout = timeout
        self._tree: ProofTree | None = None

    @property
    def tree(self) -> ProofTree:
        if self._tree is None:
            raise RuntimeError(f"{type(self).__name__} used outside its 'with' block")
        return self._tree

    def __enter__(self) -> tuple[Environment, InternalNode]:
        self._tree = ProofTree(self.start())
        return self, self._tree.root

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @classmethod
    @abstractmethod
    def theorem_id(cls, thm: Any) -> str:
        """A stable, unique id of a theorem record (trace file names use it)."""

    @classmethod
    @abstractmethod
    def theorem_to_dict(cls, thm: Any) -> dict[str, Any]:
        """The theorem record as JSON-ready data (stored in traces)."""

    @classmethod
    @abstractmethod
    def theorem_from_dict(cls, data: dict[str, Any]) -> Any:
        """Inverse of ``theorem_to_dict``; raises ValueError on a malformed record."""

    @classmethod  # noqa: B027 (an optional hook: most provers start instantly)
    def warm_up(cls) -> None:
        """Start this process's prover ahead of the first attempt (workers call it once).

        Without it the first attempt would pay the prover's start-up (HOL Light: minutes)
        inside its own time budget.
        """

    def check_theorem_source(self, source: TheoremSource) -> None:  # noqa: B027 (optional)
        """Raise ValueError if ``source`` is not where this environment's theorems come from.

        The loop calls it once before a run, so a theorem list and an environment that read
        different databases (different premises, different statements) cannot run together.
        """

    def check_proof(self, steps: list[ProofStep]) -> str:
        """Why the prover's kernel refuses the tree's proof as a whole, or "" (it accepts it).

        The prover calls it once the root is proved. Stateless provers check every step as
        it is applied, so by default there is nothing left to check; a prover whose goals
        can share state (Coq's existential variables) replays the script and ends it at
        ``Qed``. A refused proof makes the attempt ``failed``, with the reason in the trace.
        """
        return ""

    @abstractmethod
    def start(self) -> Goal:
        """Start or borrow the prover process; return the theorem's root goal."""

    @abstractmethod
    def stop(self) -> None:
        """Return the prover process (it stays warm for the next attempt)."""

    @abstractmethod
    def retrieve_premises(self) -> list[Premise]:
        """The premises the current theorem may use."""

    @abstractmethod
    def apply(self, goal: Goal, tactic: str, timeout: float) -> TacticOutcome:
        """Apply one tactic to one goal within ``timeout`` seconds, statelessly.

        Must not raise for tactic failures.
        """

    def run_tactic(
        self, node: InternalNode, suggestion: Suggestion, timeout: float | None = None
    ) -> Edge:
        """Apply ``suggestion`` to ``node``'s goal and record the result in the proof tree.

        ``timeout`` (seconds) overrides the environment's own for this application.
        """
        tactic, logprob = suggestion
        outcome = self.apply(node.goal, tactic, self.timeout if timeout is None else timeout)
        if isinstance(outcome, Failure):
            return self.tree.add_edge(
                node, tactic, logprob, error=(outcome.kind, outcome.message), time_s=outcome.time_s
            )
        goals = outcome.goals if isinstance(outcome, Subgoals) else ()
        return self.tree.add_edge(node, tactic, logprob, subgoals=goals, time_s=outcome.time_s)

"""One proof attempt: search model picks a goal, tactic model suggests, environment applies.

Both budgets are enforced: ``total_timeout`` is wall clock for the attempt (model time
counts), ``env_timeout`` is the time spent inside the environment. They are checked between
tactic applications, so a proof found in the step that crosses a budget still counts.

Two settings shape an attempt beyond its budgets. ``root_tactic_timeout`` gives the tactics
tried on the theorem itself a longer per-tactic timeout than the environment's: a decision
procedure that closes the theorem outright is worth waiting for, while deep in the search a
short timeout buys more expansions. ``max_expansions`` stops the search after that many
expansions (1: each tactic once on the theorem, the single-tactic baselines).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from data.proof_tree import Goal, InternalNode, Status
from data.traces.schema import ProofTrace, Timings
from environments.base import Environment, Premise, Suggestion
from models.end_to_end.search_models.base import SearchModel, ValueFn
from models.end_to_end.search_models.goal_model.base import check_values

T = TypeVar("T")

log = logging.getLogger(__name__)

GetTactics = Callable[[list[Goal], list[Sequence[Premise]]], list[list[Suggestion]]]
"""A tactic model's ``get_tactics``, local or behind a TacticServer."""


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection during an attempt; one collection after it.

    A proof tree is one big cycle-rich object graph that lives for the whole attempt, so full
    collections inside it rescan ever more objects for nothing (measured: about 40% of search
    time at 10^5 nodes). Reference counting still frees acyclic garbage meanwhile.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
            gc.collect()


@dataclass(frozen=True)
class AttemptInfo:
    """What the trace needs to know about the attempt besides the search itself."""

    theorem_id: str
    theorem: dict[str, Any]
    environment: dict[str, Any]
    iteration: int
    models: dict[str, Any]
    role: str = "eval"


class GoalModelError(RuntimeError):
    """The goal model failed or answered nonsense (NaN, a positive log-probability): the
    attempt is an error, never a silent failure."""


class Prover:
    """Runs attempts with one search model and one tactic model; reusable across theorems.

    ``get_values`` is the goal model's ``values`` for searches that value goals; its time is
    booked as model time. ``goals_per_step`` lets a search hand out several goals at once
    (``get_goals(n)``), which then share one batched tactic-model call.
    """

    def __init__(
        self,
        search_model: SearchModel,
        get_tactics: GetTactics,
        num_sampled_tactics: int,
        total_timeout: float,
        env_timeout: float,
        max_expansions: int | None = None,
        root_tactic_timeout: float | None = None,
        get_values: ValueFn | None = None,
        goals_per_step: int = 1,
    ) -> None:
        if num_sampled_tactics <= 0:
            raise ValueError(f"num_sampled_tactics must be positive, got {num_sampled_tactics}")
        if total_timeout <= 0 or env_timeout <= 0:
            raise ValueError("total_timeout and env_timeout must be positive")
        if max_expansions is not None and max_expansions <= 0:
            raise ValueError(f"max_expansions must be positive or None, got {max_expansions}")
        if root_tactic_timeout is not None and root_tactic_timeout <= 0:
            raise ValueError(
                f"root_tactic_timeout must be positive or None, got {root_tactic_timeout}"
            )
        if goals_per_step <= 0:
            raise ValueError(f"goals_per_step must be positive, got {goals_per_step}")
        if search_model.uses_goal_model and get_values is None:
            raise ValueError(
                f"search_model: {type(search_model).__name__} values goals, so it needs a goal "
                "model (search_model.goal_model)"
            )
        self.max_expansions = max_expansions
        self.root_tactic_timeout = root_tactic_timeout
        self.search_model = search_model
        self.get_tactics = get_tactics
        self.get_values = get_values
        self.goals_per_step = goals_per_step
        self.num_sampled_tactics = num_sampled_tactics
        self.total_timeout = total_timeout
        self.env_timeout = env_timeout

    def prove(self, env: Environment, info: AttemptInfo) -> ProofTrace:
        with gc_paused():
            return self._prove(env, info)

    def _timed_values(self, timings: Timings) -> ValueFn | None:
        """The goal model's values, checked, with their time booked as model time."""
        get_values = self.get_values
        if get_values is None:
            return None

        def values(goals: list[Goal]) -> list[float]:
            tick = time.monotonic()
            try:
                answer = get_values(goals)
            finally:
                timings.model_s += time.monotonic() - tick
            try:
                return check_values(goals, answer)
            except ValueError as e:
                raise GoalModelError(str(e)) from None

        return values

    def _prove(self, env: Environment, info: AttemptInfo) -> ProofTrace:
        started = time.monotonic()
        timings = Timings()
        expansions = 0
        out_of_budget = False

        def over_budget() -> bool:
            return (
                time.monotonic() - started >= self.total_timeout
                or timings.env_s >= self.env_timeout
            )

        def in_search(call: Callable[[], T]) -> T:
            """Run a search call; its time minus the goal model's inside it is search time."""
            tick, model_before = time.monotonic(), timings.model_s
            try:
                return call()
            finally:
                timings.search_s += time.monotonic() - tick - (timings.model_s - model_before)

        def expand(node: InternalNode, suggestions: list[Suggestion]) -> bool:
            """Run ``node``'s tactics; True if a budget ran out before all were tried."""
            timeout = self.root_tactic_timeout if node is root else None
            for suggestion in suggestions[: self.num_sampled_tactics]:
                tick = time.monotonic()
                edge = env.run_tactic(node, suggestion, timeout)
                timings.env_s += time.monotonic() - tick
                in_search(lambda e=edge: search.process_response(e))  # type: ignore[misc]
                if node.status != Status.OPEN:  # closed: its other tactics are not needed
                    return False
                if over_budget():
                    return True
            env.tree.mark_explored(node)  # every suggestion was tried: nothing more will come
            return False

        with env as (env, root):
            tick = time.monotonic()
            premises = env.retrieve_premises()
            timings.env_s += time.monotonic() - tick
            search = self.search_model
            search.bind(self._timed_values(timings))
            in_search(lambda: search.reset(root))
            while root.status == Status.OPEN:
                if self.max_expansions is not None and expansions >= self.max_expansions:
                    out_of_budget = True  # an expansion budget: what is left stays open
                    break
                if over_budget():
                    out_of_budget = True
                    break
                wanted = self.goals_per_step
                if self.max_expansions is not None:
                    wanted = min(wanted, self.max_expansions - expansions)
                selected = in_search(lambda n=wanted: search.get_goals(n))  # type: ignore[misc]
                if not selected:
                    break
                nodes = [node for node, _score in selected]
                tick = time.monotonic()
                batch = self.get_tactics([n.goal for n in nodes], [premises] * len(nodes))
                timings.model_s += time.monotonic() - tick
                for node, suggestions in zip(nodes, batch, strict=True):
                    if out_of_budget or root.status != Status.OPEN:
                        break  # the rest stay open: unexpanded, not failed
                    out_of_budget = expand(node, suggestions)
                    in_search(lambda n=node: search.expansion_done(n))  # type: ignore[misc]
                    expansions += 1
                if out_of_budget:  # the goal keeps its untried tactics: open, not failed
                    break
            tree = env.tree
            rejected = ""
            if root.status == Status.PROVED:
                tick = time.monotonic()
                rejected = env.check_proof(tree.extract_proof() or [])
                timings.env_s += time.monotonic() - tick
        timings.total_s = time.monotonic() - started
        if rejected:
            status = "failed"
        elif root.status == Status.PROVED:
            status = "proved"
        elif out_of_budget or over_budget():
            status = "timeout"
        else:
            status = "failed"
        return ProofTrace.from_tree(
            theorem_id=info.theorem_id,
            theorem=info.theorem,
            environment=info.environment,
            tree=tree,
            status=status,
            iteration=info.iteration,
            search_trace=list(search.search_trace),
            timings=timings,
            expansions=expansions,
            models=info.models,
            role=info.role,
            rejected=rejected,
        )

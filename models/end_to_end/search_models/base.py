"""Search models decide which open goals the prover expands next.

The prover drives every search the same way: ``bind(values)`` with the goal model's values (or
None), ``reset(root)``; then, until ``get_goals(n)`` returns nothing, it asks the tactic model
for all the goals returned in one batched call and, goal by goal, runs the tactics, calls
``process_response(edge)`` once per resulting edge (already in the tree, status propagated),
``tree.mark_explored(node)`` once every tactic was tried, and ``expansion_done(node)``, which
tells the search the goal's expansion is complete (HTPS backs up its simulation there). A search
that values goals (HTPS, UpDown, Fringe) calls ``self.values(goals)``: a plain function, so the
search never imports a model or Ray, and the prover books its time as model time.

``search_trace`` is the contract with the trace files and the visualiser: one small JSON-ready dict
per event, in order. Every entry has ``step`` (the 0-based index of the expansion it belongs to;
-1 before the first selection) and ``event``:

- ``"select"``: ``node`` (id of the goal get_goal returned), ``score`` (the score returned with it),
  ``frontier`` (entries still queued after the pop, stale ones not yet skipped included).
- ``"response"``: ``edge`` (id), ``status`` (the edge's status value when processed), ``pushed``
  (ids of the nodes this edge added to the frontier, in push order).

Searches may add keys of their own to these entries (e.g. HTPS values) or new event kinds; readers
ignore what they do not know. A search declares what its own numbers mean in ``display``: the
first entry of its trace (event ``"display"``, step -1) carries it, so a viewer shows any search's
node scores, edge scores and per-step node sets without knowing the search.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from data.proof_tree import Edge, Goal, InternalNode, Status

ValueFn = Callable[[list[Goal]], list[float]]
"""A goal model's ``values``: for each goal, the log-probability (<= 0) that it is provable."""


@dataclass(frozen=True)
class Display:
    """What a search's own numbers mean, for viewers: key -> a short description.

    ``node_scores`` and ``edge_scores`` name keys of ``InternalNode.scores`` and ``Edge.scores``;
    ``step_nodes`` names keys of its ``select`` entries that hold a list of node ids (UpDown's
    sketch, a Fringe's goals), which a viewer highlights at that step.
    """

    node_scores: Mapping[str, str] = field(default_factory=dict)
    edge_scores: Mapping[str, str] = field(default_factory=dict)
    step_nodes: Mapping[str, str] = field(default_factory=dict)

    def entry(self) -> dict[str, Any]:
        return {
            "step": -1,
            "event": "display",
            "node_scores": dict(self.node_scores),
            "edge_scores": dict(self.edge_scores),
            "step_nodes": dict(self.step_nodes),
        }


def is_expandable(node: InternalNode) -> bool:
    """Only undecided goals nobody has expanded yet are worth a model call."""
    return node.status == Status.OPEN and not node.is_explored


def check_field(value: Any, name: str, ok: Callable[[Any], bool], rule: str) -> None:
    """ValueError naming the config field ``search_model.<name>`` unless ``ok(value)``."""
    if not ok(value):
        raise ValueError(f"search_model.{name}: {rule}, got {value!r}")


def is_number(value: Any) -> bool:
    """A finite int or float, not a bool (YAML's ``true`` is no number)."""
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def check_number(value: Any, name: str, ok: Callable[[float], bool], rule: str) -> None:
    """`check_field` for a parameter that must be a finite number with ``ok(value)``."""
    check_field(value, name, is_number, "must be a finite number")
    check_field(value, name, ok, rule)


class SearchModel(ABC):
    """Chooses the next goal to expand and records why, step by step, in `search_trace`."""

    search_trace: list[dict[str, Any]]
    uses_goal_model: ClassVar[bool] = False
    """True: the search calls ``self.values`` and the run must configure a goal model."""
    display: ClassVar[Display] = Display()

    def __init__(self) -> None:
        self.search_trace = []
        self._step = -1
        self._value_fn: ValueFn | None = None

    def bind(self, values: ValueFn | None) -> None:
        """The goal model's values for the next attempts (the prover calls this before reset)."""
        self._value_fn = values

    def values(self, goals: list[Goal]) -> list[float]:
        """The bound goal model's log-provability of each goal, in one batched call."""
        if self._value_fn is None:
            raise RuntimeError(
                f"{type(self).__name__} values goals but no goal model is bound: configure "
                "search_model.goal_model (e.g. search_model/goal_model/constant.yaml)"
            )
        return self._value_fn(goals)

    @abstractmethod
    def reset(self, root: InternalNode) -> None:
        """Start a new attempt from `root`; clears `search_trace`."""

    @abstractmethod
    def get_goal(self) -> tuple[InternalNode, float] | None:
        """The goal to expand next (its `visit_count` incremented) and its score; None if done."""

    def get_goals(self, n: int) -> list[tuple[InternalNode, float]]:
        """Up to ``n`` distinct goals to expand in one step, best first; empty when done.

        Searches that can choose several goals at once (HTPS's hypertree leaves) override
        this; by default it is one `get_goal`.
        """
        selected = self.get_goal()
        return [] if selected is None else [selected]

    @abstractmethod
    def process_response(self, edge: Edge) -> None:
        """Take in one edge produced by expanding a goal returned."""

    def expansion_done(self, node: InternalNode) -> None:
        """The prover is done with ``node``, a goal it was given (explored, closed, or skipped
        because it was decided meanwhile). Nothing by default."""
        return None

    def _start_trace(self) -> None:
        self.search_trace = [self.display.entry()] if self.display != Display() else []
        self._step = -1

    def _record_select(self, node: InternalNode, score: float | None, **extra: Any) -> None:
        """Count the visit and open a new step in the trace."""
        node.visit_count += 1
        self._step += 1
        self.search_trace.append(
            {"step": self._step, "event": "select", "node": node.id, "score": score, **extra}
        )

    def _record_response(self, edge: Edge, pushed: list[int], **extra: Any) -> None:
        self.search_trace.append(
            {
                "step": self._step,
                "event": "response",
                "edge": edge.id,
                "status": edge.status.value,
                "pushed": pushed,
                **extra,
            }
        )


class FrontierSearch(SearchModel):
    """A search that queues the open goals it discovers and pops them in an order of its own.

    Subclasses supply the queue; this class does the rest once: goals that were proved, failed or
    explored after being queued are skipped when popped (lazily, so no queue is ever rebuilt), and
    every selection and response is recorded.
    """

    def __init__(self) -> None:
        super().__init__()
        self._root: InternalNode | None = None

    @abstractmethod
    def priority(self, node: InternalNode) -> float:
        """The score `node` is queued with (higher is better where the order depends on it)."""

    @abstractmethod
    def _clear(self) -> None:
        """Empty the queue."""

    @abstractmethod
    def _push(self, node: InternalNode, priority: float) -> None:
        """Queue `node`; a node may be queued more than once."""

    @abstractmethod
    def _pop(self) -> tuple[InternalNode, float] | None:
        """Remove and return the next entry, stale or not; None when the queue is empty."""

    @abstractmethod
    def frontier_size(self) -> int:
        """Entries queued, stale ones not yet skipped included."""

    def reset(self, root: InternalNode) -> None:
        self._start_trace()
        self._clear()
        self._root = root
        if is_expandable(root):
            self._enqueue(root)

    def get_goal(self) -> tuple[InternalNode, float] | None:
        if self._root is None:
            raise RuntimeError(f"{type(self).__name__}.get_goal: call reset(root) first")
        if self._root.status != Status.OPEN:
            return None
        while (entry := self._pop()) is not None:
            node, score = entry
            if is_expandable(node):
                self._record_select(node, score, frontier=self.frontier_size())
                return node, score
        return None

    def process_response(self, edge: Edge) -> None:
        if self._root is None:
            raise RuntimeError(f"{type(self).__name__}.process_response: call reset(root) first")
        pushed = []
        for node in edge.dst:
            if isinstance(node, InternalNode) and is_expandable(node):
                self._enqueue(node)
                pushed.append(node.id)
        self._record_response(edge, pushed)

    def _enqueue(self, node: InternalNode) -> None:
        priority = self.priority(node)
        node.scores["priority"] = priority
        self._push(node, priority)

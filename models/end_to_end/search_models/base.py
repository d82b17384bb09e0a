"""Search models decide which open goal the prover expands next.

The prover drives every search the same way: ``reset(root)``; then, until ``get_goal()`` returns
None, it runs tactics on the goal returned, calls ``process_response(edge)`` once per resulting edge
(already in the tree, status propagated) and finally ``tree.mark_explored(node)``.

``search_trace`` is the contract with the trace files and the visualiser: one small JSON-ready dict
per event, in order. Every entry has ``step`` (the 0-based index of the expansion it belongs to;
-1 before the first selection) and ``event``:

- ``"select"``: ``node`` (id of the goal get_goal returned), ``score`` (the score returned with it),
  ``frontier`` (entries still queued after the pop, stale ones not yet skipped included).
- ``"response"``: ``edge`` (id), ``status`` (the edge's status value when processed), ``pushed``
  (ids of the nodes this edge added to the frontier, in push order).

Searches may add keys of their own to these entries (e.g. HTPS values) or new event kinds; readers
ignore what they do not know.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from data.proof_tree import Edge, InternalNode, Status


def is_expandable(node: InternalNode) -> bool:
    """Only undecided goals nobody has expanded yet are worth a model call."""
    return node.status == Status.OPEN and not node.is_explored


class SearchModel(ABC):
    """Chooses the next goal to expand and records why, step by step, in `search_trace`."""

    search_trace: list[dict[str, Any]]

    def __init__(self) -> None:
        self.search_trace = []
        self._step = -1

    @abstractmethod
    def reset(self, root: InternalNode) -> None:
        """Start a new attempt from `root`; clears `search_trace`."""

    @abstractmethod
    def get_goal(self) -> tuple[InternalNode, float] | None:
        """The goal to expand next (its `visit_count` incremented) and its score; None if done."""

    @abstractmethod
    def process_response(self, edge: Edge) -> None:
        """Take in one edge produced by expanding the last goal returned."""

    def _start_trace(self) -> None:
        self.search_trace = []
        self._step = -1

    def _record_select(self, node: InternalNode, score: float, **extra: Any) -> None:
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

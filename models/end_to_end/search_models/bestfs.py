"""Best-first search: expand the open goal with the highest cumulative log-probability."""

from __future__ import annotations

import heapq

from data.proof_tree import InternalNode
from models.end_to_end.search_models.base import Display, FrontierSearch


class BestFS(FrontierSearch):
    """A max-heap on `cumulative_logprob`: O(log n) per push and pop, ties to the first pushed."""

    display = Display(
        node_scores={"priority": "the cumulative log-probability the goal was queued with"}
    )

    def __init__(self) -> None:
        super().__init__()
        # (-priority, push order, node): the push order breaks ties and keeps nodes uncompared.
        self._heap: list[tuple[float, int, InternalNode]] = []
        self._pushes = 0

    def priority(self, node: InternalNode) -> float:
        return node.cumulative_logprob

    def _clear(self) -> None:
        self._heap = []
        self._pushes = 0

    def _push(self, node: InternalNode, priority: float) -> None:
        heapq.heappush(self._heap, (-priority, self._pushes, node))
        self._pushes += 1

    def _pop(self) -> tuple[InternalNode, float] | None:
        if not self._heap:
            return None
        neg_priority, _, node = heapq.heappop(self._heap)
        return node, -neg_priority

    def frontier_size(self) -> int:
        return len(self._heap)

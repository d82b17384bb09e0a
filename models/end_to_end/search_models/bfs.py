"""Breadth-first search: expand open goals in the order they were discovered."""

from __future__ import annotations

from collections import deque

from data.proof_tree import InternalNode
from models.end_to_end.search_models.base import FrontierSearch


class BFS(FrontierSearch):
    """A FIFO queue, so goals are expanded level by level.

    The score is ``-depth`` (depth at first discovery): it does not steer the order, but keeps
    "higher is better" true for every search's scores, so traces read alike.
    """

    def __init__(self) -> None:
        super().__init__()
        self._queue: deque[tuple[InternalNode, float]] = deque()

    def priority(self, node: InternalNode) -> float:
        return float(-node.depth)

    def _clear(self) -> None:
        self._queue = deque()

    def _push(self, node: InternalNode, priority: float) -> None:
        self._queue.append((node, priority))

    def _pop(self) -> tuple[InternalNode, float] | None:
        return self._queue.popleft() if self._queue else None

    def frontier_size(self) -> int:
        return len(self._queue)

"""UpDown: best-first AND/OR search over proof sketches valued by the goal model (AO*-style).

A *sketch* is a partial proof of the root: every expanded goal in it uses one open tactic,
every subgoal of a chosen tactic is in it, and its leaves are unexpanded goals. Its value is
the sum of its leaves' I, the goal model's log-probability that the leaf is provable (minus a
depth penalty). U(g), the "up" score, is the value of the best sketch below g, computed bottom
up as a max over tactics (OR) of sums over subgoals (AND), with a PROVED goal worth 0 and a
FAILED one -inf. Selection follows each goal's cached best tactic from the root and collects the
sketch's unexpanded leaves, so every step costs the sketch and the changed ancestors, never the
tree: U is updated incrementally after each expansion, upwards only while it changes.

The Fringe search (fringe.py) shares the helpers here: ``GoalValues`` (one batched goal-model
call per expansion), ``expansion_complete`` and ``TRACE_IDS``.
"""

from __future__ import annotations

import heapq
import math
from collections import deque

from data.proof_tree import Edge, InternalNode, Status
from models.end_to_end.search_models.base import (
    Display,
    SearchModel,
    ValueFn,
    check_field,
    check_number,
    is_expandable,
)

_OPEN = Status.OPEN
_PROVED = Status.PROVED
_FAILED = Status.FAILED
_NEG_INF = -math.inf

_Tactics = tuple[list[tuple[Edge, int]], list[tuple[Edge, tuple[int, ...]]]]
"""An expanded goal's tactics that can carry a sketch: (tactic, subgoal id) for those with one
subgoal, (tactic, subgoal ids) for those with several."""
_NO_TACTICS: _Tactics = ([], [])

TRACE_IDS = 32
"""Node ids a select entry records of its sketch or fringe (the full count is recorded too)."""


def expansion_complete(node: InternalNode) -> bool:
    """All of a handed-out goal's tactics are in the tree: it is explored, or decided (the
    prover skips the rest of a decided goal's tactics)."""
    return node.is_explored or node.status is not _OPEN


class GoalValues:
    """The goal model's value of each goal a search meets, one batched call per expansion.

    ``add`` queues a goal the first time it is met; ``fetch`` values every queued goal in a
    single call and stores the value under ``node.scores[score_key]``.
    """

    def __init__(self, score_key: str) -> None:
        self.score_key = score_key
        self.value: dict[int, float] = {}
        self._queued: list[InternalNode] = []
        self._seen: set[int] = set()

    def clear(self) -> None:
        self.value = {}
        self._queued = []
        self._seen = set()

    def add(self, node: InternalNode) -> bool:
        """Queue ``node`` for valuation; False if it was met before."""
        if node.id in self._seen:
            return False
        self._seen.add(node.id)
        self._queued.append(node)
        return True

    def add_subgoals(self, node: InternalNode) -> None:
        """Queue the open subgoals of ``node``'s tactics that were not met before."""
        seen, queued = self._seen, self._queued
        for e in node.out_edges:
            for d in e.dst:
                if d.status is _OPEN and d.id not in seen:  # open: a goal, not an error
                    seen.add(d.id)
                    queued.append(d)  # type: ignore[arg-type]

    def fetch(self, values: ValueFn) -> list[InternalNode]:
        """Value the queued goals in one call (none if nothing is queued); the goals valued."""
        queued = self._queued
        if not queued:
            return queued
        self._queued = []
        got = values([node.goal for node in queued])
        key, value = self.score_key, self.value
        for node, v in zip(queued, got, strict=True):
            value[node.id] = v
            node.scores[key] = v
        return queued


class UpDown(SearchModel):
    """Expands a leaf of the best sketch: the sketch whose leaves' I sum highest (log space).

    ``depth_penalty`` γ adds depth·log γ to a non-root goal's I (1: none). ``retain_initial``
    keeps an expanded goal's own I among its alternatives (BAIT's UpDown did), so its U never
    drops below it; by default an expanded goal is worth only what its tactics are worth.
    ``commit_fringe`` hands out every leaf of a chosen sketch before selecting again (BAIT's
    fringe), dropping the rest only when a goal of the sketch is proved or fails; by default
    the search selects again after every expansion, so a disappointing leaf redirects it.
    """

    uses_goal_model = True
    display = Display(
        node_scores={
            "critic": "the goal model's log-probability that the goal is provable",
            "updown_i": "I: the critic plus the depth penalty, depth * log(depth_penalty)",
            "updown_u": "U: the value (sum of leaves' I) of the best sketch below the goal",
        },
        step_nodes={"sketch": f"unexpanded leaves of the chosen sketch (first {TRACE_IDS})"},
    )

    def __init__(
        self,
        depth_penalty: float = 0.99,
        retain_initial: bool = False,
        commit_fringe: bool = False,
    ) -> None:
        super().__init__()
        check_number(depth_penalty, "depth_penalty", lambda x: 0 < x <= 1, "must be in (0, 1]")
        for name, flag in (("retain_initial", retain_initial), ("commit_fringe", commit_fringe)):
            check_field(flag, name, lambda x: isinstance(x, bool), "must be true or false")
        self.depth_penalty = float(depth_penalty)
        self.retain_initial = retain_initial
        self.commit_fringe = commit_fringe
        self._log_gamma = math.log(self.depth_penalty)
        self._root: InternalNode | None = None
        self._clear()

    def _clear(self) -> None:
        self._initial = GoalValues("critic")
        self._i: dict[int, float] = {}  # I per goal id
        self._u: dict[int, float] = {}  # U per goal id
        self._size: dict[int, int] = {}  # nodes of the best sketch below (ties: smaller first)
        self._best: dict[int, Edge | None] = {}  # the tactic U follows, None: none open
        self._tactics: dict[int, _Tactics] = {}  # expanded goal id -> its live tactics
        self._handed: set[int] = set()
        self._seeds: list[InternalNode] = []  # handed out since the last update
        self._queue: deque[InternalNode] = deque()  # commit_fringe: the sketch's leaves left
        self._committed: set[int] = set()  # commit_fringe: node ids of the committed sketch
        self._sketch_ids: list[int] = []
        self._sketch_size = 0
        self._spine: list[InternalNode] = []  # the last sketch, root down to its first fork
        self._at: dict[int, int] = {}  # goal id -> its index in the spine
        self._touched: list[int] = []  # goals recomputed since the last selection

    # The interface.

    def reset(self, root: InternalNode) -> None:
        self._start_trace()
        self._clear()
        self._root = root
        self._initial.add(root)

    def get_goal(self) -> tuple[InternalNode, float] | None:
        selected = self.get_goals(1)
        return selected[0] if selected else None

    def get_goals(self, n: int) -> list[tuple[InternalNode, float]]:
        """Up to ``n`` leaves of the best sketch, highest I first, each scored U(root)."""
        root = self._root
        if root is None:
            raise RuntimeError("UpDown.get_goals: call reset(root) first")
        self._update()
        if root.status is not _OPEN or n <= 0:
            return []
        if self.commit_fringe:
            queue = self._queue
            while queue and not self._is_leaf(queue[0]):
                queue.popleft()
            if not queue:
                queue.extend(self._select())
            chosen: list[InternalNode] = []
            while queue and len(chosen) < n:
                node = queue.popleft()
                if self._is_leaf(node):
                    chosen.append(node)
            left = len(queue)
        else:
            leaves = self._select()
            chosen, left = leaves[:n], max(0, len(leaves) - n)
        if not chosen:
            chosen = self._any_leaves(n)
        score = self._u[root.id]
        out = []
        for node in chosen:
            self._handed.add(node.id)
            self._seeds.append(node)
            self._record_select(
                node,
                score,
                frontier=left,
                sketch=self._sketch_ids,
                sketch_size=self._sketch_size,
            )
            out.append((node, score))
        return out

    def process_response(self, edge: Edge) -> None:
        """Record the edge; its subgoals are taken in with the whole expansion, at the next
        get_goals (all of the goal's tactics are in the tree by then)."""
        if self._root is None:
            raise RuntimeError("UpDown.process_response: call reset(root) first")
        self._record_response(edge, [d.id for d in edge.dst if d.status is _OPEN])

    # Values.

    def initial(self, node: InternalNode) -> float:
        """I(node), once valued."""
        return self._i[node.id]

    def up(self, node: InternalNode) -> float:
        """U(node), as of the last update (the start of the last get_goals)."""
        return self._u[node.id]

    def best_edge(self, node: InternalNode) -> Edge | None:
        """The open tactic U(node) follows, as of the last update."""
        return self._best.get(node.id)

    def _update(self) -> None:
        """Take in the goals expanded since the last step: value their new subgoals in one
        call, then bring U up to date from them upwards."""
        seeds: list[InternalNode] = []
        if self._seeds:
            later = []
            for node in self._seeds:
                if expansion_complete(node):
                    seeds.append(node)
                    self._take_in(node)
                else:
                    later.append(node)  # still being expanded (only outside the prover)
            self._seeds = later
        fresh = self._initial.fetch(self.values)
        if fresh:
            i, u, size, best = self._i, self._u, self._size, self._best
            raw, log_gamma = self._initial.value, self._log_gamma
            for node in fresh:
                nid = node.id
                value = raw[nid] + node.depth * log_gamma if node.depth else raw[nid]
                i[nid] = value
                node.scores["updown_i"] = value
                u[nid] = value
                size[nid] = 1
                best[nid] = None
                node.scores["updown_u"] = value
        if seeds:
            self._propagate(seeds)

    def _take_in(self, node: InternalNode) -> None:
        """Note an expanded goal's live tactics by their subgoals' ids (errors and failed
        subgoals left out, as no sketch can use them), and queue its new subgoals."""
        u, initial = self._u, self._initial
        singles: list[tuple[Edge, int]] = []
        multis: list[tuple[Edge, tuple[int, ...]]] = []
        for e in node.out_edges:
            dst = e.dst
            if len(dst) == 1:
                d = dst[0]
                if d.status is _OPEN:  # else an error, a failed goal, or a proof of this one
                    if d.id not in u:
                        initial.add(d)  # type: ignore[arg-type]
                    singles.append((e, d.id))
                continue
            ids = []
            for d in dst:
                status = d.status
                if status is _FAILED:
                    break
                if status is _OPEN and d.id not in u:
                    initial.add(d)  # type: ignore[arg-type]
                ids.append(d.id)
            else:
                multis.append((e, tuple(ids)))
        self._tactics[node.id] = (singles, multis)

    def _propagate(self, seeds: list[InternalNode]) -> None:
        """Recompute the seeds, then the parents of every goal whose U or sketch size changed.

        A chain of single parents (every goal of a tree) is walked directly. Elsewhere goals
        are taken deepest first, so a goal shared by several parents (a diamond) is queued once
        however many of its children changed, and mostly recomputed once.
        """
        recompute = self._recompute
        if len(seeds) == 1:
            node = seeds[0]
            while recompute(node):
                if self._committed:
                    self._check_commitment(node)
                parents = node.in_edges
                if len(parents) != 1:
                    seeds = [e.src for e in parents]
                    break
                node = parents[0].src
            else:
                return
        heap: list[tuple[int, int, InternalNode]] = []
        queued: set[int] = set()
        for node in seeds:
            if node.id not in queued:
                queued.add(node.id)
                heap.append((-node.depth, node.id, node))
        heapq.heapify(heap)
        while heap:
            node = heapq.heappop(heap)[2]
            queued.discard(node.id)
            if not recompute(node):
                continue
            if self._committed:
                self._check_commitment(node)
            for e in node.in_edges:
                parent = e.src
                if parent.id not in queued:
                    queued.add(parent.id)
                    heapq.heappush(heap, (-parent.depth, parent.id, parent))

    def _check_commitment(self, node: InternalNode) -> None:
        """commit_fringe: a goal of the committed sketch was decided, so select again."""
        if node.status is not _OPEN and node.id in self._committed:
            self._queue.clear()
            self._committed = set()

    def _recompute(self, node: InternalNode) -> bool:
        """U, sketch size and best tactic of ``node`` from its children; True if U or size
        changed. Ties in U go to the smaller sketch: with an uninformative goal model most
        values tie, and the smallest sketch keeps selection and updates shallow."""
        nid = node.id
        self._touched.append(nid)
        status = node.status
        best: Edge | None = None
        if status is _PROVED:
            value, size = 0.0, 0
        elif status is _FAILED:
            value, size = _NEG_INF, 0
        else:
            u, sizes = self._u, self._size
            value, size = _NEG_INF, 0
            singles, multis = self._tactics.get(nid, _NO_TACTICS)
            for e, c in singles:
                v = u[c]
                if best is not None and v < value:
                    continue
                s = 1 + sizes[c]
                if v == _NEG_INF and e.dst[0].status is _FAILED:
                    continue  # the subgoal failed since: no sketch goes this way
                if best is None or v > value or s < size:
                    best, value, size = e, v, s
            for e, cs in multis:
                v = 0.0
                s = 1
                for c in cs:
                    v += u[c]
                    s += sizes[c]
                if best is not None and v < value:
                    continue
                if v == _NEG_INF and any(d.status is _FAILED for d in e.dst):
                    continue
                if best is None or v > value or s < size:
                    best, value, size = e, v, s
            explored = node.is_explored
            if best is None or (not explored and nid not in self._handed):
                size = 1  # a leaf: of every sketch reaching it, or of none
            if not explored or self.retain_initial:
                own = self._i[nid]
                if own > value:
                    value = own
        self._best[nid] = best
        if value != self._u[nid]:
            self._u[nid] = value
            self._size[nid] = size
            node.scores["updown_u"] = value
            return True
        if size != self._size[nid]:
            self._size[nid] = size
            return True
        return False

    # Selection.

    def _is_leaf(self, node: InternalNode) -> bool:
        return is_expandable(node) and node.id not in self._handed

    def _select(self) -> list[InternalNode]:
        """The best sketch's unexpanded leaves, highest I first, found along best tactics.

        An expanded goal is passed through along its best open tactic even where its own I
        would be worth more (``retain_initial``): it cannot be expanded again. The sketch's
        spine (from the root down its chain of single subgoals) is kept between selections
        and walked again only from the highest goal recomputed since, so a step costs the
        changed part of the sketch, not its depth.
        """
        root = self._root
        assert root is not None
        best, handed = self._best, self._handed
        spine, at = self._spine, self._at
        if spine:
            j = len(spine) - 1
            for nid in self._touched:
                k = at.get(nid)
                if k is not None and k < j:
                    j = k
            node = spine[j]
            for x in spine[j:]:
                del at[x.id]
            del spine[j:]
        else:
            node = root
        self._touched = []
        leaves: list[InternalNode] = []
        stack: list[InternalNode] = []
        while True:
            at[node.id] = len(spine)
            spine.append(node)
            if node.status is not _OPEN:
                break
            nid = node.id
            if not node.is_explored and nid not in handed:
                leaves.append(node)
                break
            e = best[nid]
            if e is None:
                break
            # An open tactic's subgoals are goals (error and proof-finished nodes come alone,
            # in tactics that are not open).
            dst = e.dst
            if len(dst) != 1:
                stack.extend(reversed(dst))  # type: ignore[arg-type]
                break
            node = dst[0]  # type: ignore[assignment]
        seen = {x.id for x in stack}
        while stack:
            node = stack.pop()
            if node.status is not _OPEN:
                continue
            nid = node.id
            if not node.is_explored and nid not in handed:
                leaves.append(node)
                continue
            e = best[nid]
            if e is None:
                continue
            for d in reversed(e.dst):
                if d.id not in seen:
                    seen.add(d.id)
                    stack.append(d)  # type: ignore[arg-type]
        if self.commit_fringe:
            self._committed = seen.union(at)
        if len(leaves) > 1:
            i = self._i
            leaves.sort(key=lambda x: -i[x.id])
        self._sketch_ids = [x.id for x in leaves[:TRACE_IDS]]
        self._sketch_size = len(leaves)
        return leaves

    def _any_leaves(self, n: int) -> list[InternalNode]:
        """Up to ``n`` expandable goals reachable along open tactics, when the best sketch has
        none (only when goals were handed out and not expanded, as a prover out of budget
        leaves them). Costs the reachable tree, once."""
        root = self._root
        assert root is not None
        found: list[InternalNode] = []
        seen = {root.id}
        stack = [root]
        while stack and len(found) < n:
            node = stack.pop()
            if node.status is not _OPEN:
                continue
            if self._is_leaf(node):
                found.append(node)
                continue
            for e in node.out_edges:
                if e.status is _OPEN:
                    for d in e.dst:
                        if d.id not in seen and isinstance(d, InternalNode):
                            seen.add(d.id)
                            stack.append(d)
        self._sketch_ids = [x.id for x in found[:TRACE_IDS]]
        self._sketch_size = len(found)
        return found

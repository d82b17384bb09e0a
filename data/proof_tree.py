"""The proof tree of one proof attempt: an AND/OR hypergraph of goals and tactic applications.

Edges out of a node are alternatives (OR); the nodes an edge leads to are all needed (AND).
Goals are deduplicated per attempt, so the graph is a DAG; cycles are refused when an edge is added.
Status and distance-to-proof propagate upwards as edges are added, so searches never walk the
whole tree. Pure data: stdlib only, so every search, prover and trace writer can share it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeAlias


class Status(str, Enum):
    """Whether a node or edge is known to be proved, known to be unprovable here, or undecided."""

    PROVED = "proved"
    FAILED = "failed"
    OPEN = "open"


class ErrorKind(str, Enum):
    """Why a tactic application led nowhere; `rejected` means it failed the safe-grammar check."""

    TACTIC_ERROR = "tactic_error"
    TACTIC_TIMEOUT = "tactic_timeout"
    PROCESS_CRASH = "process_crash"
    CYCLE = "cycle"
    NO_PROGRESS = "no_progress"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Goal:
    """A goal as the prover states it; the s-expressions, when present, are its exact identity."""

    conclusion: str
    hypotheses: tuple[str, ...] = ()
    conclusion_sexp: str | None = None
    hypothesis_sexps: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Lists would make the goal unhashable and break deduplication with a confusing error.
        for name in ("hypotheses", "hypothesis_sexps"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))

    @property
    def key(self) -> tuple[Any, ...]:
        """Dedup identity: the machine form when known, as printed text can be ambiguous."""
        if self.conclusion_sexp is not None:
            return (self.hypothesis_sexps, self.conclusion_sexp)
        return (self.hypotheses, self.conclusion)

    def __str__(self) -> str:
        hyps = ", ".join(self.hypotheses)
        return f"{hyps} |- {self.conclusion}" if hyps else f"|- {self.conclusion}"


@dataclass(eq=False)
class InternalNode:
    """A goal still to prove; `scores` holds search-specific numbers (e.g. "priority")."""

    goal: Goal
    cumulative_logprob: float
    depth: int
    id: int
    out_edges: list[Edge] = field(default_factory=list, repr=False)
    in_edges: list[Edge] = field(default_factory=list, repr=False)
    visit_count: int = 0
    is_explored: bool = False
    status: Status = Status.OPEN
    distance_to_proof: float = math.inf
    scores: dict[str, float] = field(default_factory=dict)


@dataclass(eq=False)
class ProofFinishedNode:
    """What a tactic that closes its goal leads to."""

    id: int
    status: Status = field(default=Status.PROVED, init=False)
    distance_to_proof: float = field(default=0.0, init=False)


@dataclass(eq=False)
class ErrorNode:
    """What a failed tactic leads to; kept so traces record why the branch died."""

    kind: ErrorKind
    message: str
    id: int
    status: Status = field(default=Status.FAILED, init=False)
    distance_to_proof: float = field(default=math.inf, init=False)


Node: TypeAlias = InternalNode | ProofFinishedNode | ErrorNode


@dataclass(eq=False)
class Edge:
    """One tactic application: `src` is proved by this edge once every node in `dst` is.

    `scores` holds search-specific numbers about the tactic (HTPS: its visits and value)."""

    id: int
    tactic: str
    src: InternalNode
    dst: list[Node]
    logprob: float
    time_s: float = 0.0
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def status(self) -> Status:
        if any(d.status == Status.FAILED for d in self.dst):
            return Status.FAILED
        if all(d.status == Status.PROVED for d in self.dst):
            return Status.PROVED
        return Status.OPEN

    @property
    def distance_to_proof(self) -> float:
        """Tactic applications needed to finish through this edge (shared subproofs count twice)."""
        return 1 + sum(d.distance_to_proof for d in self.dst)

    def __repr__(self) -> str:
        # The default repr would recurse through src/dst into the whole tree.
        dst = [d.id for d in self.dst]
        return f"Edge(id={self.id}, tactic={self.tactic!r}, src={self.src.id}, dst={dst})"


@dataclass(frozen=True)
class ProofStep:
    """One line of a replayable proof: `tactic` on `goal` yields exactly `subgoals`."""

    goal: Goal
    tactic: str
    subgoals: tuple[Goal, ...]
    edge_id: int


class ProofTree:
    """The search graph of one attempt; `nodes[i].id == i` and `edges[i].id == i`."""

    def __init__(self, root_goal: Goal) -> None:
        self.root = InternalNode(goal=root_goal, cumulative_logprob=0.0, depth=0, id=0)
        self.nodes: list[Node] = [self.root]
        self.edges: list[Edge] = []
        self._by_key: dict[tuple[Any, ...], InternalNode] = {root_goal.key: self.root}

    @property
    def size(self) -> int:
        """All nodes, error and proof-finished nodes included."""
        return len(self.nodes)

    def find(self, goal: Goal) -> InternalNode | None:
        return self._by_key.get(goal.key)

    def add_edge(
        self,
        src: InternalNode,
        tactic: str,
        logprob: float,
        subgoals: Sequence[Goal] | None = None,
        error: tuple[ErrorKind, str] | None = None,
        time_s: float = 0.0,
    ) -> Edge:
        """Record the result of applying `tactic` to `src`: an error, or the subgoals it left.

        An error takes precedence over subgoals. A subgoal equal to `src` or to one of its
        ancestors turns the edge into a single NO_PROGRESS or CYCLE error; the graph stays a DAG.
        """
        if src.id >= len(self.nodes) or self.nodes[src.id] is not src:
            raise ValueError(f"add_edge: node {src.id} is not a node of this tree")
        if error is None and subgoals is None:
            raise ValueError(f"add_edge: tactic {tactic!r} needs either subgoals or an error")

        dst: list[Node] = []
        if error is not None:
            dst.append(self._new_error(error[0], error[1]))
        elif not subgoals:
            dst.append(self._new_node(ProofFinishedNode(id=len(self.nodes))))
        else:
            unique: dict[tuple[Any, ...], Goal] = {}
            for goal in subgoals:
                unique.setdefault(goal.key, goal)
            refusal = self._refusal(src, list(unique.values()))
            if refusal is not None:
                dst.append(self._new_error(*refusal))
            else:
                for goal in unique.values():
                    node = self._by_key.get(goal.key)
                    if node is None:
                        node = InternalNode(
                            goal=goal,
                            cumulative_logprob=src.cumulative_logprob + logprob,
                            depth=src.depth + 1,
                            id=len(self.nodes),
                        )
                        self._new_node(node)
                        self._by_key[goal.key] = node
                    dst.append(node)

        edge = Edge(
            id=len(self.edges), tactic=tactic, src=src, dst=dst, logprob=logprob, time_s=time_s
        )
        self.edges.append(edge)
        src.out_edges.append(edge)
        for d in dst:
            if isinstance(d, InternalNode):
                d.in_edges.append(edge)
        status = edge.status
        # Fast path (most edges): an unproved edge cannot change an OPEN source unless the
        # source is explored and the edge failed; skip re-scanning the source's edges.
        if not (
            src.status == Status.OPEN
            and status != Status.PROVED
            and (status == Status.OPEN or not src.is_explored)
        ):
            self._propagate(src)
        return edge

    def mark_explored(self, node: InternalNode) -> None:
        """Declare that no more edges will be tried from `node`, so its failure can be concluded."""
        node.is_explored = True
        self._propagate(node)

    def extract_proof(self) -> list[ProofStep] | None:
        """The shortest known proof as a pre-order script, or None while the root is unproved.

        A goal shared by several branches is emitted once, at its first occurrence.
        """
        if self.root.status != Status.PROVED:
            return None
        steps: list[ProofStep] = []
        emitted: set[int] = set()
        stack: list[InternalNode] = [self.root]
        while stack:
            node = stack.pop()
            if node.id in emitted:
                continue
            emitted.add(node.id)
            best = self._best_proved_edge(node)
            children = [d for d in best.dst if isinstance(d, InternalNode)]
            steps.append(
                ProofStep(node.goal, best.tactic, tuple(c.goal for c in children), best.id)
            )
            stack.extend(reversed(children))
        return steps

    def _new_node(self, node: Node) -> Node:
        self.nodes.append(node)
        return node

    def _new_error(self, kind: ErrorKind, message: str) -> ErrorNode:
        node = ErrorNode(kind=kind, message=message, id=len(self.nodes))
        self.nodes.append(node)
        return node

    def _refusal(self, src: InternalNode, subgoals: list[Goal]) -> tuple[ErrorKind, str] | None:
        """NO_PROGRESS/CYCLE error for the first subgoal that repeats `src` or an ancestor."""
        ancestors: set[int] | None = None
        for goal in subgoals:
            if goal.key == src.goal.key:
                return ErrorKind.NO_PROGRESS, f"tactic left the goal unchanged: {goal}"
            existing = self._by_key.get(goal.key)
            if existing is None:
                continue  # a goal never seen cannot be an ancestor
            if ancestors is None:
                ancestors = self._ancestors(src)
            if existing.id in ancestors:
                return (
                    ErrorKind.CYCLE,
                    f"subgoal repeats ancestor goal (node {existing.id}): {goal}",
                )
        return None

    def _ancestors(self, node: InternalNode) -> set[int]:
        seen: set[int] = set()
        stack = [e.src for e in node.in_edges]
        while stack:
            n = stack.pop()
            if n.id not in seen:
                seen.add(n.id)
                stack.extend(e.src for e in n.in_edges)
        return seen

    def _propagate(self, start: InternalNode) -> None:
        """Recompute `start`, then its parents, only while something changes."""
        worklist = [start]
        while worklist:
            node = worklist.pop()
            if self._recompute(node):
                worklist.extend(e.src for e in node.in_edges)

    @staticmethod
    def _recompute(node: InternalNode) -> bool:
        proved = [e.distance_to_proof for e in node.out_edges if e.status == Status.PROVED]
        if proved:
            status = Status.PROVED
        elif node.is_explored and all(e.status == Status.FAILED for e in node.out_edges):
            status = Status.FAILED
        else:
            status = Status.OPEN
        distance = min(proved, default=math.inf)
        changed = status != node.status or distance != node.distance_to_proof
        node.status, node.distance_to_proof = status, distance
        return changed

    @staticmethod
    def _best_proved_edge(node: InternalNode) -> Edge:
        best: Edge | None = None
        for e in node.out_edges:
            if e.status == Status.PROVED and (
                best is None or e.distance_to_proof < best.distance_to_proof
            ):
                best = e
        assert best is not None, f"node {node.id} is PROVED without a proved edge"
        return best

"""The proof trace format: one JSON record per proof attempt, as pydantic models.

A trace holds the theorem, the environment, the outcome, every node and edge of the proof tree
in execution order, the extracted proof, the time split, the search model's own step-by-step
record and which models produced it. It is plain JSON: ``ProofTrace.model_json_schema()`` (or
``python -m experiments.end_to_end.traces schema``) documents it for readers without this code.

Versions: ``SCHEMA_VERSION`` is written; ``READABLE_VERSIONS`` load, older ones through
``upgrade`` (schema 1 had no ``role``; its traces load as role ``eval``; schema 2 had no edge
``scores``; its edges load with none).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, NonNegativeInt, model_validator

from data.jsonable import finite, jsonable
from data.proof_tree import (
    Edge,
    ErrorKind,
    ErrorNode,
    Goal,
    InternalNode,
    Node,
    ProofFinishedNode,
    ProofStep,
    ProofTree,
    Status,
)

SCHEMA_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)

AttemptStatus = Literal["proved", "failed", "timeout", "error"]
"""proved: the root is proved; failed: the search ran out of goals; timeout: a budget ran out;
error: the attempt itself did not run to an end (infrastructure: a dead worker, a dead server)."""
STATUSES: tuple[str, ...] = ("proved", "failed", "timeout", "error")
Role = Literal["eval", "data"]
"""eval: counts for Pass@1; data: attempted only to gather training data."""
Outcome = Literal[
    "proved",
    "subgoals",
    "tactic_error",
    "tactic_timeout",
    "process_crash",
    "cycle",
    "no_progress",
    "rejected",
]


class TraceModel(BaseModel):
    """Strict JSON: unknown fields are errors, NaN and infinities are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class GoalRecord(TraceModel):
    """A goal as the prover states it; the s-expressions, when present, are its exact identity."""

    conclusion: str
    hypotheses: list[str] = []
    conclusion_sexp: str | None = None
    hypothesis_sexps: list[str] = []

    @model_validator(mode="after")
    def _sexps_match(self) -> GoalRecord:
        if self.hypothesis_sexps:
            if self.conclusion_sexp is None:
                raise ValueError("hypothesis_sexps is set but conclusion_sexp is null")
            if len(self.hypothesis_sexps) != len(self.hypotheses):
                raise ValueError(
                    f"hypothesis_sexps must have one entry per hypothesis "
                    f"({len(self.hypothesis_sexps)} != {len(self.hypotheses)})"
                )
        return self

    @classmethod
    def of(cls, goal: Goal) -> GoalRecord:
        return cls(
            conclusion=goal.conclusion,
            hypotheses=list(goal.hypotheses),
            conclusion_sexp=goal.conclusion_sexp,
            hypothesis_sexps=list(goal.hypothesis_sexps),
        )

    def to_goal(self) -> Goal:
        return Goal(
            self.conclusion,
            tuple(self.hypotheses),
            self.conclusion_sexp,
            tuple(self.hypothesis_sexps),
        )


class InternalNodeRecord(TraceModel):
    """A goal of the search; ``scores`` holds search-specific numbers (null: not finite)."""

    type: Literal["internal"] = "internal"
    id: NonNegativeInt
    status: Status
    goal: GoalRecord
    depth: NonNegativeInt
    visit_count: NonNegativeInt
    cumulative_logprob: float | None
    distance_to_proof: float | None = Field(description="null while no proof is known")
    is_explored: bool
    scores: dict[str, float | None] = {}


class ProofFinishedNodeRecord(TraceModel):
    """What a tactic that closed its goal leads to."""

    type: Literal["proof_finished"] = "proof_finished"
    id: NonNegativeInt
    status: Literal[Status.PROVED] = Status.PROVED


class ErrorNodeRecord(TraceModel):
    """What a failed tactic leads to, and why it failed."""

    type: Literal["error"] = "error"
    id: NonNegativeInt
    status: Literal[Status.FAILED] = Status.FAILED
    kind: ErrorKind
    message: str


NodeRecord = Annotated[
    InternalNodeRecord | ProofFinishedNodeRecord | ErrorNodeRecord, Field(discriminator="type")
]


class EdgeRecord(TraceModel):
    """One tactic application, in execution order: ``src`` is proved once every ``dst`` is."""

    id: NonNegativeInt
    src: NonNegativeInt
    dst: list[NonNegativeInt] = Field(min_length=1)
    tactic: str = Field(description="the tactic text exactly as sent to the environment")
    logprob: float | None
    status: Status
    outcome: Outcome
    error: str = Field(description="the error message when the outcome is an error kind")
    time_s: NonNegativeFloat = Field(description="time inside the environment")
    scores: dict[str, float | None] = Field(
        {}, description="search-specific numbers about the tactic (null: not finite)"
    )


class ProofStepRecord(TraceModel):
    """One line of the proof script: ``tactic`` on ``goal`` leaves exactly ``subgoals``."""

    goal: GoalRecord
    tactic: str
    subgoals: list[GoalRecord]
    edge: NonNegativeInt

    def to_step(self) -> ProofStep:
        return ProofStep(
            self.goal.to_goal(), self.tactic, tuple(g.to_goal() for g in self.subgoals), self.edge
        )


class Timings(TraceModel):
    """Where the attempt's wall-clock time went, in seconds."""

    total_s: NonNegativeFloat = 0.0
    model_s: NonNegativeFloat = 0.0
    env_s: NonNegativeFloat = 0.0
    search_s: NonNegativeFloat = 0.0


class Counts(TraceModel):
    """The attempt's effort: goals expanded, nodes and edges, error nodes by kind."""

    expansions: NonNegativeInt = 0
    nodes: NonNegativeInt = 0
    edges: NonNegativeInt = 0
    errors: dict[str, NonNegativeInt] = {}


class EnvironmentRecord(TraceModel):
    """The environment's name and the config it was built from (enough to rebuild it)."""

    name: str
    config: dict[str, Any]


class ModelRecord(BaseModel):
    """Which model produced the trace: its class, checkpoint and a hash of its config."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    target: str | None = None
    checkpoint: str | None = None
    config_hash: str | None = None


class SearchEvent(BaseModel):
    """One entry of the search model's own record. Every search writes ``select`` entries
    (``node``: the goal chosen, ``score``) and ``response`` entries (``edge``, ``status``,
    ``pushed``); searches may add keys and event kinds, which readers ignore if unknown."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    step: int = Field(ge=-1, description="0-based expansion index; -1 before the first select")
    event: str


class ProofTrace(TraceModel):
    """Everything about one proof attempt (see docs/traces.md)."""

    schema_version: Literal[3] = 3
    theorem_id: str = Field(min_length=1)
    theorem: dict[str, Any] = Field(description="the environment's theorem record")
    environment: EnvironmentRecord
    status: AttemptStatus
    role: Role = "eval"
    iteration: NonNegativeInt
    proof: list[ProofStepRecord] = Field(description="the extracted proof; empty unless proved")
    nodes: list[NodeRecord]
    edges: list[EdgeRecord]
    timings: Timings
    counts: Counts
    search_trace: list[SearchEvent]
    models: dict[str, ModelRecord]
    error: str = Field(
        "",
        description="why an attempt with status error did not run, or why the kernel refused "
        "the proof of a failed one",
    )
    created_unix: float = 0.0

    @property
    def proved(self) -> bool:
        return self.status == "proved"

    def proof_steps(self) -> list[ProofStep]:
        """The extracted proof as `ProofStep`s, in script order (empty unless proved)."""
        return [step.to_step() for step in self.proof]

    @model_validator(mode="after")
    def _consistent(self) -> ProofTrace:
        """What the field types cannot say: ids are indices, edges fit their nodes, the proof
        starts at the root and uses recorded edges. Messages name the field."""
        for i, node in enumerate(self.nodes):
            if node.id != i:
                raise ValueError(f"nodes[{i}].id: is {node.id}, but node ids equal their index")
        if self.nodes and not isinstance(self.nodes[0], InternalNodeRecord):
            raise ValueError("nodes[0]: the root node must be of type 'internal'")
        for i, edge in enumerate(self.edges):
            self._check_edge(i, edge)
        self._check_search_trace()
        if self.status != "proved":
            if self.proof:
                raise ValueError(f"proof: must be empty when status is {self.status!r}")
            return self
        if not self.proof:
            raise ValueError("proof: is empty but status is 'proved'")
        root = self.nodes[0] if self.nodes else None
        if not isinstance(root, InternalNodeRecord) or (
            root.goal.to_goal().key != self.proof[0].goal.to_goal().key
        ):
            raise ValueError("proof[0].goal: the proof's first goal must be the root's goal")
        for i, step in enumerate(self.proof):
            if step.edge >= len(self.edges):
                raise ValueError(
                    f"proof[{i}].edge: edge id {step.edge} does not exist ({len(self.edges)} edges)"
                )
            if self.edges[step.edge].tactic != step.tactic:
                raise ValueError(f"proof[{i}].tactic: differs from edge {step.edge}'s tactic")
        return self

    def _check_search_trace(self) -> None:
        """The generic entries name nodes and edges that exist (replay depends on it)."""
        for i, entry in enumerate(self.search_trace):
            extra = entry.model_extra or {}
            for event, key, items in (
                ("select", "node", self.nodes),
                ("response", "edge", self.edges),
            ):
                ref = extra.get(key)
                if entry.event == event and isinstance(ref, int) and not 0 <= ref < len(items):
                    raise ValueError(
                        f"search_trace[{i}].{key}: {key} id {ref} does not exist "
                        f"({len(items)} {key}s)"
                    )

    def _check_edge(self, i: int, edge: EdgeRecord) -> None:
        where, count = f"edges[{i}]", len(self.nodes)
        if edge.id != i:
            raise ValueError(f"{where}.id: is {edge.id}, but edge ids equal their index")
        for label, node_id in [
            ("src", edge.src),
            *((f"dst[{j}]", d) for j, d in enumerate(edge.dst)),
        ]:
            if node_id >= count:
                raise ValueError(
                    f"{where}.{label}: node id {node_id} does not exist ({count} nodes)"
                )
        if not isinstance(self.nodes[edge.src], InternalNodeRecord):
            raise ValueError(f"{where}.src: node {edge.src} is not an internal node")
        expected = {"proved": "proof_finished", "subgoals": "internal"}.get(edge.outcome, "error")
        types = [self.nodes[d].type for d in edge.dst]
        if any(t != expected for t in types) or (expected != "internal" and len(types) != 1):
            raise ValueError(f"{where}.dst: node types {types} do not fit outcome {edge.outcome!r}")

    @classmethod
    def from_tree(
        cls,
        *,
        theorem_id: str,
        theorem: Mapping[str, Any],
        environment: Mapping[str, Any],
        tree: ProofTree,
        status: str,
        iteration: int,
        search_trace: Sequence[Any],
        timings: Timings,
        expansions: int,
        models: Mapping[str, Any],
        role: str = "eval",
        rejected: str = "",
    ) -> ProofTrace:
        """The trace of a finished attempt; `status` is "proved" exactly when the root is.

        ``rejected``: why the environment's kernel refused the tree's proof as a whole
        (``Environment.check_proof``); the attempt is then "failed" with the reason as its
        error and no proof, although the tree's root is proved.
        """
        if rejected:
            if status != "failed" or tree.root.status != Status.PROVED:
                raise ValueError(
                    "ProofTrace.from_tree: a rejected proof needs status 'failed' and a proved "
                    f"root, got {status!r} and {tree.root.status.value}"
                )
        elif (status == "proved") != (tree.root.status == Status.PROVED):
            raise ValueError(
                f"ProofTrace.from_tree: status {status!r} but the tree's root is "
                f"{tree.root.status.value} (status must be 'proved' exactly when the root is)"
            )
        errors = Counter(n.kind.value for n in tree.nodes if isinstance(n, ErrorNode))
        return cls.model_validate(
            {
                "theorem_id": theorem_id,
                "theorem": jsonable(theorem, "theorem"),
                "environment": jsonable(environment, "environment"),
                "status": status,
                "role": role,
                "iteration": iteration,
                "proof": [] if rejected else [_step_record(s) for s in tree.extract_proof() or []],
                "nodes": [_node_record(n) for n in tree.nodes],
                "edges": [_edge_record(e) for e in tree.edges],
                "timings": timings,
                "counts": Counts(
                    expansions=expansions,
                    nodes=tree.size,
                    edges=len(tree.edges),
                    errors=dict(sorted(errors.items())),
                ),
                "search_trace": jsonable(list(search_trace), "search_trace"),
                "models": jsonable(models, "models"),
                "error": f"the kernel refused the proof: {rejected}" if rejected else "",
                "created_unix": time.time(),
            }
        )

    @classmethod
    def error_trace(
        cls,
        *,
        theorem_id: str,
        theorem: Mapping[str, Any],
        environment: Mapping[str, Any],
        iteration: int,
        message: str,
        models: Mapping[str, Any] | None = None,
        role: str = "eval",
    ) -> ProofTrace:
        """The trace of an attempt that did not run to an end (e.g. its worker died twice)."""
        return cls.model_validate(
            {
                "theorem_id": theorem_id,
                "theorem": jsonable(theorem, "theorem"),
                "environment": jsonable(environment, "environment"),
                "status": "error",
                "role": role,
                "iteration": iteration,
                "proof": [],
                "nodes": [],
                "edges": [],
                "timings": Timings(),
                "counts": Counts(),
                "search_trace": [],
                "models": jsonable(models or {}, "models"),
                "error": message,
                "created_unix": time.time(),
            }
        )


def upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """A trace of an older readable schema as the current one (data only, not yet validated)."""
    if data.get("schema_version") == 1:
        data = {**data, "schema_version": 2, "role": data.get("role", "eval")}
    if data.get("schema_version") == 2:
        data = {**data, "schema_version": 3}  # edges without scores load with none
    return data


def _node_record(node: Node) -> dict[str, Any]:
    if isinstance(node, InternalNode):
        return {
            "type": "internal",
            "id": node.id,
            "status": node.status,
            "goal": GoalRecord.of(node.goal),
            "depth": node.depth,
            "visit_count": node.visit_count,
            "cumulative_logprob": finite(node.cumulative_logprob),
            "distance_to_proof": finite(node.distance_to_proof),
            "is_explored": node.is_explored,
            "scores": jsonable(node.scores, f"nodes[{node.id}].scores"),
        }
    if isinstance(node, ErrorNode):
        return {"type": "error", "id": node.id, "kind": node.kind, "message": node.message}
    return {"type": "proof_finished", "id": node.id}


def _edge_record(edge: Edge) -> dict[str, Any]:
    first = edge.dst[0]
    if isinstance(first, ErrorNode):
        outcome, error = first.kind.value, first.message
    elif isinstance(first, ProofFinishedNode):
        outcome, error = "proved", ""
    else:
        outcome, error = "subgoals", ""
    return {
        "id": edge.id,
        "src": edge.src.id,
        "dst": [d.id for d in edge.dst],
        "tactic": edge.tactic,
        "logprob": finite(edge.logprob),
        "status": edge.status,
        "outcome": outcome,
        "error": error,
        "time_s": edge.time_s if math.isfinite(edge.time_s) else 0.0,
        "scores": jsonable(edge.scores, f"edges[{edge.id}].scores"),
    }


def _step_record(step: ProofStep) -> dict[str, Any]:
    return {
        "goal": GoalRecord.of(step.goal),
        "tactic": step.tactic,
        "subgoals": [GoalRecord.of(g) for g in step.subgoals],
        "edge": step.edge_id,
    }

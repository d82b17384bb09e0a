"""The one per-attempt record: the few figures of a trace that summaries, reports and lists use.

Made from a trace (``AttemptRecord.of``), it is what a ProverWorker returns to the driver (no
tree crosses the object store), one line of ``attempts/<iteration>.jsonl``, one row of the
visualiser's attempt list and one point of the report's plots.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, NonNegativeFloat, NonNegativeInt

from data.traces.schema import AttemptStatus, ProofTrace, Role


class AttemptRecord(BaseModel):
    """One attempt's outcome, effort and time split; ``path`` is its trace file when known."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    theorem_id: str
    iteration: NonNegativeInt
    role: Role = "eval"
    status: AttemptStatus
    total_s: NonNegativeFloat
    model_s: NonNegativeFloat
    env_s: NonNegativeFloat
    search_s: NonNegativeFloat
    expansions: NonNegativeInt
    nodes: NonNegativeInt
    edges: NonNegativeInt
    proof_length: NonNegativeInt
    errors: dict[str, NonNegativeInt]
    error: str = ""
    path: str | None = None
    node_id: str | None = None
    finished_unix: float = 0.0

    @property
    def key(self) -> str:
        """How front ends name an attempt: ``<iteration>/<theorem id>``."""
        return f"{self.iteration}/{self.theorem_id}"

    @classmethod
    def of(
        cls, trace: ProofTrace, path: Path | str | None = None, node_id: str | None = None
    ) -> AttemptRecord:
        t, counts = trace.timings, trace.counts
        return cls(
            theorem_id=trace.theorem_id,
            iteration=trace.iteration,
            role=trace.role,
            status=trace.status,
            total_s=t.total_s,
            model_s=t.model_s,
            env_s=t.env_s,
            search_s=t.search_s,
            expansions=counts.expansions,
            nodes=counts.nodes,
            edges=counts.edges,
            proof_length=len(trace.proof),
            errors=dict(counts.errors),
            error=trace.error,
            path=str(path) if path is not None else None,
            node_id=node_id,
            finished_unix=trace.created_unix,
        )

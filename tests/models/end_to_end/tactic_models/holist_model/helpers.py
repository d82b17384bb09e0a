"""Hand-built HOL Light proof traces and a tiny model config for the HOList model's tests."""

from __future__ import annotations

from typing import Any

from data.hol_light.database import TheoremDatabase
from data.proof_tree import ErrorKind, Goal, ProofTree
from data.traces.schema import ProofTrace, Timings

# A tiny model, so that each test builds and trains in seconds.
TINY_MODEL: dict[str, Any] = {
    "encoder": {"_target_": "models.embeddings.gnn.TermGraphEncoder", "dim": 16, "layers": 1},
    "hidden_dim": 32,
    "num_variable_names": 8,
}


def goal(name: str, hypothesis: str | None = None) -> Goal:
    """The statement of database theorem ``name`` as a goal, optionally under a hypothesis."""
    db = TheoremDatabase.cached()
    record = db[name]
    if hypothesis is None:
        return Goal(record.statement, conclusion_sexp=record.sexp)
    hyp = db[hypothesis]
    return Goal(record.statement, (hyp.statement,), record.sexp, (hyp.sexp,))


def trace(theorem: str, iteration: int, steps: list[tuple[Goal, str, Goal | None]]) -> ProofTrace:
    """A trace whose proof is ``steps`` (goal, tactic, the one subgoal or None if it closes).

    The first goal must be the theorem's; empty ``steps`` give a failed attempt.
    """
    tree = ProofTree(goal(theorem))
    nodes = {tree.root.goal.key: tree.root}
    for g, tactic, subgoal in steps:
        edge = tree.add_edge(nodes[g.key], tactic, -0.5, subgoals=[subgoal] if subgoal else [])
        if subgoal is not None:
            nodes[subgoal.key] = edge.dst[0]  # type: ignore[assignment]
    if not steps:
        tree.add_edge(tree.root, "ARITH_TAC", -0.1, error=(ErrorKind.TACTIC_ERROR, "failed"))
    return ProofTrace.from_tree(
        theorem_id=theorem,
        theorem=TheoremDatabase.cached()[theorem].to_dict(),
        environment={"name": "hol_light", "config": {}},
        tree=tree,
        status="proved" if steps else "failed",
        iteration=iteration,
        search_trace=[],
        timings=Timings(),
        expansions=len(steps),
        models={},
    )

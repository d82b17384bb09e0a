"""A hand-built proof tree with every kind of edge, its trace, and a table-driven fake prover."""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from data.jsonable import config_hash
from data.proof_tree import ErrorKind, Goal, ProofTree
from data.traces.schema import ProofTrace, Timings
from environments.base import Environment, Failure, Premise, Proved, Subgoals, TacticOutcome

ROOT = Goal("a /\\ b", conclusion_sexp="(a (a (c /\\) a) b)")
A = Goal("a", ("h",), "(v bool a)", ("(v bool h)",))
B = Goal("b", conclusion_sexp="(v bool b)")
C = Goal("c", conclusion_sexp="(v bool c)")
D = Goal("d", conclusion_sexp="(v bool d)")
E = Goal("e", conclusion_sexp="(v bool e)")

THEOREM = {"name": "CONJ_AB", "statement": ROOT.conclusion, "sexp": ROOT.conclusion_sexp}
ENVIRONMENT = {"name": "fake", "config": {"timeout": 5.0, "tactics": ["CONJ_TAC", "ARITH_TAC"]}}
MODELS = {"tac_model": {"checkpoint": None, "config_hash": config_hash({"lr": 1e-3})}}

# The tactic table the fake prover answers from: what the hand-built tree below records.
PROOF_TABLE: dict[tuple[Any, str], TacticOutcome] = {
    (ROOT.key, "CONJ_TAC"): Subgoals((A, B), 0.01),
    (A.key, "REWRITE_TAC[A_IMP_C]"): Subgoals((C,), 0.01),
    (B.key, "REWRITE_TAC[B_IMP_C]"): Subgoals((C,), 0.01),
    (C.key, "ARITH_TAC"): Proved(0.01),
}


def build_tree(prove: bool = True) -> ProofTree:
    """A tree with an error branch, a timeout, a proved AND branch sharing C, and an open node."""
    tree = ProofTree(ROOT)
    root = tree.root
    tree.add_edge(root, "BAD_TAC", -2.0, error=(ErrorKind.TACTIC_ERROR, "boom"), time_s=0.1)
    tree.add_edge(root, "SLOW_TAC", -3.0, error=(ErrorKind.TACTIC_TIMEOUT, "5s"), time_s=5.0)
    conj = tree.add_edge(root, "CONJ_TAC", -0.5, subgoals=[A, B], time_s=0.2)
    a, b = conj.dst
    assert a.id != b.id
    to_c = tree.add_edge(a, "REWRITE_TAC[A_IMP_C]", -0.1, subgoals=[C])  # type: ignore[arg-type]
    tree.add_edge(b, "REWRITE_TAC[B_IMP_C]", -0.2, subgoals=[C])  # type: ignore[arg-type]
    tree.add_edge(root, "DISJ_TAC", -1.5, subgoals=[D])
    c = to_c.dst[0]
    c.visit_count = 3  # type: ignore[union-attr]
    c.scores["priority"] = -math.inf  # type: ignore[union-attr]
    if prove:
        tree.add_edge(c, "ARITH_TAC", -0.05, subgoals=[])  # type: ignore[arg-type]
    return tree


def make_trace(
    prove: bool = True, theorem_id: str = "CONJ_AB", iteration: int = 0, **kw: Any
) -> ProofTrace:
    return ProofTrace.from_tree(
        theorem_id=theorem_id,
        theorem=kw.pop("theorem", THEOREM),
        environment=ENVIRONMENT,
        tree=build_tree(prove),
        status="proved" if prove else kw.pop("status", "failed"),
        iteration=iteration,
        search_trace=[
            {"step": 0, "event": "select", "node": 0, "score": 0.0},
            {"step": 1, "event": "select", "node": 3, "score": -math.inf},
        ],
        timings=Timings(total_s=6.5, model_s=1.0, env_s=5.3, search_s=0.2),
        expansions=4,
        models=MODELS,
        **kw,
    )


def trace_data(**kw: Any) -> dict[str, Any]:
    """A good trace as the JSON data a file holds."""
    data: dict[str, Any] = json.loads(make_trace(**kw).model_dump_json())
    return data


def gz_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(json.dumps(data).encode()))
    return path


class FakeEnv(Environment):
    """A prover answering from a table: (goal key, tactic) -> outcome; anything else fails."""

    name = "fake"

    def __init__(self, thm: dict[str, Any], table: dict[tuple[Any, str], TacticOutcome]) -> None:
        super().__init__(thm, timeout=1.0)
        self.table = table
        self.started = self.stopped = 0
        self.applied: list[tuple[str, str, float]] = []  # (conclusion, tactic, timeout)

    @classmethod
    def theorem_id(cls, thm: Any) -> str:
        return str(thm["name"])

    @classmethod
    def theorem_to_dict(cls, thm: Any) -> dict[str, Any]:
        return dict(thm)

    @classmethod
    def theorem_from_dict(cls, data: dict[str, Any]) -> Any:
        return dict(data)

    def start(self) -> Goal:
        self.started += 1
        return Goal(self.thm["statement"], conclusion_sexp=self.thm["sexp"])

    def stop(self) -> None:
        self.stopped += 1

    def retrieve_premises(self) -> list[Premise]:
        return []

    def apply(self, goal: Goal, tactic: str, timeout: float) -> TacticOutcome:
        self.applied.append((goal.conclusion, tactic, timeout))
        return self.table.get(
            (goal.key, tactic), Failure(ErrorKind.TACTIC_ERROR, f"no such tactic {tactic}", 0.0)
        )


def factory(table: dict[tuple[Any, str], TacticOutcome]) -> Callable[[dict[str, Any]], FakeEnv]:
    return lambda thm: FakeEnv(thm, table)

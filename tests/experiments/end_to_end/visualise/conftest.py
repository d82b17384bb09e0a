"""Traces made by the real proof tree and the real BestFS search, over a table of outcomes."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from data.proof_tree import ErrorKind, Goal, ProofTree, Status
from data.traces.files import trace_path, write_trace
from data.traces.schema import ProofTrace, Timings
from models.end_to_end.search_models.bestfs import BestFS

ROOT = Goal("a /\\ b", conclusion_sexp="(conj a b)")
A = Goal("a", ("h",), "(v a)", ("(v h)",))
B = Goal("b", conclusion_sexp="(v b)")
C = Goal("c", conclusion_sexp="(v c)")
BESTFS = "models.end_to_end.search_models.bestfs.BestFS"
REPO = Path(__file__).resolve().parents[4]

# goal -> tactics tried on it, in order: (tactic, logprob, subgoals or an error kind)
TABLE: dict[Goal, list[tuple[str, float, Any]]] = {
    ROOT: [
        ("BAD_TAC", -2.0, ErrorKind.TACTIC_ERROR),
        ("SLOW_TAC", -3.0, ErrorKind.TACTIC_TIMEOUT),
        ("CONJ_TAC", -0.5, [A, B]),
    ],
    A: [("REWRITE_TAC[A_IMP_C]", -0.1, [C])],
    B: [("REWRITE_TAC[B_IMP_C]", -0.2, [C])],
    C: [("ARITH_TAC", -0.05, [])],
}


def search_trace_of(
    theorem_id: str = "CONJ_AB", iteration: int = 0, prove: bool = True, target: str = BESTFS
) -> ProofTrace:
    """Drive BestFS over TABLE exactly as the prover does and record the attempt."""
    tree = ProofTree(ROOT)
    search = BestFS()
    search.reset(tree.root)
    expansions = 0
    while tree.root.status == Status.OPEN and (chosen := search.get_goal()) is not None:
        node, _ = chosen
        expansions += 1
        for tactic, logprob, outcome in TABLE[node.goal]:
            if not prove and tactic == "ARITH_TAC":
                continue
            if isinstance(outcome, ErrorKind):
                edge = tree.add_edge(node, tactic, logprob, error=(outcome, "it broke"), time_s=0.1)
            else:
                edge = tree.add_edge(node, tactic, logprob, subgoals=outcome, time_s=0.01)
            search.process_response(edge)
        tree.mark_explored(node)
    return ProofTrace.from_tree(
        theorem_id=theorem_id,
        theorem={"name": theorem_id, "statement": ROOT.conclusion},
        environment={"name": "fake", "config": {}},
        tree=tree,
        status="proved" if tree.root.status == Status.PROVED else "failed",
        iteration=iteration,
        search_trace=search.search_trace,
        timings=Timings(total_s=1.5, model_s=0.5, env_s=0.9, search_s=0.1),
        expansions=expansions,
        models={"search_model": {"target": target, "checkpoint": None, "config_hash": "x"}},
    )


def write_old_schema(run_dir: Path, theorem_id: str, iteration: int = 0) -> Path:
    """A well-formed trace file of schema version 0."""
    path = trace_path(run_dir, iteration, theorem_id)
    data = search_trace_of(theorem_id, iteration).model_dump(mode="json")
    data["schema_version"] = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        json.dump(data, f)
    return path


@pytest.fixture
def messy_run(tmp_path: Path) -> Path:
    """A run with good traces in two iterations, a corrupt file and an old-schema file."""
    run_dir = tmp_path / "run"
    write_trace(search_trace_of("CONJ_AB", 0), run_dir)
    write_trace(search_trace_of("OPEN_ONE", 0, prove=False), run_dir)
    write_trace(search_trace_of("CONJ_AB", 1), run_dir)
    trace_path(run_dir, 1, "BROKEN").write_bytes(b"not gzip at all")
    write_old_schema(run_dir, "ANCIENT", 1)
    return run_dir


def export_with_cli(source: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """`python -m experiments.end_to_end.visualise <source> --html <out>`, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "experiments.end_to_end.visualise", str(source), "--html", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )

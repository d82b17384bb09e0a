"""A separable toy set for the goal model: a goal containing the constant T is provable, one
containing F is not. Each theorem's root is a conjunction whose three subgoals are proved (T)
or fail (F); traces are written by the real trace writer, one corrupt file beside them."""

from __future__ import annotations

import functools
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from data.proof_tree import ErrorKind, Goal, ProofTree
from data.traces.files import write_trace
from data.traces.schema import ProofTrace, Timings
from models.embeddings.vocabulary import Vocabulary

# A tiny model, so that each test builds and trains in seconds.
TINY_MODEL: dict[str, Any] = {
    "encoder": {"_target_": "models.embeddings.gnn.TermGraphEncoder", "dim": 16, "layers": 1},
    "hidden_dim": 16,
    "dropout": 0.0,
    "num_variable_names": 8,
}


@functools.cache
def tiny_model() -> dict[str, Any]:
    """TINY_MODEL with the database's vocabulary built once (it takes a second)."""
    return {**TINY_MODEL, "vocabulary": Vocabulary.from_database(None, 8).to_dict()}


NUM_THEOREMS = 40
HELD_OUT = ("V0", "V1")  # theorems of the "valid" split: never examples

_AND = '(c (fun (bool) (fun (bool) (bool))) "/\\\\")'
_EQ = "(c (fun (num) (fun (num) (bool))) =)"
_ATOMS = (
    "(v (bool) p)",
    "(v (bool) q)",
    "(a (c (fun (bool) (bool)) ~) (v (bool) r))",
    f"(a (a {_EQ} (v (num) x)) (v (num) y))",
)


def conj(terms: list[str]) -> str:
    term = terms[-1]
    for t in reversed(terms[:-1]):
        term = f"(a (a {_AND} {t}) {term})"
    return term


def toy_goal(rng: random.Random, name: str, provable: bool) -> Goal:
    """A conjunction of a few atoms, one marker (T or F) and an atom naming the goal (unique)."""
    marker = "(c (bool) T)" if provable else "(c (bool) F)"
    terms = rng.sample(_ATOMS, rng.randint(1, 3)) + [f"(a (a {_EQ} (v (num) {name})) (v (num) z))"]
    terms.insert(rng.randrange(len(terms) + 1), marker)
    return Goal(f"{name} {'T' if provable else 'F'}", conclusion_sexp=conj(terms))


def toy_trace(theorem_id: str, split: str, rng: random.Random) -> ProofTrace:
    """The root splits into three subgoals; each is proved (T) or fails (F) in one expansion."""
    subgoals = [toy_goal(rng, f"{theorem_id}g{j}", rng.random() < 0.35) for j in range(3)]
    root = Goal(theorem_id, conclusion_sexp=conj([s.conclusion_sexp or "" for s in subgoals]))
    tree = ProofTree(root)
    edge = tree.add_edge(tree.root, "CONJ_TAC", -0.5, subgoals=subgoals)
    for node, goal in zip(edge.dst, subgoals, strict=True):
        if goal.conclusion.endswith("T"):
            tree.add_edge(node, "ARITH_TAC", -0.1, subgoals=[])  # type: ignore[arg-type]
        else:
            tree.add_edge(node, "ARITH_TAC", -0.1, error=(ErrorKind.TACTIC_ERROR, "no"))  # type: ignore[arg-type]
            tree.mark_explored(node)  # type: ignore[arg-type]
    return ProofTrace.from_tree(
        theorem_id=theorem_id,
        theorem={"name": theorem_id, "split": split},
        environment={"name": "fake", "config": {}},
        tree=tree,
        status="proved" if tree.root.status.value == "proved" else "failed",
        iteration=0,
        search_trace=[],
        timings=Timings(),
        expansions=4,
        models={},
    )


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Small models on one thread (FACTS: two threads can be 100x slower); the session's back."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def goal_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run directory: NUM_THEOREMS train theorems, the HELD_OUT ones, one corrupt file."""
    run_dir = tmp_path_factory.mktemp("goal_run")
    rng = random.Random(0)
    for i in range(NUM_THEOREMS):
        write_trace(toy_trace(f"T{i:02d}", "train", rng), run_dir)
    for theorem in HELD_OUT:
        write_trace(toy_trace(theorem, "valid", rng), run_dir)
    (run_dir / "traces" / "0" / "BROKEN.json.gz").write_bytes(b"not a gzip file")
    return run_dir

"""Traces to training examples: the one set of labelling rules every model family learns by.

Each tactic application (an edge of a trace) gets a class:

- **proving**: the edge is proved (it closed its goal, or every subgoal it left was proved);
- **progress**: it left subgoals, but is not proved;
- **error**: a tactic error, no progress, a cycle, a rejected tactic and, unless
  ``timeouts_are_errors`` is off, a timeout. A process crash is never an error example: it is
  not the tactic's fault.

Of a goal's proving edges the **best** is the one with the shortest proof below it, ties to
the earliest (iteration, then edge order). Examples come from every trace, proved or not (an
unproved theorem's proved subgoals teach too); the same (goal, tactic) seen in several
attempts of a theorem makes one example, the most informative. Which splits train and which
theorems validate is the data module's business (`TraceDataModule`), not this module's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from data.proof_tree import Goal
from data.traces.schema import (
    EdgeRecord,
    ErrorNodeRecord,
    InternalNodeRecord,
    NodeRecord,
    ProofTrace,
)

EdgeClass = Literal["proving", "progress", "error"]
_ERRORS = frozenset({"tactic_error", "no_progress", "cycle", "rejected"})
_RANK: dict[str, int] = {"proving": 2, "progress": 1, "error": 0}


@dataclass(frozen=True)
class LabelRules:
    """The configurable part of the rules."""

    timeouts_are_errors: bool = True


@dataclass(frozen=True)
class EdgeExample:
    """One classified tactic application of one attempt.

    ``proof_length`` is the number of steps of the shortest proof the edge starts (proving
    edges only); ``best`` marks the goal's best proving edge over all the attempts given.
    """

    theorem_id: str
    iteration: int
    edge: int
    goal: Goal
    tactic: str
    kind: EdgeClass
    subgoals: tuple[Goal, ...] = ()
    proof_length: int | None = None
    best: bool = False
    theorem: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


def classify(edge: EdgeRecord, rules: LabelRules) -> EdgeClass | None:
    """The class of one edge, or None for an edge that teaches nothing (a process crash, or a
    timeout when timeouts are not errors)."""
    if edge.status == "proved":
        return "proving"
    if edge.outcome == "subgoals":
        return "progress"
    if edge.outcome == "tactic_timeout":
        return "error" if rules.timeouts_are_errors else None
    return "error" if edge.outcome in _ERRORS else None


def _distance(node: NodeRecord) -> float:
    if isinstance(node, InternalNodeRecord):
        return math.inf if node.distance_to_proof is None else node.distance_to_proof
    return math.inf if isinstance(node, ErrorNodeRecord) else 0.0


def trace_examples(trace: ProofTrace, rules: LabelRules | None = None) -> list[EdgeExample]:
    """Every classified edge of one attempt, in execution order, with each goal's best proving
    edge of this attempt marked."""
    rules = rules or LabelRules()
    examples: list[EdgeExample] = []
    for edge in trace.edges:
        kind = classify(edge, rules)
        source = trace.nodes[edge.src]
        if kind is None or not isinstance(source, InternalNodeRecord):
            continue
        targets = [trace.nodes[d] for d in edge.dst]
        length = 1 + sum(_distance(n) for n in targets) if kind == "proving" else None
        examples.append(
            EdgeExample(
                theorem_id=trace.theorem_id,
                iteration=trace.iteration,
                edge=edge.id,
                goal=source.goal.to_goal(),
                tactic=edge.tactic,
                kind=kind,
                subgoals=tuple(
                    n.goal.to_goal() for n in targets if isinstance(n, InternalNodeRecord)
                ),
                proof_length=None if length is None or math.isinf(length) else int(length),
                theorem=trace.theorem,
            )
        )
    return mark_best(examples)


def mark_best(examples: list[EdgeExample]) -> list[EdgeExample]:
    """``examples`` with ``best`` set on each (theorem, goal)'s shortest proving edge, ties to
    the earliest (iteration, edge), and cleared on every other."""
    best: dict[tuple[str, Any], tuple[int, int, int]] = {}
    for e in examples:
        if e.kind == "proving" and e.proof_length is not None:
            rank = (e.proof_length, e.iteration, e.edge)
            key = (e.theorem_id, e.goal.key)
            if key not in best or rank < best[key]:
                best[key] = rank
    return [
        replace(
            e,
            best=e.kind == "proving"
            and e.proof_length is not None
            and best.get((e.theorem_id, e.goal.key)) == (e.proof_length, e.iteration, e.edge),
        )
        for e in examples
    ]


def collect_examples(
    traces: Iterable[ProofTrace], rules: LabelRules | None = None
) -> dict[str, list[EdgeExample]]:
    """The examples of many attempts by theorem id, deduplicated by (goal, tactic) per theorem.

    Of duplicates one stays: proving over progress over error, then the shorter proof, then
    the earliest attempt. The best proving edge of a goal is chosen over all attempts.
    """
    kept: dict[tuple[str, Any, str], EdgeExample] = {}
    for trace in traces:
        for e in trace_examples(trace, rules):
            key = (e.theorem_id, e.goal.key, e.tactic)
            previous = kept.get(key)
            if previous is None or _preference(e) < _preference(previous):
                kept[key] = e
    by_theorem: dict[str, list[EdgeExample]] = {}
    ordered = sorted(kept.values(), key=lambda e: (e.theorem_id, e.iteration, e.edge))
    for e in mark_best(ordered):
        by_theorem.setdefault(e.theorem_id, []).append(e)
    return by_theorem


def _preference(e: EdgeExample) -> tuple[int, float, int, int]:
    length = math.inf if e.proof_length is None else e.proof_length
    return -_RANK[e.kind], length, e.iteration, e.edge

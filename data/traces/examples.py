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

Each goal (internal node) of an attempt gets a **goal label**, what the goal model (critic)
learns: **1** if it is proved; **0** if it is FAILED (explored, every tactic failed, none of
them by a process crash) or if it stayed OPEN after at least ``min_effort`` expansions over it
and its distinct descendants (a goal shared by two branches counts once); any other goal
teaches nothing. Over many attempts a goal (by `Goal.key`) is one example, and any proof of it
makes it a 1.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from data.proof_tree import Goal, Status
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


GoalStatus = Literal["proved", "failed", "open"]
DEFAULT_MIN_EFFORT = 4
"""Expansions under an open goal that make it a negative: with about 8 tactics an expansion and
tens of expansions an attempt, 4 expansions (some 30 tactic applications) without a proof."""


@dataclass(frozen=True)
class GoalExample:
    """One goal and whether it is provable (``label`` 1) or not (0).

    ``status`` says why: proved, failed, or open after ``effort`` expansions over the goal and
    its distinct descendants. Merged over attempts, ``theorem_id`` is the first (by id) of the
    theorems whose attempts met the goal, ``status`` the strongest evidence (proved, then
    failed, then open) and ``effort`` the most any one attempt spent on the goal.
    """

    theorem_id: str
    goal: Goal
    label: int
    effort: int
    status: GoalStatus


def goal_efforts(trace: ProofTrace) -> dict[int, int]:
    """For each internal node of ``trace`` (by id), the expansions over it and its distinct
    descendants.

    A node counts as expanded if a tactic ran on it or it was marked explored (an expansion
    cut short by a proof or by the budget is not marked). Each expanded node adds one to
    itself and to each of its distinct ancestors, so a descendant reached along two paths
    counts once: O(sum of the ancestor sets), where a summing pass over children would count a
    shared subgoal once per path.
    """
    internal = [n for n in trace.nodes if isinstance(n, InternalNodeRecord)]
    parents: dict[int, set[int]] = {}
    for edge in trace.edges:
        for d in edge.dst:
            if isinstance(trace.nodes[d], InternalNodeRecord):
                parents.setdefault(d, set()).add(edge.src)
    expanded = {e.src for e in trace.edges} | {n.id for n in internal if n.is_explored}
    effort = dict.fromkeys((n.id for n in internal), 0)
    for start in expanded:
        seen, stack = {start}, [start]
        while stack:
            for parent in parents.get(stack.pop(), ()):
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        for node in seen:
            effort[node] += 1
    return effort


def trace_goal_examples(
    trace: ProofTrace, min_effort: int = DEFAULT_MIN_EFFORT
) -> list[GoalExample]:
    """The labelled goals of one attempt, in node order (none for an attempt with status
    error: it did not run to an end)."""
    _check_min_effort(min_effort)
    if trace.status == "error":
        return []
    crashed = {e.src for e in trace.edges if e.outcome == "process_crash"}
    efforts = goal_efforts(trace)
    examples = []
    for node in trace.nodes:
        if not isinstance(node, InternalNodeRecord):
            continue
        effort = efforts[node.id]
        status: GoalStatus
        if node.status == Status.PROVED:
            status, label = "proved", 1
        elif node.status == Status.FAILED and node.id not in crashed:
            status, label = "failed", 0
        elif effort >= min_effort:
            # Open, or failed with a crash among its tactics (not the goal's fault): only
            # enough effort without a proof makes it a negative.
            status, label = "open", 0
        else:
            continue
        examples.append(GoalExample(trace.theorem_id, node.goal.to_goal(), label, effort, status))
    return examples


def goal_examples(
    traces: Iterable[ProofTrace], min_effort: int = DEFAULT_MIN_EFFORT
) -> list[GoalExample]:
    """The labelled goals of many attempts (theorems, iterations), one per `Goal.key`: any
    proof makes a goal a 1. Sorted by theorem id, then first appearance."""
    _check_min_effort(min_effort)
    merged: dict[Any, GoalExample] = {}
    for trace in traces:
        for e in trace_goal_examples(trace, min_effort):
            previous = merged.get(e.goal.key)
            merged[e.goal.key] = e if previous is None else _merge(previous, e)
    return sorted(merged.values(), key=lambda e: e.theorem_id)


_STRENGTH: dict[str, int] = {"proved": 2, "failed": 1, "open": 0}


def _merge(a: GoalExample, b: GoalExample) -> GoalExample:
    return GoalExample(
        theorem_id=min(a.theorem_id, b.theorem_id),
        goal=a.goal,
        label=max(a.label, b.label),
        effort=max(a.effort, b.effort),
        status=max(a.status, b.status, key=_STRENGTH.__getitem__),
    )


def _check_min_effort(min_effort: int) -> None:
    if isinstance(min_effort, bool) or not isinstance(min_effort, int) or min_effort < 1:
        raise ValueError(
            f"min_effort: must be an integer >= 1 (expansions over an open goal that make it "
            f"a negative), got {min_effort!r}"
        )
